"""The wheel, as a package user gets it: built from this checkout, installed
into a new virtual environment (runtime dependencies only), started on a data
folder that does not exist yet with its ports from ``initial_settings``; a
simulated phone registers and gets its uaCSTA dialog; the server stops."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.process import free_port
from uacsta.sim.phone import SimPhone, SimPhoneConfig

pytestmark = pytest.mark.interop
ROOT = Path(__file__).resolve().parents[2]
MAC = "000413000777"


def uv() -> str:
    # `uv run` names itself in UV; else the one on PATH
    found = os.environ.get("UV") or shutil.which("uv")
    assert found, "uv is not to be found (UV unset, none on PATH)"
    return found


def run(*args: str | Path, timeout: float = 300, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.timeout(600)
def test_the_wheel_installs_and_runs(tmp_path: Path) -> None:
    run(uv(), "build", "--wheel", "--out-dir", tmp_path / "dist", ROOT)
    (wheel,) = (tmp_path / "dist").glob("uacsta-*.whl")
    venv = tmp_path / "venv"
    run(uv(), "venv", "--no-project", "--python", sys.executable, venv)
    run(uv(), "pip", "install", "--python", venv / "bin" / "python", wheel)
    python = venv / "bin" / "python"
    # what the package needs to run, and nothing of the tests
    for tool in ("pytest", "mypy", "playwright", "ruff"):
        probe = subprocess.run([python, "-c", f"import {tool}"], capture_output=True, check=False)
        assert probe.returncode != 0, f"{tool} came with the wheel"

    phone_port, admin_port = free_port(), free_port()
    settings = tmp_path / "initial.toml"
    settings.write_text(
        f'[phone_connection.lan]\naddress = "127.0.0.1"\ntcp_port = {phone_port}\n'
        'tls_port = "off"\n\n'
        f'[client_connection.lan]\naddress = "127.0.0.1"\ntcp_port = {free_port()}\n'
        f'tls_port = "off"\nhttp_port = {free_port()}\nhttps_port = "off"\n\n'
        '[provisioning]\nhttp_port = "off"\n'
    )
    data = tmp_path / "not" / "there" / "yet"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "UACSTA_DATA_DIR": str(data),
        "UACSTA_INITIAL_SETTINGS": str(settings),
        "UACSTA_ADMIN_LISTEN": f"127.0.0.1:{admin_port}",
        "UACSTA_HOST_NAME": "localhost",
    }
    out = tmp_path / "serve.out"
    with out.open("w") as log:
        server = subprocess.Popen(
            [venv / "bin" / "uacsta", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while "uacsta is running" not in out.read_text():
            assert server.poll() is None, out.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.1)
        summary = out.read_text()
        assert f"TCP 127.0.0.1:{phone_port}" in summary, summary
        assert (data.stat().st_mode & 0o777) == 0o700
        found = re.search(r"Phone password \([^)]*\): (\S+)", summary)
        assert found, summary
        password = found.group(1)

        async def register() -> bool:
            phone = SimPhone(
                SimPhoneConfig(
                    "snom", MAC, ["sip:777@pbx.example"], password, "127.0.0.1", phone_port
                )
            )
            try:
                response = await phone.start()
                assert response.status == 200
                for _ in range(100):  # the server opens the uaCSTA dialog
                    if phone.dialog is not None:
                        return True
                    await asyncio.sleep(0.05)
                return False
            finally:
                await phone.stop()

        assert asyncio.run(register()), "no uaCSTA dialog from the installed server"
        # the telephone list is written behind, within a second
        deadline = time.monotonic() + 15
        while True:
            listed = run(venv / "bin" / "uacsta", "phones", "list", "--json", timeout=60, env=env)
            macs = [p["mac"] for p in json.loads(listed)]
            if macs or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert macs == [MAC]
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert server.returncode == 0, out.read_text()
    assert "uacsta stopped" in out.read_text()
