"""The per-device trace: the SIP and CSTA messages of chosen phones, live.

An administrator picks a phone (by MAC, or a device the server resolves to
its phone) and watches what goes between it, the server and the clients:
SIP both ways on the phone's connection, and the CSTA requests, answers and
events between the server and each client about that phone's devices.

It is cheap when nobody watches: the places that record check one set
(:attr:`Tracer.watched`) and do nothing else.  Every watch is bounded: it
ends by itself after a set time or number of messages, and a watcher that
does not read fast enough loses the oldest entries (counted), never the
server's time.

Like logging, there is one tracer per process (:data:`TRACER`): the places
that record are far apart (sockets, the phone endpoint, the switching
function) and a trace follows a MAC wherever it is handled.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

MAX_SECONDS = 600.0
MAX_MESSAGES = 10_000
BUFFER = 1_000  # entries waiting for a slow watcher


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One message: ``source`` and ``target`` are ``phone``, ``server`` or
    ``client <tag>``; ``kind`` is ``sip`` (``text`` the whole message) or
    ``csta`` (``text`` the XML or JSON form, ``name`` the message)."""

    at: float  # wall clock, seconds
    mac: str
    source: str
    target: str
    kind: str
    name: str
    text: str

    def as_json(self) -> dict[str, object]:
        return {
            "at": self.at,
            "mac": self.mac,
            "from": self.source,
            "to": self.target,
            "kind": self.kind,
            "name": self.name,
            "text": self.text,
        }


@dataclass(eq=False)
class Watch:
    macs: frozenset[str]
    until: float  # monotonic
    left: int  # messages still to be given
    id: int = 0
    dropped: int = 0
    ended: str = ""
    _queue: deque[TraceEntry] = field(default_factory=deque)
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, entry: TraceEntry) -> None:
        if len(self._queue) >= BUFFER:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(entry)
        self._wakeup.set()

    def end(self, why: str) -> None:
        if not self.ended:
            self.ended = why
        self._wakeup.set()


class Tracer:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.watched: set[str] = set()  # the MACs someone traces: the one check
        self._watches: set[Watch] = set()
        self._ids = itertools.count(1)

    def record(self, mac: str, source: str, target: str, kind: str, name: str, text: str) -> None:
        """Called only where ``mac in TRACER.watched``."""
        entry = TraceEntry(time.time(), mac, source, target, kind, name, text)
        now = self.clock()
        for watch in list(self._watches):
            if mac not in watch.macs:
                continue
            if now >= watch.until:
                self._close(watch, "time is up")
                continue
            watch.offer(entry)
            watch.left -= 1
            if watch.left <= 0:
                self._close(watch, "message limit reached")

    def start(self, macs: frozenset[str], seconds: float = 60.0, messages: int = 1_000) -> Watch:
        watch = Watch(
            macs,
            self.clock() + min(max(seconds, 1.0), MAX_SECONDS),
            min(max(messages, 1), MAX_MESSAGES),
            next(self._ids),
        )
        self._watches.add(watch)
        self.watched |= macs
        return watch

    def _close(self, watch: Watch, why: str) -> None:
        watch.end(why)
        self._watches.discard(watch)
        self.watched = {mac for w in self._watches for mac in w.macs}

    def stop(self, watch: Watch) -> None:
        self._close(watch, "stopped")

    async def entries(self, watch: Watch) -> AsyncIterator[TraceEntry]:
        """The watch's entries in order until it ends (time, count or stop);
        the generator closing stops the watch."""
        try:
            while True:
                while watch._queue:
                    yield watch._queue.popleft()
                if watch.ended:
                    return
                watch._wakeup.clear()
                remaining = watch.until - self.clock()
                if remaining <= 0:
                    self._close(watch, "time is up")
                    continue
                try:
                    await asyncio.wait_for(watch._wakeup.wait(), remaining)
                except TimeoutError:
                    self._close(watch, "time is up")
        finally:
            self._close(watch, watch.ended or "stopped")


TRACER = Tracer()
