"""A logged-in client as the switching function sees it, whatever face it
came through: its rights, its monitors, and its ordered stream of events.

Each event gets the client's next sequence number and waits in a bounded
queue until the face has written it.  A client that falls behind by more than
the bound is closed with a reason, never allowed to stall the phones or the
other clients, and never loses an event silently while connected.  Events
written recently are kept for the retention window, so that a client that
reconnects can resume after the last sequence number it saw.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import secrets
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

from ..csta.model import CstaMessage
from .devices import DeviceRights

log = logging.getLogger("uacsta.faces")
_ids = itertools.count(1)


class ClientClosed(Exception):
    """The client session is closed; ``reason`` says why."""


class ResumeError(Exception):
    """A resume that would lose events (or names no session) is refused."""


class FaceKind(enum.Enum):
    SIP = "sip"
    JSON = "json"
    CSTA = "csta"  # CSTA XML over TCP (ECMA-323 Annex J, ECMA-354 sessions)
    CLUSTER = "cluster"  # another node of the cluster, for its own clients


# Where a relayed event came from in a cluster: the device's key and the
# event's number in that device's stream (:mod:`uacsta.cluster.node`).
Origin = tuple[str, int]


@dataclass(slots=True)
class Sequenced:
    seq: int
    payload: str | bytes  # the event as the client's face writes it
    call: str = ""  # the server's call reference (:mod:`.calls`), '' when none
    origin: Origin | None = None

    def call_member(self) -> str:
        """``"call":"…",`` for a JSON envelope, '' without a reference (the
        reference is ours: hex digits, a dash and a number, nothing to escape)."""
        return f'"call":"{self.call}",' if self.call else ""


# The device of the request a face is answering in this task: its events wait
# until the face has written the response (:meth:`ClientSession.hold`).
_answering: ContextVar[str] = ContextVar("answering", default="")


def _no_encoding(event: CstaMessage) -> str:
    return repr(event)


@dataclass(eq=False)
class ClientSession:
    login: str
    face: FaceKind
    rights: DeviceRights = field(default_factory=DeviceRights)
    # Events are kept encoded (JSON text, CSTA XML): many thousands wait or are
    # retained per client, and strings cost the garbage collector nothing,
    # where decoded messages are a dozen tracked objects each.
    encode: Callable[[CstaMessage], str | bytes] = _no_encoding
    max_queue: int = 10_000
    # Retention for resume: how many written events are kept (time limits are
    # the switching function's: it drops a detached session after its window).
    retain: int = 10_000
    id: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    number: int = field(default_factory=lambda: next(_ids))
    peer: str = ""
    closed_because: str | None = None
    attached: bool = True
    detached_at: float | None = None
    _seq: int = 0
    _queue: deque[Sequenced] = field(default_factory=deque)
    _written: deque[Sequenced] = field(default_factory=deque)
    _deferred: list[CstaMessage] = field(default_factory=list)
    _held: Counter[str] = field(default_factory=Counter)  # device key -> requests answering
    _held_events: dict[str, list[tuple[CstaMessage, str, Origin | None]]] = field(
        default_factory=dict
    )
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    # In a cluster: each event queued is also handed here (the node keeps a
    # copy in NATS, so that the session can resume on another node).
    mirror: Callable[[Sequenced], None] | None = None
    # A cluster node's stand-in on the owner: relayed events reach its node by
    # the device's own subject, only the rest is queued for it.
    skip_relayed: bool = False
    # While resuming on another node: events wait here until the ones missed
    # have been caught up (:meth:`pause`, :meth:`unpause`).
    _paused: list[tuple[CstaMessage, str, Origin | None]] | None = None
    # Per device: the number of the last event caught up (later copies are dropped).
    _floors: dict[str, int] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        """The log tag: the client's login and its number on this server."""
        return f"{self.login}#{self.number}"

    @property
    def last_seq(self) -> int:
        return self._seq

    @property
    def queued(self) -> int:
        return len(self._queue)

    def push(
        self,
        event: CstaMessage,
        *,
        after_response: bool = False,
        call: str = "",
        device: str = "",
        origin: Origin | None = None,
    ) -> bool:
        """Queue an event; False (and the session closed) when the client has
        fallen too far behind.  ``after_response``: an event that the request
        being answered causes (BackInService of a monitor already running);
        it waits until the face has written the response (:meth:`release`).
        ``device``: the key of the device the event is from; while a request
        of this client at that device is being answered, its events wait for
        the response, so that the response comes first.  ``call``: the
        server's call reference, for the JSON faces.  ``origin``: where a
        relayed event came from in a cluster."""
        if self.closed_because is not None:
            return False
        if origin is not None:
            if self.skip_relayed:
                return True
            if self._floors and origin[1] <= self._floors.get(origin[0], -1):
                return True  # caught up already
        if after_response:
            self._deferred.append(event)
            return True
        if self._paused is not None:
            self._paused.append((event, call, origin))
            return True
        if device and self._held[device]:
            self._held_events.setdefault(device, []).append((event, call, origin))
            return True
        return self._queued(Sequenced(self._seq + 1, self.encode(event), call, origin))

    def _queued(self, item: Sequenced) -> bool:
        if len(self._queue) >= self.max_queue:
            self.close(f"too slow: {len(self._queue)} events waiting to be written")
            return False
        self._seq = item.seq
        self._queue.append(item)
        if self.mirror is not None:
            self.mirror(item)
        self._wakeup.set()
        return True

    # -- resuming on another node of a cluster ------------------------------------------

    def pause(self, after_seq: int) -> None:
        """Start a session taken over from another node: numbering goes on
        after ``after_seq``; new events wait until :meth:`unpause`."""
        self._seq = after_seq
        self._paused = []

    def replay(self, item: Sequenced) -> None:
        """An event the other node had sent, again under its own number."""
        self._queued(item)
        if item.origin is not None:
            self.caught_up(item.origin)

    def caught_up(self, origin: Origin) -> None:
        """An event of a device has been queued; later copies of it are dropped."""
        key, number = origin
        if number > self._floors.get(key, -1):
            self._floors[key] = number

    def floor(self, device: str) -> int | None:
        """The number of the last event of ``device`` this session has had."""
        return self._floors.get(device)

    def catch_up(self, event: CstaMessage, origin: Origin) -> None:
        """A missed event of a device from its stream (while paused)."""
        if origin[1] <= self._floors.get(origin[0], -1):
            return
        self._queued(Sequenced(self._seq + 1, self.encode(event), "", origin))
        self.caught_up(origin)

    def unpause(self) -> None:
        """Caught up: what waited goes out now, less what was caught up."""
        waiting, self._paused = self._paused or [], None
        for event, call, origin in waiting:
            self.push(event, call=call, origin=origin)

    def hold(self, device: str) -> None:
        """A request of this client at ``device`` is being answered (called by
        the switching function in the face's task): the device's events wait
        until the face calls :meth:`release` in the same task."""
        self._held[device] += 1
        _answering.set(device)

    def release(self) -> None:
        """The face has written a response (or given up on it): queue what
        waited for it.  Faces call it in the task that asked, in ``finally``."""
        device = _answering.get()
        if device:
            _answering.set("")
            self._held[device] -= 1
            if self._held[device] <= 0:
                del self._held[device]
                for event, call, origin in self._held_events.pop(device, []):
                    self.push(event, call=call, origin=origin)
        deferred, self._deferred = self._deferred, []
        for event in deferred:
            self.push(event)

    def close(self, reason: str) -> None:
        if self.closed_because is None:
            self.closed_because = reason
            log.info("client %s closed: %s", self.tag, reason, extra={"tag": self.tag})
        self._wakeup.set()

    async def events(self) -> AsyncIterator[Sequenced]:
        """The events in order, each once; ends with ClientClosed."""
        while True:
            while self._queue:
                item = self._queue.popleft()
                self._written.append(item)
                if len(self._written) > self.retain:
                    self._written.popleft()
                yield item
            if self.closed_because is not None:
                raise ClientClosed(self.closed_because)
            self._wakeup.clear()
            await self._wakeup.wait()

    def rewind(self, after_seq: int) -> None:
        """Put events after ``after_seq`` that were written but perhaps not
        received back in front of the queue (resume)."""
        if after_seq > self._seq or after_seq < 0:
            raise ResumeError(f"sequence number {after_seq} was never sent (last {self._seq})")
        oldest = (
            self._written[0].seq
            if self._written
            else (self._queue[0].seq if self._queue else self._seq + 1)
        )
        if after_seq + 1 < oldest:
            raise ResumeError(
                f"events {after_seq + 1}..{oldest - 1} are no longer kept; start a new session"
            )
        again = [item for item in self._written if item.seq > after_seq]
        self._written = deque(item for item in self._written if item.seq <= after_seq)
        self._queue.extendleft(reversed(again))
        self._wakeup.set()
