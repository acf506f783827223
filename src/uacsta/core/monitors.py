"""Monitor points: one monitor in the phone per device, however many clients
watch it.

Each client that monitors a device holds a :class:`Subscription` with a
monitorCrossRefID of the server's own making; the phone's monitorCrossRefID
stays inside the server.  A point's state says what the phone knows of it:

    IDLE --start--> STARTING --MonitorStartResponse--> ACTIVE
      ^                |  refused / phone gone            |  phone gone
      +----------------+----------------------------------+--> OUT_OF_SERVICE
    (OUT_OF_SERVICE --phone back--> STARTING)

The events a client sees: BackInService when the phone confirms the monitor
(and again after every restore), OutOfService while the phone is away.
"""

from __future__ import annotations

import enum
import itertools
from collections import deque
from dataclasses import dataclass, field

from ..csta.callstate import CallTracker
from ..csta.model import CstaMessage
from .client_session import ClientSession
from .devices import Device


class PointState(enum.Enum):
    IDLE = "idle"
    STARTING = "starting"
    ACTIVE = "active"
    OUT_OF_SERVICE = "outOfService"


@dataclass(eq=False)
class Subscription:
    xref: str  # the client's monitorCrossRefID
    client: ClientSession
    point: MonitorPoint


@dataclass(eq=False)
class MonitorPoint:
    device: Device
    state: PointState = PointState.IDLE
    phone_xref: str | None = None
    mac: str | None = None  # the phone the monitor runs in
    subscribers: dict[str, Subscription] = field(default_factory=dict)
    tracker: CallTracker = field(default_factory=CallTracker)
    # Why the phone refused the monitor, for the status page and the log.
    problem: str = ""


class MonitorTable:
    """Points by device and by the phone's monitorCrossRefID; subscriptions by
    the server's monitorCrossRefID."""

    def __init__(self) -> None:
        self.points: dict[str, MonitorPoint] = {}  # device key -> point
        self._by_phone_xref: dict[tuple[str, str], MonitorPoint] = {}
        self._subs: dict[str, Subscription] = {}
        # by client too: a client with thousands of monitors is looked up per change
        self._of_client: dict[ClientSession, dict[str, Subscription]] = {}
        self._xrefs = itertools.count(1)
        # In a cluster the node's name goes in front: a session taken over from
        # another node keeps its monitorCrossRefIDs there (see ``subscribe``).
        self.prefix = ""
        # Events whose monitorCrossRefID is not known yet: a phone may send
        # them before its MonitorStartResponse has been processed.
        self.orphans: dict[str, deque[CstaMessage]] = {}

    def __len__(self) -> int:
        return len(self.points)

    def subscribe(self, client: ClientSession, device: Device, xref: str = "") -> Subscription:
        """A new subscription; ``xref`` given: the one the client had on another
        node (it resumes there), unless this table has it already."""
        point = self.points.get(device.key)
        if point is None:
            point = self.points[device.key] = MonitorPoint(device)
        else:
            point.device = device
        if not xref or xref in self._subs:
            xref = f"{self.prefix}{next(self._xrefs):x}"
        sub = Subscription(xref, client, point)
        point.subscribers[sub.xref] = sub
        self._subs[sub.xref] = sub
        self._of_client.setdefault(client, {})[xref] = sub
        return sub

    def subscription(self, client: ClientSession, xref: str) -> Subscription | None:
        """The client's own subscription; another client's monitorCrossRefID
        is as unknown as a made-up one."""
        sub = self._subs.get(xref)
        return sub if sub is not None and sub.client is client else None

    def of_client(self, client: ClientSession) -> list[Subscription]:
        return list(self._of_client.get(client, {}).values())

    def unsubscribe(self, sub: Subscription) -> MonitorPoint | None:
        """Remove a subscription; returns its point when nobody watches it any
        more (the caller stops the monitor in the phone)."""
        self._subs.pop(sub.xref, None)
        mine = self._of_client.get(sub.client)
        if mine is not None:
            mine.pop(sub.xref, None)
            if not mine:
                del self._of_client[sub.client]
        point = sub.point
        point.subscribers.pop(sub.xref, None)
        if point.subscribers:
            return None
        if self.points.get(point.device.key) is point:
            del self.points[point.device.key]
        return point

    def activate(self, point: MonitorPoint, mac: str, phone_xref: str) -> None:
        point.state, point.mac, point.phone_xref, point.problem = (
            PointState.ACTIVE,
            mac,
            phone_xref,
            "",
        )
        self._by_phone_xref[(mac, phone_xref)] = point

    def deactivate(self, point: MonitorPoint, state: PointState) -> None:
        key = (point.mac or "", point.phone_xref or "")
        if self._by_phone_xref.get(key) is point:
            del self._by_phone_xref[key]
        point.state, point.phone_xref = state, None
        point.tracker = CallTracker()

    def by_phone_xref(self, mac: str, xref: str) -> MonitorPoint | None:
        return self._by_phone_xref.get((mac, xref))

    def of_phone(self, mac: str) -> list[MonitorPoint]:
        return [p for p in self.points.values() if p.device.mac == mac or p.mac == mac]

    def keep_orphan(self, mac: str, event: CstaMessage) -> None:
        self.orphans.setdefault(mac, deque(maxlen=64)).append(event)

    def take_orphans(self, mac: str, xref: str) -> list[CstaMessage]:
        kept = self.orphans.get(mac)
        if not kept:
            return []
        mine = [e for e in kept if getattr(e, "monitorCrossRefID", None) == xref]
        if mine:
            self.orphans[mac] = deque(
                (e for e in kept if getattr(e, "monitorCrossRefID", None) != xref), maxlen=64
            )
        return mine
