"""The service manager's notification socket (sd_notify(3)): READY=1 once
every listener is up, WATCHDOG=1 while the event loop runs, STOPPING=1 at
the end.  Without NOTIFY_SOCKET (not started by systemd) it does nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

log = logging.getLogger("uacsta.server")


class Notifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        # "@name" is an abstract socket: a NUL byte first (sd_notify(3))
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        # half the period, as sd_watchdog_enabled(3) advises
        self.watchdog = int(usec) / 2e6 if usec.isdigit() and mine and int(usec) > 0 else 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, state: str) -> None:
        if not self.address:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(state.encode(), self.address)
        except OSError as exc:
            log.warning("cannot notify the service manager (%s): %s", state, exc)

    def ready(self, status: str) -> None:
        self.send(f"READY=1\nSTATUS={status}")
        if self.watchdog and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._keep_alive())

    async def _keep_alive(self) -> None:
        # Sent from the event loop itself: a loop that hangs stops them.
        while True:
            self.send("WATCHDOG=1")
            await asyncio.sleep(self.watchdog)

    async def stopping(self) -> None:
        self.send("STOPPING=1")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
