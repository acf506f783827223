"""Run the real ``uacsta`` command as a subprocess on free loopback ports."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_GIVEN: set[int] = set()


def free_port() -> int:
    """A free loopback port, never one handed out before in this run: the
    kernel may give a just-released port again, and two settings on one
    port are refused (a test asks for seven at a time)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise AssertionError(
            f"{binary} is not installed: .ci/run installs it (apt-get install sip-tester stunnel4)"
        )
    return path


class UacstaProcess:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.admin_port = free_port()
        self.env = {
            **os.environ,
            "UACSTA_DATA_DIR": str(data_dir),
            "UACSTA_HOST_NAME": "localhost",
            "UACSTA_ADMIN_LISTEN": f"127.0.0.1:{self.admin_port}",
        }
        self.proc: subprocess.Popen[str] | None = None
        self.tcp_port = free_port()
        self.tls_port = free_port()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "uacsta", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"uacsta {' '.join(args)} failed: {result.stderr}")
        return result

    def configure_cli(self, *args: str) -> None:
        """A configuring command through the real CLI code, in this process:
        the server under test starts in about two seconds instead of paying an
        interpreter start per setting (the CLI as a subprocess has tests of
        its own in test_cli.py)."""
        import asyncio

        from click.testing import CliRunner

        from uacsta.cli import main

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:  # an async test: the CLI runs its own event loop, so in a process
            self.cli(*args)
            return
        env = {k: v for k, v in self.env.items() if k.startswith("UACSTA_")}
        result = CliRunner().invoke(main, list(args), env=env)
        if result.exit_code != 0:
            raise AssertionError(
                f"uacsta {' '.join(args)} failed: {result.output} {result.exception!r}"
            )

    def configure(self, password: str) -> None:
        self.configure_cli(
            "settings",
            "set",
            "phone_connection.lan.address",
            "127.0.0.1",
            "phone_connection.lan.tcp_port",
            str(self.tcp_port),
            "phone_connection.lan.tls_port",
            str(self.tls_port),
        )
        self.configure_cli("password", "phone", "--password", password)

    def configure_clients(self, login: str, password: str) -> None:
        """Client connection on free loopback ports, and one client login."""
        self.client_sip_port, self.client_http_port = free_port(), free_port()
        self.client_csta_port = free_port()
        pairs = [
            ("address", "127.0.0.1"),
            ("tcp_port", str(self.client_sip_port)),
            ("tls_port", str(free_port())),
            ("http_port", str(self.client_http_port)),
            ("https_port", str(free_port())),
            ("csta_tcp_port", str(self.client_csta_port)),
            ("csta_tls_port", str(free_port())),
        ]
        args = [part for key, value in pairs for part in (f"client_connection.lan.{key}", value)]
        self.configure_cli("settings", "set", *args)
        self.configure_cli("password", "client", login, "--password", password)

    def start(self, *serve_args: str) -> None:
        log = open(self.data_dir / "serve.out", "w")  # noqa: SIM115 - lives with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uacsta", "serve", *serve_args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("uacsta serve exited: " + self.output())
            try:
                # the admin web UI opens last: every service is up then
                socket.create_connection(("127.0.0.1", self.admin_port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("uacsta serve did not start: " + self.output())

    def output(self) -> str:
        return (self.data_dir / "serve.out").read_text()

    def kill(self) -> None:
        """SIGKILL: the process ends without a word to anyone (a crashed machine)."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=15)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)

    def phones(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = json.loads(self.cli("phones", "list", "--json").stdout)
        return result
