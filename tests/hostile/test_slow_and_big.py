"""Slow and big: slowloris, partial-body floods and connection floods against
a real server on loopback, with small limits so that the figures show in
seconds.  The phone next door stays controllable throughout."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import PHONE_PASSWORD, eventually, make_config, prepare_store
from uacsta.server import UacstaServer
from uacsta.sim.phone import SimPhone, SimPhoneConfig

HEAD = (
    b"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKa\r\n"
    b"Max-Forwards: 70\r\nFrom: <sip:000413000300@x>;tag=1\r\nTo: <sip:000413000300@x>\r\n"
    b"Call-ID: flood\r\nCSeq: 1 REGISTER\r\nContent-Length: 1048576\r\n\r\n"
)


@pytest.fixture
async def tight(tmp_path: Path) -> AsyncIterator[UacstaServer]:
    data = tmp_path / "data"
    await prepare_store(data)
    config = make_config(data).model_copy(
        update={
            "message_deadline": 2.0,
            "max_buffered_bytes": 4 * 1024 * 1024,
            "max_connections": 120,
        }
    )
    server = UacstaServer(config)
    await server.start()
    yield server
    await server.stop()


async def neighbour(server: UacstaServer) -> SimPhone:
    assert server.phones is not None
    phone = SimPhone(
        SimPhoneConfig(
            "snom",
            "000413000777",
            ["sip:777@pbx"],
            PHONE_PASSWORD,
            "127.0.0.1",
            server.phones.port("lan", "TCP"),
        )
    )
    await phone.start()
    assert server.sessions is not None
    await eventually(lambda: server.sessions.controllable(phone.mac))
    return phone


async def test_slowloris_is_closed_by_the_message_deadline(tight: UacstaServer) -> None:
    """Probe 5: one byte every 25 s kept 50 of 50 connections open for 300 s."""
    assert tight.phones is not None and tight.sessions is not None
    phone = await neighbour(tight)
    port = tight.phones.port("lan", "TCP")
    streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(50)]
    try:
        for _, writer in streams:
            writer.write(b"REGISTER sip:127.0.0.1 ")
        closed: set[int] = set()

        async def trickle() -> None:
            for _ in range(10):  # bounded: one byte a second, ten at the most
                await asyncio.sleep(1.0)
                for i, (_, writer) in enumerate(streams):
                    if i not in closed and not writer.is_closing():
                        writer.write(b"S")

        trickling = asyncio.get_running_loop().create_task(trickle())

        async def all_closed() -> bool:
            for i, (reader, _) in enumerate(streams):
                if i not in closed and reader.at_eof():
                    closed.add(i)
            return len(closed) == len(streams)

        for reader, _ in streams:  # read so that EOF is noticed
            asyncio.get_running_loop().create_task(reader.read(100))
        await eventually(all_closed, timeout=2.0 + 1.0 + 3.0)  # deadline + sweep + margin
        trickling.cancel()
        assert tight.sessions.controllable(phone.mac)
        assert tight.phones.refused["deadline"] == 50
    finally:
        for _, writer in streams:
            writer.close()
        await phone.stop()


async def test_partial_bodies_are_held_within_the_budget(
    tight: UacstaServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Probe 6: 1,000 connections each holding a 1 MiB body took RSS from 155 to
    1,232 MiB.  Here 100 connections offer 100 MiB of bodies against a 4 MiB
    budget: the process grows by a few MiB, and the refusals are one line."""
    assert tight.phones is not None and tight.sessions is not None
    caplog.set_level(logging.WARNING, logger="uacsta")
    phone = await neighbour(tight)
    port = tight.phones.port("lan", "TCP")
    me = psutil.Process(os.getpid())
    before = me.memory_info().rss
    peak = before
    writers = []
    try:
        for _ in range(100):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(HEAD + b"x" * (1024 * 1024 - 1))  # all but the last byte
            writers.append(writer)
        for _ in range(20):  # bounded: the server reads what it is sent
            await asyncio.sleep(0.1)
            peak = max(peak, me.memory_info().rss)
        await eventually(lambda: tight.phones.buffered_bytes <= 4 * 1024 * 1024)
        grew = (peak - before) / 2**20
        print(f"RSS grew {grew:.1f} MiB under 100 MiB of partial bodies (budget 4 MiB)")
        assert grew < 64
        assert tight.phones.refused["buffered"] >= 90
        lines = [r for r in caplog.records if "max_buffered_bytes" in r.getMessage()]
        assert len(lines) == 1  # one source: one line a minute, with a count after
        assert tight.sessions.controllable(phone.mac)
    finally:
        for writer in writers:
            writer.close()
        await phone.stop()
    await eventually(lambda: tight.phones.buffered_bytes == 0)


