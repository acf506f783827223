"""A client session resumes on another node of the cluster (real nats-server
on loopback): the events its first node numbered come again under their
numbers, its monitors come back with their monitorCrossRefIDs, and what its
devices did while no node served it comes from their streams; nothing is
lost or twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import CLIENT_LOGIN, CLIENT_PASSWORD, eventually
from tests.helpers.nats import NatsServer
from tests.helpers.typed_client import CstaError, Event, UacstaClient
from tests.integration.switching import ws_url
from tests.integration.test_cluster import (
    SNOM,
    YEALINK,
    Recorder,
    client_at,
    nats_server,
    nodes,
    phone_at,
    process_node,
    start_node,
    until_at,
    watch,
)
from uacsta.csta import model as m
from uacsta.server import UacstaServer
from uacsta.sim.switch import SimSwitch

__all__ = ["nats_server", "nodes"]  # the fixtures, shared with test_cluster


def dnd_at(events: list[Event], xref: str) -> list[bool | None]:
    return [
        e.csta.doNotDisturbOn
        for e in events
        if isinstance(e.csta, m.DoNotDisturbEvent) and e.csta.monitorCrossRefID == xref
    ]


async def watch_when_known(client: UacstaClient, device: str, timeout: float = 15.0) -> str:
    """Monitor a device once the client's node has heard of it from the
    directory (a process node: the test cannot look inside it)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                return await watch(client, device)
            except CstaError:
                await asyncio.sleep(0.1)  # not in that node's directory yet


def counted_up(events: list[Event], first: int) -> bool:
    return [e.seq for e in events] == list(range(first, first + len(events)))


async def test_a_session_moves_to_another_node_and_loses_nothing(
    nodes: list[UacstaServer],
) -> None:
    """The client of node a leaves without logging out; while away, both its
    devices change (201 is node a's phone, 202 node b's); it resumes on node
    b.  Node a lets the session go; node b sends what node a had numbered,
    under the same numbers, restores both monitors, and carries on."""
    a, b = nodes
    switch = SimSwitch()
    snom, yealink = phone_at(a, SNOM, switch), phone_at(b, YEALINK, switch)
    await snom.start()
    await yealink.start()
    moving = await client_at(a)
    other = await client_at(b)
    resumed: UacstaClient | None = None
    try:
        for node in nodes:
            cluster = node.cluster
            assert cluster is not None
            await eventually(
                lambda c=cluster: c.controllable(SNOM[1]) and c.controllable(YEALINK[1]), 10
            )
        x201 = await watch(moving, "201")
        x202 = await watch(moving, "202")
        await other.set_dnd("202", True)
        seen = await until_at(moving, m.DoNotDisturbEvent, x202)
        session, seq = moving.link.session, moving.link.last_seq
        assert session is not None and seq == seen.seq
        await moving.leave()
        kept = a.switching.clients[session]
        await eventually(lambda: not kept.attached)
        for on in (False, True):
            await other.set_dnd("202", on)
            await other.set_dnd("201", on)
        await eventually(lambda: kept.queued >= 4)
        resumed = UacstaClient(ws_url(b), CLIENT_LOGIN, CLIENT_PASSWORD)
        resumed.link.session, resumed.link.last_seq = session, seq
        await resumed.link.connect(resume=True)
        rec = Recorder(resumed)
        await eventually(lambda: len(rec.at(x201, m.BackInServiceEvent)) == 1, 10)
        await eventually(lambda: len(rec.at(x202, m.BackInServiceEvent)) == 1, 10)
        await other.set_dnd("202", False)
        await rec.wait(x202, m.DoNotDisturbEvent, 3)
        # the four from node a under their numbers, then the restored monitors,
        # then the live one: counted up by one from where the client was
        assert counted_up(rec.seen, seq + 1)
        assert dnd_at(rec.seen[:4], x201) == [False, True]
        assert dnd_at(rec.seen[:4], x202) == [False, True]
        assert dnd_at(rec.seen, x202) == [False, True, False]
        assert dnd_at(rec.seen, x201) == [False, True]
        # node a has let it go; node b has it, with its monitorCrossRefIDs
        assert session not in a.switching.clients and session in b.switching.clients
        assert b.cluster is not None and a.cluster is not None
        assert b.cluster.status()["sessions_taken_over"] == 1
        assert a.cluster.status()["sessions_handed_over"] == 1
        await rec.stop()
    finally:
        await other.close()
        if resumed is not None:
            await resumed.close()
        await snom.stop()
        await yealink.stop()


async def test_after_kill_9_of_its_node_a_session_resumes_on_another(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    """Node a is a real process, killed with SIGKILL while its client watches
    202 (a phone of node b).  The client library tries its other node; node b
    takes the session over from what node a left in NATS, and the DND changes
    of 202 made while no node served the client come from 202's stream:
    every one once, in order."""
    a = await process_node(tmp_path, "a", nats_server.url)
    b = await start_node(tmp_path, "b", nats_server.url)
    switch = SimSwitch()
    yealink = phone_at(b, YEALINK, switch)
    await yealink.start()
    other = await client_at(b)
    moving = UacstaClient(
        f"ws://127.0.0.1:{a.client_http_port}/api/v1/ws",
        CLIENT_LOGIN,
        CLIENT_PASSWORD,
        other_urls=[ws_url(b)],
    )
    rec: Recorder | None = None
    try:
        assert b.cluster is not None
        cluster = b.cluster
        await eventually(lambda: cluster.view.alive("a"), 15)
        await moving.connect()
        x202 = await watch_when_known(moving, "202")
        await other.set_dnd("202", True)
        await until_at(moving, m.DoNotDisturbEvent, x202)
        first = moving.link.last_seq + 1
        rec = Recorder(moving)
        a.kill()
        for on in (False, True, False):
            await other.set_dnd("202", on)
        await rec.wait(x202, m.DoNotDisturbEvent, 3, timeout=20)
        await eventually(lambda: len(rec.at(x202, m.BackInServiceEvent)) == 1, 10)
        assert dnd_at(rec.seen, x202) == [False, True, False]
        assert counted_up(rec.seen, first)
        assert moving.link.url == ws_url(b)
        # and live from node b after that
        await other.set_dnd("202", True)
        await rec.wait(x202, m.DoNotDisturbEvent, 4)
        assert dnd_at(rec.seen, x202) == [False, True, False, True]
        assert counted_up(rec.seen, first)
        assert cluster.status()["events_lost"] == 0
        assert cluster.status()["sessions_taken_over"] == 1
    finally:
        if rec is not None:
            await rec.stop()
        await moving.close()
        await other.close()
        await yealink.stop()
        await b.stop()
        a.stop()
