"""The cluster's streams: each device's events, and each JSON client's.

* **Device streams** (JetStream stream ``uacsta_events``, subject
  ``uacsta.dev.<device key in hex>``): the owner of a phone publishes every
  event of its monitored devices there, once, numbered per device
  (``Uacsta-Seq``; a run of numbers starts at the owner's clock in
  microseconds, so a later run is always higher).  Nodes whose clients watch
  the device subscribe to its subject; the stream keeps the last minutes for
  a session that resumes on another node.
* **Client streams** (``uacsta_clients``, subject ``uacsta.client.<session>``):
  every event numbered for a JSON client, as the client got it, with the
  device event it came from; and a record of the session (login, node,
  monitors) in the key-value bucket ``uacsta_sessions``.  Another node
  takes the session over from there (:mod:`uacsta.core.handover`).

Both are kept in memory by the NATS server, for ``KEPT`` seconds: a resume
later than that (or after the NATS server restarted) starts a new session.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.client import Client as Nats
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.js.api import DiscardPolicy, KeyValueConfig, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from ..core.client_session import ClientSession, FaceKind, Origin, ResumeError, Sequenced
from ..core.devices import Device
from ..core.handover import Handover
from ..csta import model as m
from ..csta.codec import decode, encode

log = logging.getLogger("uacsta.cluster")

EVENTS_STREAM = "uacsta_events"
CLIENTS_STREAM = "uacsta_clients"
SESSIONS_BUCKET = "uacsta_sessions"
KEPT = 300.0  # seconds an event stays in a stream (the resume window is shorter)
PER_DEVICE = 2_000  # events kept per device
PER_CLIENT = 10_000  # events kept per client (a session's own retention)
STREAM_BYTES = 256 * 1024 * 1024
SEQ_HEADER = "Uacsta-Seq"
RUN_HEADER = "Uacsta-Run"
CALL_HEADER = "Uacsta-Call"
ORIGIN_HEADER = "Uacsta-Origin"
END_HEADER = "Uacsta-End"
OUTBOX = 100_000  # messages waiting for NATS at the most
EARLY = 256  # device events kept until the owner's MonitorStartResponse is here
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def device_subject(key: str) -> str:
    return f"uacsta.dev.{key.encode().hex()}"


def client_subject(session_id: str) -> str:
    return f"uacsta.client.{session_id}"


def take_subject(node: str) -> str:
    return f"uacsta.node.{node}.take"


def _origin_text(origin: Origin) -> str:
    return f"{origin[0].encode().hex()}:{origin[1]}"


def _origin_of(text: str) -> Origin | None:
    key, _, number = text.partition(":")
    try:
        return bytes.fromhex(key).decode(), int(number)
    except ValueError:
        return None


@dataclass(eq=False)
class Watch:
    """A device of another node that this node's clients watch."""

    mac: str
    owner: str
    key: str
    xref: str | None = None  # the owner's monitorCrossRefID for this node
    early: list[Msg] = field(default_factory=list)
    sub: NatsSubscription | None = None
    last: tuple[str, int] | None = None  # (run, number) of the last event


