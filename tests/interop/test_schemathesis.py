"""schemathesis (property-based API testing from the OpenAPI document) against
`uacsta serve`: whatever it sends, the admin API and the client API answer
without a server error (5xx)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.process import UacstaProcess
from tests.interop.conftest import PASSWORD

pytestmark = pytest.mark.interop


def schemathesis(url: str, auth: str, cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            url,
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "25",
            "--auth",
            auth,
            "--request-timeout",
            "10",
            "--seed",
            "1",
            *extra,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.timeout(900)
def test_no_server_errors_from_the_admin_and_client_apis(tmp_path: Path) -> None:
    proc = UacstaProcess(tmp_path / "data")
    proc.data_dir.mkdir()
    proc.configure(PASSWORD)
    proc.configure_clients("cti", "cti-Password-1")
    admin_port = proc.admin_port
    proc.cli("admin", "create", "admin", "--password", "admin-Password-1")
    proc.start()
    try:
        # the client API first: the admin API's run changes client logins
        client = schemathesis(
            f"http://127.0.0.1:{proc.client_http_port}/api/v1/openapi.json",
            "cti:cti-Password-1",
            tmp_path,
            # the event stream streams until the client leaves (its refusals and
            # its stream are in test_client_events)
            "--exclude-path-regex",
            "/api/v1/events",
        )
        assert client.returncode == 0, client.stdout[-6000:] + proc.output()[-3000:]
        admin = schemathesis(
            f"http://127.0.0.1:{admin_port}/api/openapi.json",
            "admin:admin-Password-1",
            tmp_path,
            # stopping the services would only make the rest of the run moot;
            # provisioning would send to whatever addresses it made up, and
            # tests talk to loopback and their own namespaces only (its
            # validation is tested in test_admin_api); the log follow streams
            # until the client leaves, longer than any request timeout (its
            # validation is in test_admin_api, its stream in test_cli); so does
            # a trace (test_observability)
            "--exclude-path-regex",
            "/api/services/.*|/api/provisioning/(find|push|delete)|/api/logs/follow|/api/trace",
        )
        assert admin.returncode == 0, admin.stdout[-6000:] + proc.output()[-3000:]
    finally:
        proc.stop()
