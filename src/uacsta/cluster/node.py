"""One node of a cluster on NATS: it owns the phones registered with it and
lets clients on every node use them.

* **The directory** (JetStream key-value bucket ``uacsta_phones``): one entry
  per phone, key its MAC, written by the node that owns it whenever the
  phone's phase or identities change.  Every node watches the bucket; an entry
  counts while its node's heartbeat does (:mod:`.view`).
* **Heartbeats** (bucket ``uacsta_nodes``, entries expire after
  ``dead_after``): each node writes its own every ``dead_after / 3`` seconds;
  a node not heard of for ``dead_after`` is dead and its phones are out of
  service everywhere until they register with a node again.
* **Requests** to a phone of another node go by request/reply to
  ``uacsta.node.<owner>.request``.  The owner runs them through its own
  switching function on behalf of the asking node, as one client per peer
  node: the owner keeps the phone's single monitor, and a peer node counts as
  one watcher however many of its clients watch (its own monitor point counts
  them).
* **Events** of every monitored device go from its owner, once, to the
  device's own subject and stream (:mod:`.streams`), numbered; a node whose
  clients watch the device listens to that subject and relays them to its
  clients as if its own phone had sent them.  What the owner says to one
  node alone (a monitor it ended) goes to ``uacsta.events.<peer>.<owner>``.
* **Sessions** of JSON clients are kept in a stream too, so that a client
  resumes on any node (:mod:`uacsta.core.handover`).

Without a NATS URL none of this exists and the server is one process as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import itertools
import json
import logging
import ssl
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as Nats
from nats.aio.msg import Msg
from nats.js.api import KeyValueConfig
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from .. import __version__
from ..config import Config
from ..core.client_session import ClientClosed, ClientSession, FaceKind, Origin, ResumeError
from ..core.devices import Device, DeviceRights
from ..core.handover import Handover
from ..core.switching import ControlledPhone, LineView, SwitchingFunction
from ..csta import model as m
from ..csta.codec import DecodeError, decode, encode
from ..csta.errors import CSTAErrorCode
from ..csta.types import device_key
from ..dialog.core import CstaAnswer
from ..phones.lifecycle import Phase
from ..phones.phone_session import SessionError
from ..phones.session_manager import PhoneLine, SessionManager
from ..vendors import profile
from ..vendors.base import VendorProfile
from .streams import Streams, device_subject
from .view import NODE_NAME, ClusterView, EntryError, PhoneEntry, RemoteLine

log = logging.getLogger("uacsta.cluster")

PHONES_BUCKET = "uacsta_phones"
NODES_BUCKET = "uacsta_nodes"
NODE_HEADER = "Uacsta-Node"
SEQ_HEADER = "Uacsta-Seq"
# A peer node's client on the owner may hold many events: all its clients' monitors.
PEER_QUEUE = 200_000
WRITE_BATCH = 256  # directory writes in flight at once


STARTUP_ATTEMPTS = 4  # tries of each NATS URL before a node gives up starting
STARTUP_WITHIN = 10.0  # seconds


class ClusterError(Exception):
    """The node cannot join the cluster (says why: the NATS URL, TLS, the login)."""


def safe_url(url: str) -> str:
    """NATS URLs without their tokens or passwords, for the log."""
    return ",".join(u.rpartition("@")[2] for u in url.split(","))


def request_subject(node: str) -> str:
    return f"uacsta.node.{node}.request"


def events_subject(peer: str, owner: str) -> str:
    return f"uacsta.events.{peer}.{owner}"


@dataclass(frozen=True)
class ClusterSettings:
    url: str  # one or more NATS URLs, comma-separated
    node: str
    dead_after: float = 6.0
    credentials: str = ""  # a NATS .creds file
    tls: ssl.SSLContext | None = None
    request_timeout: float = 10.0


class RemotePhone:
    """A phone of another node, controlled through that node."""

    def __init__(self, node: ClusterNode, mac: str, owner: str, vendor: VendorProfile) -> None:
        self.node, self._mac, self.owner, self._profile = node, mac, owner, vendor

    @property
    def mac(self) -> str:
        return self._mac

    @property
    def profile(self) -> VendorProfile:
        return self._profile

    async def request(self, msg: m.CstaMessage) -> CstaAnswer:
        return await self.node.ask_owner(self, msg)


class ClusterNode:
    """The node's side of the cluster, and the switching function's gateway to
    every phone: its own phones (the session manager) first, the others' by
    the directory.  It observes its own phones to publish them."""

    def __init__(
        self,
        settings: ClusterSettings,
        sessions: SessionManager,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not NODE_NAME.fullmatch(settings.node):
            raise ValueError(f"node name {settings.node!r}: letters, digits, '-' and '_' only")
        self.settings = settings
        self.me = settings.node
        self.sessions = sessions
        self.clock = clock
        self.view = ClusterView(self.me, settings.dead_after)
        self.switching: SwitchingFunction | None = None
        self.nc: Nats | None = None
        self._phones: KeyValue | None = None
        self._nodes: KeyValue | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._remote: dict[tuple[str, str], RemotePhone] = {}
        self._peers: dict[str, ClientSession] = {}  # peer node -> its client here
        self._seq: dict[str, int] = {}  # owner -> last event number received
        self._dirty: dict[str, PhoneEntry | None] = {}
        self._wake = asyncio.Event()
        self.started = time.time()
        self.events_lost = 0
        self.connected = False
        self._closing = False
        self.streams: Streams | None = None
        self._last_error = ""
        self._up: set[str] = set()  # our phones whose dialog is up

    def attach(self, switching: SwitchingFunction) -> None:
        """Wired by the composition root once the switching function exists
        (it observes the phones before this node does, see ``phone_changed``)."""
        self.switching = switching
        self.sessions.observers.append(self)
        # the nodes share one store: each one's telephone list shows every phone
        self.sessions.directory.share(lambda mac: self._local(mac) is not None)
        switching.bus = self
        # monitorCrossRefIDs unique in the cluster: a session keeps them on another node
        switching.monitors.prefix = f"{self.me}."

    # -- the switching function's bus (core.switching.Bus) ------------------------------

    def relayed(self, device: Device, event: m.CstaMessage) -> Origin | None:
        return self.streams.relayed(device, event) if self.streams is not None else None

    def client_attached(self, client: ClientSession) -> None:
        if self.streams is not None:
            self.streams.client_attached(client)

    def monitors_changed(self, client: ClientSession) -> None:
        if self.streams is not None:
            self.streams.monitors_changed(client)

    def _monitors_of(self, client: ClientSession) -> list[list[str]]:
        if self.switching is None:
            return []
        return [[s.xref, s.point.device.key] for s in self.switching.monitors.of_client(client)]

    def client_ended(self, client: ClientSession) -> None:
        if self.streams is not None:
            self.streams.client_ended(client)

    async def take(self, login: str, session_id: str) -> Handover:
        if self.streams is None or not self.connected:
            raise ResumeError("no such session to resume (no connection to the cluster)")
        try:
            return await self.streams.take(login, session_id)
        except (nats.errors.Error, TimeoutError) as exc:
            raise ResumeError(f"the cluster cannot hand the session over: {exc}") from None

    async def missed(
        self, device: str, after: int | None, since: float
    ) -> list[tuple[int, m.CstaMessage]]:
        if self.streams is None:
            return []
        try:
            return await self.streams.missed(device, after, since)
        except Exception as exc:  # what can be had is better than no resume
            log.warning("events of %s missed while resuming not read: %s", device, exc)
            return []

    def _relay_remote(self, mac: str, event: m.CstaMessage, origin: Origin) -> None:
        if self.switching is not None:
            self.switching.phone_event(mac, event, origin)

    # -- the gateway (core.switching.PhoneGateway) ------------------------------------

    def _local(self, mac: str) -> PhoneLine | None:
        """The phone's line here while it is registered here: then it is ours,
        whatever the directory says of it."""
        local = self.sessions.line(mac)
        return local if local is not None and local.phase is not Phase.OFFLINE else None

    def line(self, mac: str) -> LineView | None:
        return self._local(mac) or self.view.line(mac) or self.sessions.line(mac)

    def session(self, mac: str) -> ControlledPhone | None:
        local = self.sessions.session(mac)
        if local is not None:
            return local
        line = self.view.line(mac)
        entry = self.view.entry(mac)
        if line is None or entry is None or line.phase is not Phase.UP or not self.connected:
            return None
        remote = self._remote.get((mac, line.node))
        if remote is None:
            vendor = profile(entry.vendor)
            remote = self._remote[(mac, line.node)] = RemotePhone(self, mac, line.node, vendor)
        return remote

    def controllable(self, mac: str) -> bool:
        return self.session(mac) is not None

    def describe(self, mac: str) -> str:
        entry = self.view.entry(mac)
        if entry is not None and self._local(mac) is None:
            return entry.model
        return self.sessions.describe(mac)

    def set_conflict(self, mac: str, text: str) -> None:
        self.sessions.set_conflict(mac, text)

    def node_of(self, mac: str) -> str:
        """The node a phone is on, as this node knows it ('' when offline everywhere)."""
        if self._local(mac) is not None:
            return self.me
        line = self.view.line(mac)
        return line.node if line is not None and line.phase is not Phase.OFFLINE else ""

    # -- our own phones (phones.session_manager.PhoneObserver) ---------------------------

    def phone_changed(self, line: PhoneLine) -> None:
        mac = line.mac
        if line.phase is Phase.UP and mac not in self._up:
            self._up.add(mac)
            if self.streams is not None:
                self.streams.phone_up([device_key(i.value) for i in line.identities])
        elif line.phase is not Phase.UP:
            self._up.discard(mac)
        current = self.view.entries.get(mac)
        if line.phase is Phase.OFFLINE and current is not None and current.node != self.me:
            # It has registered with another node since: that node's entry stands,
            # and this node's clients get the phone back through it.
            shown = self.view.line(mac)
            if shown is not None:
                self._show([shown])
            return
        phone = self.sessions.directory.get(mac)
        self._dirty[mac] = PhoneEntry(
            mac,
            self.me,
            line.phase,
            tuple(i.value for i in line.identities),
            phone.vendor if phone is not None else "unknown",
            self.sessions.describe(mac),
            line.reason,
            self.started,
        )
        self._wake.set()

    def phone_removed(self, mac: str) -> None:
        self._dirty[mac] = None
        self._wake.set()

    def phone_event(self, mac: str, event: m.CstaMessage) -> None:
        pass  # the switching function hears them itself

    def monitor_stopped(self, mac: str, monitor_xref: str) -> None:
        pass

    # -- starting and stopping -------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        try:
            connecting = nats.connect(
                servers=[u.strip() for u in s.url.split(",") if u.strip()],
                name=f"uacsta {self.me}",
                user_credentials=s.credentials or None,
                tls=s.tls,
                # a node that cannot join at start says why and does not start
                # (a wrong CA or password would otherwise be retried for ever)
                max_reconnect_attempts=STARTUP_ATTEMPTS,
                reconnect_time_wait=0.5,
                connect_timeout=5,
                drain_timeout=5,
                allow_reconnect=True,
                disconnected_cb=self._disconnected,
                reconnected_cb=self._reconnected,
                error_cb=self._error,
            )
            # (nats-py may hang after a failed TLS handshake: bounded here too)
            self.nc = await asyncio.wait_for(connecting, STARTUP_WITHIN)
        except Exception as exc:
            why = self._last_error or str(exc) or type(exc).__name__
            raise ClusterError(
                f"cannot join the cluster's NATS at {safe_url(s.url)}: {why}"
            ) from None
        # once in, a lost connection is tried again for as long as it takes
        self.nc.options["max_reconnect_attempts"] = -1
        self.connected = True
        js = self.nc.jetstream()
        self._phones = await self._bucket(js, KeyValueConfig(bucket=PHONES_BUCKET, history=1))
        self._nodes = await self._bucket(
            js,
            KeyValueConfig(
                bucket=NODES_BUCKET,
                history=1,
                ttl=s.dead_after,
                # nats-server 2.11 and later tell watchers when an entry expires
                limit_marker_ttl=max(1.0, s.dead_after),
            ),
        )
        streams = self.streams = Streams(
            self.me,
            self.nc,
            self.view.alive,
            self._relay_remote,
            s.request_timeout,
            self._monitors_of,
            self._logout,
        )
        await streams.start()
        await self.nc.subscribe(request_subject(self.me), cb=self._on_request)
        await self.nc.subscribe(events_subject(self.me, "*"), cb=self._on_event)
        await self._heartbeat()
        self._spawn(self._watch(NODES_BUCKET, self._nodes, self._node_entry), "cluster-nodes")
        self._spawn(self._watch(PHONES_BUCKET, self._phones, self._phone_entry), "cluster-phones")
        self._spawn(self._write_loop(), "cluster-writer")
        self._spawn(streams.send_loop(), "cluster-streams")
        self._spawn(streams.record_loop(), "cluster-sessions")
        self._spawn(self._beat_loop(), "cluster-heartbeat")
        log.info("cluster node %s joined NATS at %s", self.me, self.nc.connected_url)

    def _logout(self, client: ClientSession, why: str) -> None:
        if self.switching is not None:
            self.switching.logout(client, why)

    async def _bucket(self, js: Any, config: KeyValueConfig) -> KeyValue:
        try:
            kv: KeyValue = await js.key_value(config.bucket)
        except nats.js.errors.BucketNotFoundError:
            try:
                kv = await js.create_key_value(config)
            except nats.js.errors.KeyValueLimitMarkerTTLNotSupportedError:
                # a nats-server before 2.11 (Debian 12's is 2.9) has no expiry
                # markers: a node's end is then seen by its missing heartbeats alone
                log.info("NATS before 2.11: node expiries by missing heartbeats only")
                return await self._bucket(js, replace(config, limit_marker_ttl=None))
            except nats.js.errors.BadRequestError:
                kv = await js.key_value(config.bucket)  # another node was quicker
        return kv

    async def stop(self) -> None:
        """Leave cleanly: the heartbeat entry goes (the others see this node's
        phones leave at once), then the connection."""
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.nc is not None and self.nc.is_connected:
            # No entry is rewritten (the phones' offline entries would be thousands
            # of writes at a stop): the heartbeat goes, so the others take this
            # node's phones out of service at once, and the entries are set right
            # when this node starts again.
            with contextlib.suppress(Exception):
                if self._nodes is not None:
                    await self._nodes.delete(self.me)
            with contextlib.suppress(Exception):
                await self.nc.drain()
        self.connected = False

    async def _disconnected(self) -> None:
        self.connected = False
        if self._closing:
            return
        log.warning("cluster node %s lost its NATS connection; reconnecting", self.me)

    async def _reconnected(self) -> None:
        self.connected = True
        log.info("cluster node %s reconnected to NATS", self.me)
        # what changed while away (and what the bucket may have lost): our phones again
        for line in list(self.sessions.lines.values()):
            if line.phase is not Phase.OFFLINE:
                self.phone_changed(line)

    async def _error(self, exc: Exception) -> None:
        # NATS's own word (an authorization violation) over the reset that follows it
        if isinstance(exc, nats.errors.Error) or not self._last_error:
            self._last_error = str(exc) or type(exc).__name__
        log.warning("cluster NATS connection: %s", exc)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the directory ----------------------------------------------------------------------

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._flush_dirty()
            except Exception as exc:  # NATS away: written again after reconnecting
                log.warning("cluster directory not written: %s", exc)
                await asyncio.sleep(1.0)

    async def _flush_dirty(self) -> None:
        """The changed entries, many at a time: each write waits for JetStream's
        acknowledgement, and 10,000 phones registering at once are 10,000 writes."""
        kv = self._phones
        if kv is None:
            return
        while self._dirty:
            batch = list(itertools.islice(self._dirty.items(), WRITE_BATCH))
            for mac, _entry in batch:
                del self._dirty[mac]
            await asyncio.gather(*(self._write(kv, mac, entry) for mac, entry in batch))

    async def _write(self, kv: KeyValue, mac: str, entry: PhoneEntry | None) -> None:
        try:
            if entry is not None:
                await kv.put(mac, entry.to_json())
                return
            current = self.view.entries.get(mac)
            if current is not None and current.node == self.me:
                await kv.delete(mac)
        except Exception:
            self._dirty.setdefault(mac, entry)  # written again on the next round
            raise

    async def _watch(
        self, name: str, kv: KeyValue, apply: Callable[[str, bytes | None], None]
    ) -> None:
        while True:
            try:
                watcher = await kv.watchall()
                async for entry in watcher:
                    if entry is None:
                        continue  # the end of what was there before
                    gone = entry.operation in (KV_DEL, KV_PURGE)
                    try:
                        apply(entry.key, None if gone else (entry.value or b""))
                    except Exception:
                        log.exception("cluster entry %s not applied", entry.key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("cluster watch on %s: %s; watching again", name, exc)
                await asyncio.sleep(1.0)

    def _phone_entry(self, mac: str, value: bytes | None) -> None:
        if value is None:
            lines = self.view.delete(mac)
            self._show(lines)
            if self.switching is not None and lines and self.sessions.line(mac) is None:
                self.switching.phone_removed(mac)
            return
        try:
            entry = PhoneEntry.from_json(mac, value)
        except EntryError as exc:
            log.warning("cluster directory: %s", exc)
            return
        mine = entry.node == self.me
        if mine and entry.phase is not Phase.OFFLINE and self._local(mac) is None:
            # Ours from before a restart: offline until it registers again (its
            # devices keep their place on every node, as on a single server).
            why = "its node restarted"
            offline = replace(entry, phase=Phase.OFFLINE, reason=why, epoch=self.started)
            self._dirty.setdefault(mac, offline)
            self._wake.set()
        self._show(self.view.put(entry))

    def _node_entry(self, node: str, value: bytes | None) -> None:
        if node == self.me:
            return
        if value is None:
            self._show(self.view.node_left(node))
            self._peer_gone(node)
            return
        try:
            info = json.loads(value)
            if not isinstance(info, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            log.warning("cluster node entry %s unreadable: %s", node, exc)
            return
        was = self.view.alive(node)
        self._show(self.view.heartbeat(node, info, self.clock()))
        if not was:
            log.info("cluster node %s is up", node)

    def _show(self, lines: list[RemoteLine]) -> None:
        """Tell the switching function of other nodes' phones; a phone of our
        own (a dialog up, or coming up, here) is ours whatever others say."""
        if self.switching is None:
            return
        for line in lines:
            if self._local(line.mac) is not None:
                continue
            if line.phase is Phase.OFFLINE:
                self._remote.pop((line.mac, line.node), None)
                if self.streams is not None:
                    self.streams.unwatch_phone(line.mac)
            self.switching.phone_changed(line)

    # -- heartbeats ---------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        if self._nodes is None:
            return
        info = {
            "version": __version__,
            "started": self.started,
            "phones": self.sessions.dialogs_up,
            "clients": self._own_clients(),
        }
        await self._nodes.put(self.me, json.dumps(info).encode())

    def _own_clients(self) -> int:
        """Clients logged in here (not the other nodes' stand-ins)."""
        if self.switching is None:
            return 0
        return sum(1 for c in self.switching.clients.values() if c.face is not FaceKind.CLUSTER)

    async def _beat_loop(self) -> None:
        period = self.settings.dead_after / 3
        while True:
            await asyncio.sleep(period)
            try:
                await self._heartbeat()
            except Exception as exc:
                log.warning("cluster heartbeat not written: %s", exc)
            lines = self.view.expire(self.clock())
            for node in {line.node for line in lines}:
                if not self.view.alive(node):
                    log.warning(
                        "cluster node %s not heard of for %g s: its phones are out of service",
                        node,
                        self.settings.dead_after,
                    )
                    self._peer_gone(node)
            self._show(lines)

    # -- the owner's side: requests and events for peer nodes ---------------------------------

    def _peer(self, node: str) -> ClientSession:
        client = self._peers.get(node)
        if client is not None and client.closed_because is None:
            return client
        assert self.switching is not None
        client = self.switching.attach(
            f"node {node}",
            FaceKind.CLUSTER,
            DeviceRights(),  # its clients' rights are checked by their own node
            peer=f"cluster node {node}",
            max_queue=PEER_QUEUE,
            encode=lambda event: encode(event),
        )
        client.skip_relayed = True  # those go on the devices' own subjects
        self._peers[node] = client
        self._spawn(self._forward(node, client), f"cluster-events-{node}")
        return client

    def _peer_gone(self, node: str) -> None:
        """Its monitors stay for the resume window: the devices' streams go on
        for its clients, which may resume on another node."""
        client = self._peers.pop(node, None)
        if client is not None and self.switching is not None:
            self.switching.detach(client, f"cluster node {node} is gone", keep=True)

    async def _forward(self, node: str, client: ClientSession) -> None:
        subject = events_subject(node, self.me)
        try:
            async for item in client.events():
                if self.nc is None:
                    return
                payload = item.payload if isinstance(item.payload, bytes) else item.payload.encode()
                try:
                    await self.nc.publish(subject, payload, headers={SEQ_HEADER: str(item.seq)})
                except nats.errors.Error as exc:
                    # lost; the peer sees the gap in the numbers and counts it
                    log.warning("event %d for node %s not sent: %s", item.seq, node, exc)
        except ClientClosed as exc:
            log.info("events for cluster node %s end: %s", node, exc)

    async def _on_request(self, msg: Msg) -> None:
        # Each request in a task of its own: one slow phone must not hold up the rest.
        self._spawn(self._answer(msg), "cluster-request")

    async def _answer(self, msg: Msg) -> None:
        peer = (msg.headers or {}).get(NODE_HEADER, "")
        answer: CstaAnswer | CSTAErrorCode
        client: ClientSession | None = None
        if not NODE_NAME.fullmatch(peer) or peer == self.me or self.switching is None:
            answer = CSTAErrorCode.operation("invalidParameterValue")
        else:
            request = decode(msg.data)
            if isinstance(request, DecodeError | CSTAErrorCode):
                answer = CSTAErrorCode.operation("invalidParameterValue")
            else:
                client = self._peer(peer)
                answer = self._known_monitor(client, request) or await self.switching.request(
                    client, request
                )
        try:
            if not isinstance(answer, DecodeError):
                await msg.respond(encode(answer))
        finally:
            if client is not None:
                client.release()

    def _known_monitor(self, client: ClientSession, request: m.CstaMessage) -> CstaAnswer | None:
        """A peer node asking again for a monitor it has (after its phone went
        away and came back) gets the one it has: one watcher per node."""
        if not isinstance(request, m.MonitorStart) or self.switching is None:
            return None
        target = request.monitorObject.deviceObject
        device = self.switching.devices.find(target.value) if target is not None else None
        if device is None:
            return None
        for sub in self.switching.monitors.of_client(client):
            if sub.point.device is device:
                return m.MonitorStartResponse(monitorCrossRefID=sub.xref)
        return None

    # -- the peer's side: asking owners, hearing their events ----------------------------------

    async def ask_owner(self, phone: RemotePhone, msg: m.CstaMessage) -> CstaAnswer:
        if self.nc is None or not self.connected or self.streams is None:
            raise SessionError("no connection to the cluster")
        watch = None
        if isinstance(msg, m.MonitorStart) and msg.monitorObject.deviceObject is not None:
            key = device_key(msg.monitorObject.deviceObject.value)
            watch = await self.streams.watch(phone.mac, phone.owner, key)
        try:
            answer = await self._ask_owner(phone, msg)
        except SessionError:
            if watch is not None:
                await self.streams.unwatch(device_subject(watch.key))
            raise
        if watch is not None:
            if isinstance(answer, m.MonitorStartResponse):
                self.streams.watching(watch, answer.monitorCrossRefID)
            else:
                await self.streams.unwatch(device_subject(watch.key))
        elif isinstance(msg, m.MonitorStop):
            self._unwatch_xref(phone.owner, msg.monitorCrossRefID)
        return answer

    def _unwatch_xref(self, owner: str, xref: str) -> None:
        assert self.streams is not None
        subject = self.streams.by_xref.get((owner, xref))
        if subject is not None:
            self._spawn(self.streams.unwatch(subject), "cluster-unwatch")

    async def _ask_owner(self, phone: RemotePhone, msg: m.CstaMessage) -> CstaAnswer:
        assert self.nc is not None
        try:
            reply = await self.nc.request(
                request_subject(phone.owner),
                encode(msg),
                timeout=self.settings.request_timeout,
                headers={NODE_HEADER: self.me},
            )
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
            why = type(exc).__name__
            raise SessionError(f"node {phone.owner} did not answer ({why})") from None
        except nats.errors.Error as exc:
            raise SessionError(f"cluster: {exc}") from None
        return decode(reply.data)

    async def _on_event(self, msg: Msg) -> None:
        owner = msg.subject.rsplit(".", 1)[-1]
        seq_text = (msg.headers or {}).get(SEQ_HEADER, "")
        if seq_text.isdigit():
            seq, last = int(seq_text), self._seq.get(owner)
            if last is not None and seq > last + 1:
                self.events_lost += seq - last - 1
                log.warning("events %d..%d from node %s lost", last + 1, seq - 1, owner)
            # (a lower number: the owner started a new stream for us, after a restart)
            self._seq[owner] = seq
        event = decode(msg.data)
        if not isinstance(event, m.CstaMessage) or self.switching is None:
            log.warning("unreadable event from node %s", owner)
            return
        xref = getattr(event, "monitorCrossRefID", None)
        watch = (
            self.streams.watch_of(owner, xref) if self.streams and isinstance(xref, str) else None
        )
        if watch is None or not isinstance(xref, str):
            return  # a monitor this node no longer has
        mac = watch.mac
        if isinstance(event, m.MonitorStop):
            self._unwatch_xref(owner, xref)
            self.switching.monitor_stopped(mac, xref)
        elif isinstance(event, m.OutOfServiceEvent | m.BackInServiceEvent):
            pass  # this node tells its clients itself, from the directory
        else:
            self.switching.phone_event(mac, event)

    # -- status ------------------------------------------------------------------------------------

    def status(self) -> dict[str, object]:
        now = self.clock()
        nodes: list[dict[str, object]] = [
            {
                "name": self.me,
                "alive": self.connected,
                "this": True,
                "phones": self.sessions.dialogs_up,
                "clients": self._own_clients(),
                "heard_ago": 0.0,
            }
        ]
        for state in sorted(self.view.nodes.values(), key=lambda s: s.name):
            nodes.append(
                {
                    "name": state.name,
                    "alive": state.alive,
                    "this": False,
                    "phones": self.view.phones_of(state.name),
                    "clients": state.info.get("clients", 0),
                    "heard_ago": round(now - state.seen, 1),
                    "version": state.info.get("version", ""),
                }
            )
        return {
            "node": self.me,
            "connected": self.connected,
            "nodes": nodes,
            "remote_phones": sum(self.view.phones_of(n) for n in self.view.nodes),
            "events_lost": self.events_lost + (self.streams.events_lost if self.streams else 0),
            "events_not_sent": self.streams.not_sent if self.streams else 0,
            "sessions_taken_over": self.streams.taken if self.streams else 0,
            "sessions_handed_over": self.streams.given if self.streams else 0,
        }


def cluster_node(
    config: Config, sessions: SessionManager, clock: Callable[[], float]
) -> ClusterNode | None:
    """The node, when the configuration names a NATS server; else None."""
    if not config.cluster_url:
        return None
    if config.cluster_credentials and importlib.util.find_spec("nkeys") is None:
        # nats-py signs with a .creds file's key through the nkeys package
        raise ClusterError(
            "cluster_credentials needs the Python package nkeys beside uacsta "
            "(pip install nkeys); or give the user and password, or a token, in cluster_url"
        )
    tls: ssl.SSLContext | None = None
    if config.cluster_tls_ca or "tls://" in config.cluster_url:
        tls = ssl.create_default_context(cafile=config.cluster_tls_ca or None)
    settings = ClusterSettings(
        url=config.cluster_url,
        node=config.node_name,
        dead_after=config.cluster_dead_after,
        credentials=config.cluster_credentials,
        tls=tls,
    )
    return ClusterNode(settings, sessions, clock)
