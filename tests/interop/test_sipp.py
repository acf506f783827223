"""Interop with independent SIP implementations: sipp (Debian sip-tester)
registering with digest over TCP, and over TLS through stunnel4."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import psutil
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


def wait_listening(port: int, proc: subprocess.Popen[str]) -> None:
    """Until something listens on 127.0.0.1:``port`` (stunnel's accepting side)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        listening = {
            c.laddr[1]
            for c in psutil.net_connections(kind="tcp4")
            if c.status == psutil.CONN_LISTEN and c.laddr
        }
        if port in listening:
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


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
        wait_listening(local, tunnel)
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


async def test_sipp_as_a_cti_client_monitors_a_phone(tmp_path: Path) -> None:
    """sipp plays a uaCSTA-over-SIP client (digest INVITE, MonitorStart in INFO,
    BackInService as INFO, BYE) against `uacsta serve`, with a simulated phone
    registered."""
    import asyncio

    import httpx

    from uacsta.csta.model import MonitorStart, MonitorStop
    from uacsta.sim.phone import SimPhone, SimPhoneConfig

    proc = UacstaProcess(tmp_path / "data")
    proc.data_dir.mkdir()
    proc.configure(PASSWORD)
    proc.configure_clients("cti", "cti-Password-1")
    proc.start()
    phone = SimPhone(
        SimPhoneConfig(
            "snom", "000413000201", ["sip:201@pbx.example"], PASSWORD, "127.0.0.1", proc.tcp_port
        )
    )
    try:
        await phone.start()
        # the client API says when the phone's device is controllable
        url = f"http://127.0.0.1:{proc.client_http_port}/api/v1/devices"
        async with httpx.AsyncClient(auth=("cti", "cti-Password-1")) as http:
            for _ in range(100):
                if any(d["online"] for d in (await http.get(url)).json()):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("phone never controllable: " + proc.output())
        sipp_proc = await asyncio.create_subprocess_exec(
            require("sipp"),
            f"127.0.0.1:{proc.client_sip_port}",
            "-t",
            "t1",
            "-sf",
            str(SCENARIOS / "cti_client.xml"),
            "-s",
            "201",
            "-au",
            "cti",
            "-ap",
            "cti-Password-1",
            "-m",
            "1",
            "-nostdin",
            "-i",
            "127.0.0.1",
            "-timeout",
            "20s",
            "-timeout_error",
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await sipp_proc.communicate()
        assert sipp_proc.returncode == 0, out.decode() + proc.output()
        received = [type(r) for r in phone.received]
        assert MonitorStart in received
        for _ in range(50):  # the BYE stops the monitor in the phone
            if MonitorStop in [type(r) for r in phone.received]:
                break
            await asyncio.sleep(0.1)
        assert MonitorStop in [type(r) for r in phone.received]
    finally:
        await phone.stop()
        proc.stop()