class Streams:
    """The streams of one node; the node hands it the switching function's
    hooks (:class:`uacsta.core.switching.Bus`) and the take-over requests."""

    def __init__(
        self,
        me: str,
        nc: Nats,
        alive: Callable[[str], bool],
        relay: Callable[[str, m.CstaMessage, Origin], None],
        request_timeout: float,
        monitors_of: Callable[[ClientSession], list[list[str]]],
        logout: Callable[[ClientSession, str], None],
    ) -> None:
        self.me, self.nc, self.alive, self.relay = me, nc, alive, relay
        self.monitors_of = monitors_of  # [monitorCrossRefID, device key] of a client
        self.logout = logout  # a session handed over to another node ends here
        self.request_timeout = request_timeout
        self.js: JetStreamContext = nc.jetstream()
        self.sessions: KeyValue | None = None
        self._numbers: dict[str, tuple[int, int]] = {}  # device key -> (run, last number)
        self._outbox: deque[tuple[str, bytes, dict[str, str], asyncio.Future[None] | None]] = (
            deque()
        )
        self._wake = asyncio.Event()
        self._records_wake = asyncio.Event()
        # sessions whose record is to be written (None: to be deleted); the
        # record is made when written, once however many monitors changed
        self._records: dict[str, ClientSession | None] = {}
        self._clients: dict[str, ClientSession] = {}
        self._handed: set[str] = set()
        self.watches: dict[str, Watch] = {}  # device subject -> watch
        self.by_xref: dict[tuple[str, str], str] = {}  # (owner, its xref) -> device subject
        self._by_mac: dict[str, set[str]] = {}  # phone -> its device subjects watched
        self._tasks: set[asyncio.Task[None]] = set()
        self.events_lost = 0
        self.not_sent = 0
        self.taken = 0  # sessions of other nodes taken over here
        self.given = 0  # sessions of this node that another took over

    async def start(self) -> None:
        for name, subjects, per_subject in (
            (EVENTS_STREAM, "uacsta.dev.>", PER_DEVICE),
            (CLIENTS_STREAM, "uacsta.client.>", PER_CLIENT),
        ):
            config = StreamConfig(
                name=name,
                subjects=[subjects],
                storage=StorageType.MEMORY,
                max_age=KEPT,
                max_msgs_per_subject=per_subject,
                max_bytes=STREAM_BYTES,
                discard=DiscardPolicy.OLD,
            )
            try:
                await self.js.add_stream(config)
            except nats.js.errors.BadRequestError:
                try:
                    await self.js.stream_info(name)  # there already, as another node made it
                except nats.js.errors.Error as exc:
                    # (a NATS server short of memory for it, say): the cluster
                    # works, but sessions cannot move between nodes
                    log.warning(
                        "cluster stream %s not there (%s): client sessions will not "
                        "resume on another node",
                        name,
                        exc,
                    )
        try:
            self.sessions = await self.js.key_value(SESSIONS_BUCKET)
        except nats.js.errors.BucketNotFoundError:
            bucket = KeyValueConfig(bucket=SESSIONS_BUCKET, history=1, ttl=7 * 86400.0)
            try:
                self.sessions = await self.js.create_key_value(bucket)
            except nats.js.errors.BadRequestError:
                self.sessions = await self.js.key_value(SESSIONS_BUCKET)
        await self.nc.subscribe(take_subject(self.me), cb=self._on_take)

    # -- the owner's side: each device's stream -------------------------------------------

    def relayed(self, device: Device, event: m.CstaMessage) -> Origin:
        key = device.key
        run, last = self._numbers.get(key) or (0, 0)
        if not run:
            run = last = time.time_ns() // 1000
        number = last + 1
        self._numbers[key] = (run, number)
        headers = {SEQ_HEADER: str(number), RUN_HEADER: str(run)}
        self._send(device_subject(key), encode(event), headers)
        return key, number

    def phone_up(self, keys: list[str]) -> None:
        """A phone came up here: its devices' numbers start a new run (it may
        have been on another node meanwhile, whose numbers are higher)."""
        for key in keys:
            self._numbers.pop(key, None)

    def _send(
        self,
        subject: str,
        payload: bytes,
        headers: dict[str, str],
        done: asyncio.Future[None] | None = None,
    ) -> None:
        if len(self._outbox) >= OUTBOX:
            self.not_sent += 1  # NATS away too long: the receivers count the gap
            return
        self._outbox.append((subject, payload, headers, done))
        self._wake.set()

    async def send_loop(self) -> None:
        """Publish in order, each message once; a message NATS refuses is
        counted lost (the receivers see the gap in its numbers)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                subject, payload, headers, done = self._outbox.popleft()
                try:
                    if done is None:
                        await self.nc.publish(subject, payload, headers=headers)
                    else:
                        # acknowledged: everything before it is in the stream too
                        await self.js.publish(subject, payload, headers=headers)
                except Exception as exc:
                    log.warning("cluster stream %s: not published (%s)", subject, exc)
                if done is not None and not done.done():
                    done.set_result(None)

    async def flushed(self, subject: str, headers: dict[str, str]) -> None:
        """An acknowledged marker after what is in the outbox now."""
        done = asyncio.get_running_loop().create_future()
        self._send(subject, b"", headers, done)
        await asyncio.wait_for(done, self.request_timeout)

    # -- the watching side: devices of other nodes -------------------------------------------

    async def watch(self, mac: str, owner: str, key: str) -> Watch:
        """Hear the device's events (before its MonitorStart goes to the owner,
        so that none is missed)."""
        subject = device_subject(key)
        watch = self.watches.get(subject)
        if watch is not None and watch.owner == owner:
            return watch
        if watch is not None:
            await self.unwatch(subject)
        watch = self.watches[subject] = Watch(mac, owner, key)
        self._by_mac.setdefault(mac, set()).add(subject)
        watch.sub = await self.nc.subscribe(subject, cb=self._on_device_event)
        return watch

    def watching(self, watch: Watch, xref: str) -> None:
        """The owner's MonitorStartResponse: the events that came before it now."""
        watch.xref = xref
        self.by_xref[(watch.owner, xref)] = device_subject(watch.key)
        early, watch.early = watch.early, []
        for msg in early:
            self._device_event(watch, msg)

    def watch_of(self, owner: str, xref: str) -> Watch | None:
        """The device the owner's monitorCrossRefID (for this node) is of."""
        subject = self.by_xref.get((owner, xref))
        return self.watches.get(subject) if subject is not None else None

    def _forget(self, subject: str) -> Watch | None:
        watch = self.watches.pop(subject, None)
        if watch is None:
            return None
        if watch.xref is not None:
            self.by_xref.pop((watch.owner, watch.xref), None)
        subjects = self._by_mac.get(watch.mac)
        if subjects is not None:
            subjects.discard(subject)
            if not subjects:
                del self._by_mac[watch.mac]
        return watch

    async def unwatch(self, subject: str) -> None:
        watch = self._forget(subject)
        if watch is not None and watch.sub is not None:
            with contextlib.suppress(Exception):
                await watch.sub.unsubscribe()

    def unwatch_phone(self, mac: str) -> list[str]:
        """Its device subjects, no longer listened to (the phone left its node)."""
        gone = list(self._by_mac.get(mac, ()))
        for subject in gone:
            watch = self._forget(subject)
            if watch is not None and watch.sub is not None:
                task = asyncio.get_running_loop().create_task(watch.sub.unsubscribe())
                self._tasks.add(task)  # (asyncio keeps only a weak reference)
                task.add_done_callback(self._tasks.discard)
        return gone

    async def _on_device_event(self, msg: Msg) -> None:
        watch = self.watches.get(msg.subject)
        if watch is None:
            return
        if watch.xref is None:
            if len(watch.early) < EARLY:
                watch.early.append(msg)
            return
        self._device_event(watch, msg)

    def _device_event(self, watch: Watch, msg: Msg) -> None:
        headers = msg.headers or {}
        number_text, run = headers.get(SEQ_HEADER, ""), headers.get(RUN_HEADER, "")
        if not number_text.isdigit():
            log.warning("event without a number from node %s", watch.owner)
            return
        number = int(number_text)
        last = watch.last
        if last is not None and last[0] == run:
            if number <= last[1]:
                return  # had it
            if number > last[1] + 1:
                self.events_lost += number - last[1] - 1
                log.warning(
                    "events %d..%d of %s from node %s lost",
                    last[1] + 1,
                    number - 1,
                    watch.key,
                    watch.owner,
                )
        watch.last = (run, number)
        event = decode(msg.data)
        if not isinstance(event, m.CstaMessage) or watch.xref is None:
            log.warning("unreadable event of %s from node %s", watch.key, watch.owner)
            return
        # the monitorCrossRefID the owner gave this node, as its relay expects
        copy = dataclasses.replace(event, monitorCrossRefID=watch.xref)  # type: ignore[call-arg]
        self.relay(watch.mac, copy, (watch.key, number))

    # -- the client's node: its JSON sessions ---------------------------------------------------

    def client_attached(self, client: ClientSession) -> None:
        if client.face is not FaceKind.JSON:
            return
        self._clients[client.id] = client
        subject = client_subject(client.id)

        def mirror(item: Sequenced) -> None:
            headers = {SEQ_HEADER: str(item.seq)}
            if item.call:
                headers[CALL_HEADER] = item.call
            if item.origin is not None:
                headers[ORIGIN_HEADER] = _origin_text(item.origin)
            payload = item.payload if isinstance(item.payload, bytes) else item.payload.encode()
            self._send(subject, payload, headers)

        client.mirror = mirror
        self.monitors_changed(client)

    def monitors_changed(self, client: ClientSession) -> None:
        if client.id not in self._clients:
            return
        self._records[client.id] = client
        self._records_wake.set()

    def client_ended(self, client: ClientSession) -> None:
        if self._clients.pop(client.id, None) is None:
            return
        if client.id in self._handed:
            self._handed.discard(client.id)
            return  # another node has it now
        self._records[client.id] = None
        self._records_wake.set()

    async def record_loop(self) -> None:
        """The sessions' records, written apart from the events (each waits
        for JetStream's acknowledgement)."""
        while True:
            await self._records_wake.wait()
            self._records_wake.clear()
            if not await self._write_records():
                await asyncio.sleep(1.0)
                self._records_wake.set()

    async def _write_records(self) -> bool:
        kv = self.sessions
        if kv is None:
            return True
        while self._records:
            session_id, client = self._records.popitem()
            try:
                if client is None:
                    with contextlib.suppress(nats.js.errors.KeyNotFoundError):
                        await kv.delete(session_id)
                    await self.js.purge_stream(CLIENTS_STREAM, subject=client_subject(session_id))
                elif client.closed_because is None:
                    record = {
                        "login": client.login,
                        "node": self.me,
                        "monitors": self.monitors_of(client),
                        "at": time.time(),
                    }
                    await kv.put(session_id, json.dumps(record).encode())
            except Exception as exc:
                log.warning("cluster session %s not written: %s", session_id, exc)
                self._records.setdefault(session_id, client)
                return False
        return True

    # -- taking a session over ------------------------------------------------------------------

    async def _on_take(self, msg: Msg) -> None:
        answer: dict[str, Any]
        try:
            ask = json.loads(msg.data)
            session_id, login, node = ask["session"], ask["login"], ask["node"]
        except (ValueError, KeyError, TypeError):
            answer = {"error": "unreadable request"}
        else:
            answer = await self._give(str(session_id), str(login), str(node))
        with contextlib.suppress(Exception):
            await msg.respond(json.dumps(answer).encode())

    async def _give(self, session_id: str, login: str, node: str) -> dict[str, Any]:
        client = self._clients.get(session_id)
        if client is None or client.closed_because is not None:
            # not this run's (this node restarted since): what it kept is in the stream
            return {"unknown": True}
        if client.login != login:
            return {"error": "no such session to resume (expired, closed or never existed)"}
        if client.attached:
            return {"error": "the session is still connected to node " + self.me}
        self._handed.add(session_id)
        last = client.last_seq
        self.logout(client, f"resumed on node {node}")
        self._records.pop(session_id, None)
        self.given += 1
        await self.flushed(client_subject(session_id), {END_HEADER: str(last)})
        return {"ok": True, "last_seq": last}

    async def take(self, login: str, session_id: str) -> Handover:
        none = ResumeError("no such session to resume (expired, closed or never existed)")
        if not SESSION_ID.fullmatch(session_id) or self.sessions is None:
            raise none
        try:
            entry = await self.sessions.get(session_id)
            record = json.loads(entry.value or b"")
        except (nats.js.errors.KeyNotFoundError, ValueError):
            raise none from None
        if not isinstance(record, dict) or record.get("login") != login:
            raise none
        node = str(record.get("node", ""))
        if node and node != self.me and self.alive(node):
            ask = {"session": session_id, "login": login, "node": self.me}
            try:
                reply = await self.nc.request(
                    take_subject(node), json.dumps(ask).encode(), timeout=self.request_timeout
                )
                answer = json.loads(reply.data)
            except (nats.errors.TimeoutError, nats.errors.NoRespondersError, ValueError):
                answer = {}  # as good as dead: what it kept is in the stream
            if isinstance(answer, dict) and "error" in answer:
                raise ResumeError(str(answer["error"]))
        try:
            sent, last, since = await self._kept(session_id)
        except nats.errors.Error as exc:
            raise ResumeError(f"the session's events cannot be read ({exc})") from None
        since = since or float(record.get("at", 0.0))
        monitors = [
            (str(x), str(k))
            for x, k in record.get("monitors", [])
            if isinstance(x, str) and isinstance(k, str)
        ]
        self.taken += 1
        log.info(
            "session %s of %s taken over from node %s: %d events kept",
            session_id,
            login,
            node,
            len(sent),
        )
        return Handover(login, monitors, sent, last, since)

    async def _read(self, stream: str, subject: str) -> list[Any]:
        """Every message of the subject the stream has, oldest first."""
        found: list[Any] = []
        seq = 0
        while True:
            try:
                raw = await self.js.get_msg(stream, seq=seq, subject=subject, next=True)
            except nats.js.errors.NotFoundError:
                return found
            found.append(raw)
            seq = (raw.seq or seq) + 1

    async def _kept(self, session_id: str) -> tuple[list[Sequenced], int, float]:
        by_seq: dict[int, Sequenced] = {}
        last, since = 0, 0.0
        for raw in await self._read(CLIENTS_STREAM, client_subject(session_id)):
            headers = raw.headers or {}
            if raw.time is not None:
                since = max(since, raw.time.timestamp())
            end = headers.get(END_HEADER, "")
            if end.isdigit():
                last = max(last, int(end))
                continue
            seq_text = headers.get(SEQ_HEADER, "")
            if not seq_text.isdigit():
                continue
            origin = _origin_of(headers.get(ORIGIN_HEADER, ""))
            seq = int(seq_text)
            by_seq[seq] = Sequenced(
                seq, (raw.data or b"").decode(), headers.get(CALL_HEADER, ""), origin
            )
        if by_seq:
            last = max(last, max(by_seq))
        # the unbroken run of numbers up to the last (the stream may have lost older ones)
        sent: list[Sequenced] = []
        seq = last
        while seq in by_seq:
            sent.append(by_seq[seq])
            seq -= 1
        sent.reverse()
        return sent, last, since

    async def missed(
        self, device: str, after: int | None, since: float
    ) -> list[tuple[int, m.CstaMessage]]:
        found: list[tuple[int, m.CstaMessage]] = []
        for raw in await self._read(EVENTS_STREAM, device_subject(device)):
            number_text = (raw.headers or {}).get(SEQ_HEADER, "")
            if not number_text.isdigit():
                continue
            number = int(number_text)
            if after is not None and number <= after:
                continue
            if after is None and (raw.time is None or raw.time.timestamp() <= since):
                continue
            event = decode(raw.data or b"")
            if isinstance(event, m.CstaMessage):
                found.append((number, event))
        return found
