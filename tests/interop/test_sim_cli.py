"""`uacsta sim` against `uacsta serve`: two real processes, over TCP and TLS."""

from __future__ import annotations

import subprocess
import sys
import time

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
    # what it does, and why the phones failed
    assert "2 phones (" in result.stderr and f"against 127.0.0.1:{uacsta.tcp_port}" in result.stderr
    assert "2 phones: REGISTER answered 401 Unauthorized" in result.stderr, result.stderr


def test_sim_stopped_by_ctrl_c_still_reports(uacsta: UacstaProcess) -> None:
    import signal

    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uacsta",
            "sim",
            "--server",
            f"127.0.0.1:{uacsta.tcp_port}",
            "--phones",
            "3",
            "--password",
            PASSWORD,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert sim.stderr is not None
    line = ""
    deadline = time.monotonic() + 30
    while "3/3 phones started, 3 registered" not in line and time.monotonic() < deadline:
        line = sim.stderr.readline()  # the progress, every second
        assert line or sim.poll() is None, "the simulator ended"
    assert "3 registered" in line, line
    sim.send_signal(signal.SIGINT)
    out, err = sim.communicate(timeout=30)
    assert "interrupted: the phones were stopped" in err, err
    assert "phones started 3, registered 3" in out, out


def test_sim_control_interface(uacsta: UacstaProcess) -> None:
    """`uacsta sim --control`: a person's actions over HTTP on loopback."""
    import json
    import time
    import urllib.request

    from tests.helpers.process import free_port

    control = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uacsta",
            "sim",
            "--server",
            f"127.0.0.1:{uacsta.tcp_port}",
            "--phones",
            "2",
            "--vendors",
            "snom,yealink",
            "--duration",
            "20",
            "--password",
            PASSWORD,
            "--control",
            f"127.0.0.1:{control}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def call(method: str, path: str, body: object = None) -> object:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{control}{path}", data=data, method=method
        )
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                phones = call("GET", "/phones")
                assert isinstance(phones, list)
                if all(p["dialog"] for p in phones):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the control interface never came up"
            time.sleep(0.2)
        macs = {p["vendor"]: p["mac"] for p in phones}
        number = next(p["lines"][0] for p in phones if p["vendor"] == "yealink")
        dialled = call(
            "POST", f"/phones/{macs['snom']}/dial", {"to": number.split(":")[1].split("@")[0]}
        )
        assert isinstance(dialled, dict) and dialled["callID"].startswith("-")
        answered = call("POST", f"/phones/{macs['yealink']}/answer")
        assert isinstance(answered, dict) and answered["calls"][0]["state"] == "connected"
        dnd = call("PUT", f"/phones/{macs['yealink']}/dnd", {"on": True})
        assert isinstance(dnd, dict) and dnd["dnd"] is True
    finally:
        proc.terminate()
        proc.wait(30)