async def test_the_connection_cap_holds_and_says_so_once(
    tight: UacstaServer, caplog: pytest.LogCaptureFixture
) -> None:
    assert tight.phones is not None
    caplog.set_level(logging.WARNING, logger="uacsta")
    port = tight.phones.port("lan", "TCP")
    streams = []
    try:
        for _ in range(150):  # bounded: 30 more than the cap of 120
            streams.append(await asyncio.open_connection("127.0.0.1", port))
        await eventually(lambda: tight.phones.refused["connections"] == 30)
        assert len(tight.phones.connections) == 120
        lines = [r for r in caplog.records if "max_connections)" in r.getMessage()]
        assert len(lines) == 1
    finally:
        for _, writer in streams:
            writer.close()


@pytest.mark.both_loops
async def test_half_open_tls_handshakes_count_and_time_out(tmp_path: Path) -> None:
    """Probe 6: half-open TLS handshakes did not count against the per-source
    cap (5,000 accepted from one address, +200 MiB)."""
    data = tmp_path / "data"
    await prepare_store(data)
    config = make_config(data).model_copy(
        update={"max_connections_per_source": 20, "tls_handshake_timeout": 1.0}
    )
    server = UacstaServer(config)
    await server.start()
    streams = []
    try:
        assert server.phones is not None
        port = server.phones.port("lan", "TLS")
        for _ in range(30):  # TCP connects that never send a ClientHello
            streams.append(await asyncio.open_connection("127.0.0.1", port))
        await eventually(lambda: server.phones.refused["per-source"] == 10)
        assert len(server.phones.connections) == 20
        # the handshake timeout frees their places
        await eventually(lambda: not server.phones.connections, timeout=5)
        phone = await neighbour(server)  # the address is usable again
        await phone.stop()
    finally:
        for _, writer in streams:
            writer.close()
        await server.stop()


async def test_csta_over_tcp_slow_frames_and_idle_connections_are_closed(
    tight: UacstaServer,
) -> None:
    """The CSTA listener shares the SIP listeners' limits: a frame that does
    not complete within the message deadline closes its connection, and a
    flood of frames that make no sense closes theirs, while a CTI client with
    a session goes on."""
    from tests.conftest import CLIENT_LOGIN, CLIENT_PASSWORD
    from tests.helpers import cstatcp as x
    from tests.helpers.cstatcp import CstaTcpClient

    csta = tight.client_service.csta
    port = csta.port("lan", "TCP")
    good = CstaTcpClient()
    await good.connect(port)
    started = await good.request(x.start_session(CLIENT_LOGIN, CLIENT_PASSWORD, [x.ED[5]]))
    assert started.name == "StartApplicationSessionPosResponse"
    slow = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
    broken = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
    try:
        for _, writer in slow:
            writer.write(b"\x00\x00\x04\x000001<MonitorStart")  # 1 KiB promised
        for _, writer in broken:
            writer.write(b"GET / HTTP/1.1\r\n\r\n")  # not a frame
        readers = [r for r, _ in slow + broken]
        for reader in readers:
            asyncio.get_running_loop().create_task(reader.read(100))
        await eventually(lambda: all(r.at_eof() for r in readers), timeout=2.0 + 1.0 + 3.0)
        assert csta.refused["deadline"] == 20
        # the client with a session is still served
        answer = await good.request(x.csta(5, "GetSwitchingFunctionDevices", ""))
        assert answer.name == "GetSwitchingFunctionDevicesResponse"
    finally:
        for _, writer in slow + broken:
            writer.close()
        await good.close()
