"""What the benchmarks share: free loopback ports, and ``uacsta serve`` as a
subprocess on them with the settings a benchmark needs."""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

A = TypeVar("A")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def tree(pid: int) -> list[int]:
    """The process and its descendants (``serve --workers``: the supervisor,
    its workers and their nats-server)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_cpu_seconds(pid: int) -> float:
    total = 0.0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def tree_rss_kib(pid: int) -> int:
    total = 0
    for p in tree(pid):
        try:
            total += rss_kib(p)
        except (OSError, RuntimeError):
            continue
    return total


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class UacstaServer:
    """``uacsta serve`` on free loopback ports: phones on TCP ``tcp`` and TLS
    ``tls``, clients (``clients=True``) on HTTP ``http``.  ``log_level`` and
    ``keep_log`` (a file the log is copied to at stop) help read a run."""

    def __init__(
        self,
        workdir: Path,
        phone_password: str,
        *,
        client: tuple[str, str] | None = None,
        log_level: str = "WARNING",
        keep_log: str | None = None,
        settings: list[tuple[str, str]] | None = None,
        admin_password: str | None = None,
        serve_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.data = workdir / "uacsta"
        self.data.mkdir(parents=True)
        self.keep_log = keep_log
        self.tcp, self.tls, self.http = free_port(), free_port(), free_port()
        self.env = {
            **os.environ,
            "UACSTA_DATA_DIR": str(self.data),
            "UACSTA_HOST_NAME": "localhost",
            "UACSTA_MAX_CONNECTIONS_PER_SOURCE": "100000",
            "UACSTA_CONSOLE_LOG_LEVEL": "WARNING",
            "UACSTA_ADMIN_LISTEN": "",  # not measured
            **(env or {}),
        }
        self.admin = 0
        if admin_password is not None:  # the web UI, for the benchmarks that drive it
            self.admin = free_port()
            self.env["UACSTA_ADMIN_LISTEN"] = f"127.0.0.1:{self.admin}"
        settings = [
            *(settings or []),
            ("phone_connection.lan.address", "127.0.0.1"),
            ("phone_connection.lan.tcp_port", str(self.tcp)),
            ("phone_connection.lan.tls_port", str(self.tls)),
            ("client_connection.lan.http_port", str(self.http)),
            ("client_connection.lan.https_port", str(free_port())),
            ("client_connection.lan.tcp_port", str(free_port())),
            ("client_connection.lan.tls_port", str(free_port())),
            ("client_connection.lan.csta_tcp_port", str(free_port())),
            ("client_connection.lan.csta_tls_port", str(free_port())),
            ("diagnostics.log_level", log_level),
        ]
        for key, value in settings:
            self._cli("settings", "set", key, value)
        self._cli("password", "phone", "--password", phone_password)
        if client is not None:
            self._cli("password", "client", client[0], "--password", client[1])
        if admin_password is not None:
            self._cli("admin", "create", "admin", "--password", admin_password)
        self.out = self.data / "serve.out"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uacsta", "serve", *serve_args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.out.open("w"),
        )
        if "--workers" in serve_args:
            # every worker listening, not only the first one (the ports answer then)
            deadline = time.monotonic() + 120
            while "workers up" not in self.out.read_text():
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("the workers did not start: " + self.out.read_text())
                time.sleep(0.1)
        wait_port(self.http)
        wait_port(self.tls)
        if self.admin:
            wait_port(self.admin)

    def _cli(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "uacsta", *args], env=self.env, check=True, capture_output=True
        )

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(120)  # 10,000 phones reconnecting can keep it busy
        if self.keep_log:
            Path(self.keep_log).write_bytes((self.data / "logs" / "uacsta.log").read_bytes())


def against_server(
    run: Callable[[A, UacstaServer], Coroutine[Any, Any, None]],
    args: A,
    phone_password: str,
    **options: Any,
) -> None:
    """``run(args, server)`` against ``uacsta serve`` in a data folder of its
    own (``options`` as UacstaServer takes them), stopped afterwards."""
    raise_fd_limit()
    with tempfile.TemporaryDirectory() as tmp:
        server = UacstaServer(Path(tmp), phone_password, **options)
        try:
            asyncio.run(run(args, server))
        finally:
            server.stop()
