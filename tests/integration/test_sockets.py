"""Every connection the server accepts has Nagle's algorithm off
(TCP_NODELAY): with it on, a small write after a small read waits for the
peer's delayed ACK, 40 ms on Linux (what set the relay's p99 after every
WebSocket ping; bench/README.md)."""

from __future__ import annotations

import asyncio
import socket

from tests.conftest import eventually
from uacsta.net.sip_service import bind
from uacsta.server import UacstaServer


def nodelay(sock: socket.socket | None) -> int:
    assert sock is not None
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


async def test_the_phone_and_csta_listeners_accept_without_nagle(server: UacstaServer) -> None:
    assert server.phones is not None
    services = {
        "phones": (server.phones, server.phones.port("lan", "TCP")),
        "CSTA": (server.client_service.csta, server.client_service.csta.port("lan", "TCP")),
        "client SIP": (server.client_service.sip, server.client_service.sip.port("lan", "TCP")),
    }
    for name, (service, port) in services.items():
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            await eventually(lambda service=service: len(service.connections) == 1)
            (conn,) = service.connections
            assert conn.transport is not None
            assert nodelay(conn.transport.get_extra_info("socket")) == 1, name
        finally:
            writer.close()
        await eventually(lambda service=service: not service.connections)


async def test_every_listener_made_by_bind_hands_asyncio_a_tcp_socket() -> None:
    """The HTTP listeners (client API, admin UI) are made by the same bind()."""
    listener = bind("test", "127.0.0.1", 0)
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def on_connection(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        accepted.set_result(nodelay(w.get_extra_info("socket")))
        w.close()

    server = await asyncio.start_server(on_connection, sock=listener)
    try:
        port = listener.getsockname()[1]
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(accepted, 5) == 1
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
