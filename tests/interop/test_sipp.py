"""Interop with independent SIP implementations: sipp (Debian sip-tester)
registering with digest over TCP, and over TLS through stunnel4."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers.process import UacstaProcess, free_port, require
from tests.interop.conftest import PASSWORD

pytestmark = pytest.mark.interop
SCENARIOS = Path(__file__).parent / "scenarios"


def sipp(port: int, scenario: str, mac: str, password: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            require("sipp"),
            f"127.0.0.1:{port}",
            "-t",
            "t1",
            "-sf",
            str(SCENARIOS / scenario),
            "-s",
            mac,
            "-au",
            mac,
            "-ap",
            password,
            "-m",
            "1",
            "-nostdin",
            "-i",
            "127.0.0.1",
            "-timeout",
            "20s",
            "-timeout_error",
        ],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_status(proc: UacstaProcess, mac: str, status: str) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for phone in proc.phones():
            if phone["mac"] == mac and phone["status"] == status:
                return phone
        time.sleep(0.3)
    raise AssertionError(f"{mac} never {status}: {proc.phones()}\n{proc.output()}")


def test_sipp_registers_over_tcp(uacsta: UacstaProcess, tmp_path: Path) -> None:
    run = sipp(uacsta.tcp_port, "register.xml", "001565AABBCC", PASSWORD, tmp_path)
    phone = wait_for_status(uacsta, "001565AABBCC", "registered")  # during sipp's pause
    assert phone["vendor"] == "yealink" and phone["model"] == "SIP-T54W"
    assert phone["last_ip"] == "127.0.0.1" and phone["enabled"] is True
    out, _ = run.communicate(timeout=30)
    assert run.returncode == 0, out
    wait_for_status(uacsta, "001565AABBCC", "offline")  # sipp closed its connection


def test_sipp_registers_over_tls_through_stunnel(uacsta: UacstaProcess, tmp_path: Path) -> None:
    local = free_port()
    conf = tmp_path / "stunnel.conf"
    conf.write_text(
        "foreground = yes\npid =\n[sip-tls]\nclient = yes\n"
        f"accept = 127.0.0.1:{local}\nconnect = 127.0.0.1:{uacsta.tls_port}\n"
        f"CAfile = {uacsta.data_dir / 'certs' / 'ca.pem'}\n"
        "verifyChain = yes\ncheckHost = localhost\n"
    )
    tunnel = subprocess.Popen(
        [require("stunnel4"), str(conf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        time.sleep(0.5)
        run = sipp(local, "register.xml", "000413AABBCC", PASSWORD, tmp_path)
        phone = wait_for_status(uacsta, "000413AABBCC", "registered")
        out, _ = run.communicate(timeout=30)
        assert run.returncode == 0, out
    finally:
        tunnel.terminate()
        tunnel_out = tunnel.communicate(timeout=10)[0]
    rows = {p["mac"]: p for p in uacsta.phones()}
    assert "000413AABBCC" in rows, tunnel_out
    assert phone["vendor"] == "yealink"
    # The server saw TLS: its log says so for this phone.
    assert "000413AABBCC registered from 127.0.0.1" in uacsta.output()
    assert "over TLS" in uacsta.output()


def test_sipp_wrong_password_is_not_logged_in(uacsta: UacstaProcess, tmp_path: Path) -> None:
    run = sipp(uacsta.tcp_port, "register_wrong.xml", "000952AABBCC", "wrong", tmp_path)
    out, _ = run.communicate(timeout=30)
    assert run.returncode == 0, out  # the scenario expects the second 401
    assert all(p["mac"] != "000952AABBCC" for p in uacsta.phones())
