"""Faults around the switching function: phones that reboot or stop answering,
clients that leave or cannot keep up, and a server restart."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from pathlib import Path

import pytest

from tests.conftest import eventually, make_config, prepare_store
from tests.helpers.typed_client import CstaError, SessionLost
from tests.integration.switching import Lab, events, names, until
from uacsta.csta import model as m
from uacsta.server import UacstaServer
from uacsta.sim.phone import SimPhone


async def test_phone_reboot_mid_call_monitors_come_back_by_themselves(lab: Lab) -> None:
    client = await lab.client()
    xref = await client.monitor("201")
    await until(client, m.BackInServiceEvent)
    await client.make_call("201", "202")
    await events(client, 3)
    snom = lab.phones["snom"]
    await snom.stop()  # power cut: the connection goes, no BYE
    oos = await until(client, m.OutOfServiceEvent)
    assert oos.csta.monitorCrossRefID == xref  # type: ignore[attr-defined]
    with pytest.raises(CstaError, match="deviceOutOfService"):
        await client.make_call("201", "202")
    rebooted = SimPhone(snom.config)
    lab.switch.attach(rebooted)
    lab.phones["snom"] = rebooted
    await rebooted.start()
    back = await until(client, m.BackInServiceEvent)
    assert back.csta.monitorCrossRefID == xref  # type: ignore[attr-defined]
    assert rebooted.monitors  # restored in the phone without any client action
    await client.make_call("201", "202")
    assert names(await events(client, 3)) == [
        "ServiceInitiatedEvent",
        "OriginatedEvent",
        "DeliveredEvent",
    ]


@pytest.mark.client_connection(request_timeout=1.0)
async def test_phone_that_never_answers_gives_an_error_within_the_timeout(lab: Lab) -> None:
    client = await lab.client()
    lab.phones["yealink"].config.answer_requests = False
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(CstaError, match="deviceOutOfService"):
        await client.set_dnd("202", True)
    assert loop.time() - began < 3.0
    # the other phone and the same client go on
    await client.set_dnd("201", True)
    assert lab.phones["snom"].dnd


@pytest.mark.client_connection(resume_window=0)
async def test_client_that_disconnects_with_open_monitors_stops_them(lab: Lab) -> None:
    client = await lab.client()
    await client.monitor("201")
    await client.monitor("202")
    await eventually(lambda: lab.phones["snom"].monitors and lab.phones["yealink"].monitors)
    await client.leave()  # no logout, no reconnect: the connection just goes
    await eventually(lambda: not lab.phones["snom"].monitors and not lab.phones["yealink"].monitors)


def _raw_websocket(port: int, rcvbuf: int = 4096) -> socket.socket:
    """A WebSocket client that logs in and then never reads: a stuck CTI
    application.  The small receive buffer makes the server feel it soon."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    for payload in (
        b'{"op":"login","user":"crm","password":"s3cret-client-pw"}',
        b'{"op":"request","id":1,"csta":{"type":"MonitorStart",'
        b'"monitorObject":{"deviceObject":"201"}}}',
    ):
        assert len(payload) < 126
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    return sock


@pytest.mark.client_connection(max_queued_events=100)
async def test_slow_client_is_disconnected_and_stalls_nobody(lab: Lab) -> None:
    assert lab.server.client_api is not None and lab.server.switching is not None
    sf = lab.server.switching
    good = await lab.client()
    await good.monitor("201")
    await until(good, m.BackInServiceEvent)
    stuck = await asyncio.to_thread(_raw_websocket, lab.server.client_api.port("lan", "HTTP"))
    try:
        # the stuck client monitors the same device (asked before it stopped reading)
        point = sf.monitors.points["201@pbx.example"]
        await eventually(lambda: len(point.subscribers) == 2)
        slow = next(c for c in sf.clients.values() if c.id != good.session_id)
        snom = lab.phones["snom"]
        sent = received = 0

        async def consume() -> None:
            nonlocal received
            while True:
                ev = await good.next_event()
                assert isinstance(ev.csta, m.MessageWaitingEvent)
                assert ev.csta.messageWaitingOn is (received % 2 == 0)  # in order
                received += 1

        reader = asyncio.create_task(consume())
        # the phone keeps sending until the server gives up on the stuck client
        while slow.closed_because is None and sent < 20_000:
            snom.set_message_waiting(sent % 2 == 0)
            sent += 1
            if sent % 50 == 0:
                await asyncio.sleep(0.01)
        assert "too slow" in (slow.closed_because or "")
        # the good client gets every event, none lost, none stalled
        await eventually(lambda: received == sent, timeout=30)
        reader.cancel()
        await eventually(lambda: slow.id not in sf.clients)
    finally:
        stuck.close()


async def test_server_restart_phones_come_back_and_clients_start_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    await prepare_store(data)
    server = UacstaServer(make_config(data))
    await server.start()
    lab = Lab(server, ["snom", "yealink"])
    await lab.start()
    assert server.phones is not None and server.client_api is not None
    phone_port = server.phones.port("lan", "TCP")
    http_port = server.client_api.port("lan", "HTTP")
    client = await lab.client(reconnect_for=20.0)
    await client.monitor("201")
    await until(client, m.BackInServiceEvent)
    await server.stop()
    # the same ports again, as a restarted service would have
    from uacsta.settings import default_client_connection, default_phone_connection
    from uacsta.store import repo
    from uacsta.store.db import Database

    db = Database(f"sqlite+aiosqlite:///{data / 'uacsta.db'}")
    conn = default_phone_connection()
    conn.lan.address, conn.lan.tcp_port, conn.lan.tls_port = "127.0.0.1", phone_port, 0
    await repo.save_section(db, "phone_connection", conn)
    clients = default_client_connection()
    clients.lan.address, clients.lan.http_port = "127.0.0.1", http_port
    clients.lan.tcp_port = clients.lan.tls_port = clients.lan.https_port = 0
    clients.lan.csta_tcp_port = clients.lan.csta_tls_port = 0
    await repo.save_section(db, "client_connection", clients)
    await db.close()
    again = UacstaServer(make_config(data))
    await again.start()
    try:
        assert again.sessions is not None
        await eventually(
            lambda: all(again.sessions.controllable(p.mac) for p in lab.phones.values()),
            timeout=15,
        )
        # the old session is gone with the old process: the client hears so,
        # logs in again and starts its monitors anew
        with pytest.raises(SessionLost):
            async with asyncio.timeout(25):
                await client.next_event()
        await client.reconnect()
        await client.monitor("201")
        await until(client, m.BackInServiceEvent)
        await client.make_call("201", "202")
        assert names(await events(client, 3))[0] == "ServiceInitiatedEvent"
    finally:
        await lab.stop()
        await again.stop()
