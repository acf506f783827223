"""sd_notify: READY, WATCHDOG and STOPPING reach the service manager's
socket (a real datagram socket here, as systemd's)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from uacsta.net.systemd import Notifier


def listener(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(5)
    return sock


async def receive(sock: socket.socket) -> str:
    data = await asyncio.get_running_loop().run_in_executor(None, sock.recv, 4096)
    return data.decode()


async def test_ready_watchdog_and_stopping(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    with listener(path) as sock:
        notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})
        assert notifier.enabled and notifier.watchdog == 0.1
        notifier.ready("running")
        assert await receive(sock) == "READY=1\nSTATUS=running"
        assert await receive(sock) == "WATCHDOG=1"
        assert await receive(sock) == "WATCHDOG=1"  # again, every half period
        await notifier.stopping()
        messages = [await receive(sock)]
        while messages[-1] != "STOPPING=1":
            messages.append(await receive(sock))
        assert set(messages) <= {"WATCHDOG=1", "STOPPING=1"}


async def test_an_abstract_socket_name() -> None:
    name = f"uacsta-test-{id(object())}"
    with listener("\0" + name) as sock:
        Notifier({"NOTIFY_SOCKET": "@" + name}).send("READY=1")
        assert await receive(sock) == "READY=1"


def test_without_a_service_manager_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert not notifier.enabled and notifier.watchdog == 0.0
    notifier.send("READY=1")  # no socket, no error


def test_a_watchdog_meant_for_another_process_is_not_kept() -> None:
    notifier = Notifier(
        {"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}
    )
    assert notifier.watchdog == 0.0
