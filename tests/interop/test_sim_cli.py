"""`uacsta sim` against `uacsta serve`: two real processes, over TCP and TLS."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.process import UacstaProcess
from tests.interop.conftest import PASSWORD


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
def test_sim_command(uacsta: UacstaProcess, tls: bool) -> None:
    port = uacsta.tls_port if tls else uacsta.tcp_port
    args = [
        sys.executable,
        "-m",
        "uacsta",
        "sim",
        "--server",
        f"127.0.0.1:{port}",
        "--phones",
        "12",
        "--duration",
        "4",
        "--password",
        PASSWORD,
        "--ramp",
        "50",
    ]
    if tls:
        args += ["--tls", "--ca", str(uacsta.data_dir / "certs" / "ca.pem")]
    result = subprocess.run(args, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "registered 12" in result.stdout and "uaCSTA dialogs up 12" in result.stdout
    phones = {p["mac"]: p for p in uacsta.phones()}
    assert {p["vendor"] for p in phones.values()} == {
        "snom",
        "yealink",
        "mitel",
        "poly",
        "auerswald",
        "gigaset",
    }
    assert "uaCSTA dialog with" in uacsta.output()


def test_sim_with_the_wrong_password_says_so(uacsta: UacstaProcess) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "uacsta",
            "sim",
            "--server",
            f"127.0.0.1:{uacsta.tcp_port}",
            "--phones",
            "2",
            "--duration",
            "0.5",
            "--password",
            "wrong",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "registered 0" in result.stdout and "refused 2" in result.stdout
