"""HTTP(S) listeners for an ASGI application (the JSON client API, the admin
UI): uvicorn servers on sockets we bind ourselves, so that a port in use gives
the same clear error as the SIP listeners and port 0 reports the port chosen."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Generator
from typing import Any

import uvicorn

from .sip_service import ListenerError, Listening, bind

log = logging.getLogger("uacsta.net")
# A client that stops reading is noticed by its event queue (and closed) once
# this much is in flight, instead of after the MiBs of an autotuned buffer.
SEND_BUFFER = 128 * 1024


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The uacsta process handles its signals itself.
        yield


class HttpService:
    def __init__(self, side: str, app: Any, *, share_ports: bool = False) -> None:
        self.side = side
        self.share_ports = share_ports  # see sip_service.bind
        self.app = app
        self.listening: list[Listening] = []
        self._servers: list[tuple[_Server, asyncio.Task[None]]] = []

    async def listen(
        self, iface: str, kind: str, host: str, port: int, tls: ssl.SSLContext | None
    ) -> None:
        name = f"{self.side} {iface.upper()} {kind}"
        factory = None
        if kind == "HTTPS":
            if tls is None:
                raise ListenerError(f"{name}: no TLS certificate loaded")
            context = tls

            def factory(_config: uvicorn.Config, _default: Any) -> ssl.SSLContext:
                return context

        sock = bind(name, host, port, send_buffer=SEND_BUFFER, share=self.share_ports)
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="websockets-sansio",
            # Events are small and many: compressing each costs more CPU and
            # latency than it saves on a LAN.
            ws_per_message_deflate=False,
            ws_ping_interval=20.0,
            ws_ping_timeout=20.0,
            timeout_graceful_shutdown=2,
            ssl_context_factory=factory,
        )
        server = _Server(config)
        task = asyncio.get_running_loop().create_task(
            server.serve(sockets=[sock]), name=f"http-{name}"
        )
        while not server.started:
            if task.done():
                sock.close()
                exc = task.exception()
                raise ListenerError(f"{name}: could not start ({exc!r})")
            await asyncio.sleep(0.01)
        bound = sock.getsockname()
        self._servers.append((server, task))
        self.listening.append(Listening(name, iface, kind, host, int(bound[1])))
        log.info("%s listening on %s port %d", name, host, bound[1])

    def port(self, interface: str, kind: str) -> int:
        for item in self.listening:
            if item.interface == interface and item.transport == kind:
                return item.port
        raise KeyError((interface, kind))

    @property
    def running(self) -> bool:
        return bool(self._servers)

    async def stop(self) -> None:
        for server, _ in self._servers:
            server.should_exit = True
        for _, task in self._servers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._servers.clear()
        self.listening.clear()
