"""One reference for one call, across the phones that are in it.

Each phone numbers its calls itself: the caller's phone knows a call as
``-3``, the called phone as ``4``.  ECMA-269 allows it (a callID is unique
within one switching sub-domain, and every uaCSTA phone is its own), but a
client that watches both phones wants to know that the two are one call, and
to answer at the called phone the call it saw ringing at the caller.

The switching function sees every monitored phone's events, so it links the
connections: a call at device A that names our device B as a party, and a
call at B that names A, are one call while both last.  The link gets a
*call reference* (``4f1c-17``: this start of the server, then a number), which
every JSON event and response carries beside the phone's own callID, and
which every request accepts in place of a callID (:meth:`CallReferences.local`
turns it into the callID of the device the request is for).

Rules, as the clients can rely on them:

- a reference exists from the first event (or response) that names the
  call at a monitored device, and ends when the call has left every device;
- when two phones' calls are found to be one, the older reference stays and
  the newer one's connections move to it (a call's events before the link
  may name the newer one: the caller's first events come before the called
  phone says who calls); the newer one still means the call in requests;
- a transfer or conference keeps the reference of the call that goes on
  (the primary old call) for the joined call at each device.
"""

from __future__ import annotations

import dataclasses
import itertools
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..csta import model as m
from ..csta.callstate import CallTracker, subject_connection
from ..csta.types import ConnectionID
from .devices import Device

KEEP = 100_000  # references kept at the most (calls whose end was never seen)


@dataclass(slots=True, eq=False)  # one object per reference: hashed by identity
class _Reference:
    name: str
    number: int
    members: dict[str, str] = field(default_factory=dict)  # device key -> that phone's callID


class CallReferences:
    def __init__(
        self,
        find: Callable[[str], Device | None],
        tracker_of: Callable[[Device], CallTracker | None],
    ) -> None:
        self._find = find
        self._tracker_of = tracker_of
        self._run = secrets.token_hex(2)
        self._numbers = itertools.count(1)
        self._by_connection: OrderedDict[tuple[str, str], _Reference] = OrderedDict()
        self._by_name: dict[str, _Reference] = {}
        # A reference whose connections moved to an older one (a link found
        # late): it still means that call in requests.
        self._merged: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_name)

    # -- reading ----------------------------------------------------------------------------

    def of(self, device_key: str, call_id: str | None) -> str:
        """The reference of the call ``call_id`` at the device ('' when none)."""
        if not call_id:
            return ""
        ref = self._by_connection.get((device_key, call_id))
        return ref.name if ref is not None else ""

    def _named(self, name: str) -> _Reference | None:
        for _ in range(8):  # merged into a reference merged in turn: a short chain
            ref = self._by_name.get(name)
            if ref is not None:
                return ref
            later = self._merged.get(name)
            if later is None:
                return None
            name = later
        return None

    def members(self, name: str) -> dict[str, str]:
        """Device key -> that phone's callID, for the reference ``name`` (or
        the one it was merged into)."""
        ref = self._named(name)
        return dict(ref.members) if ref is not None else {}

    def local(self, value: str, device: Device) -> str:
        """The callID at ``device`` that ``value`` means: the device's own
        callID when ``value`` is a reference the device is in (or one merged
        into such), else ``value`` unchanged (a phone's callID)."""
        ref = self._named(value)
        if ref is None:
            return value
        return ref.members.get(device.key, value)

    # -- following the events ---------------------------------------------------------------

    def claim(self, device: Device, call_id: str) -> str:
        """The reference of a call a response names (MakeCall's callingDevice)
        before its events have come: made now, found by the events."""
        key = (device.key, call_id)
        ref = self._by_connection.get(key)
        if ref is None:
            ref = self._new()
            self._join(ref, key)
        return ref.name

    def follow(
        self, device: Device, tracker: CallTracker, before: set[str], event: m.CstaMessage
    ) -> str:
        """After ``tracker`` (the calls at ``device``) applied ``event``: give
        its new calls a reference, link them to the other phones' calls, and
        say the reference the event is about ('' when none)."""
        now = tracker.calls
        joined = ""
        if isinstance(event, m.TransferedEvent | m.ConferencedEvent):
            joined = self._joined(device, tracker, before, event)
        for call_id, call in now.items():
            key = (device.key, call_id)
            ref = self._by_connection.get(key)
            if ref is None:
                ref = self._new()
                self._join(ref, key)
            for spelling in call.parties.values():
                ref = self._link(ref, device, self._find(spelling))
        if joined:
            return joined
        conn = subject_connection(event)
        return self.of(device.key, conn.callID if conn else None)

    def _joined(
        self,
        device: Device,
        tracker: CallTracker,
        before: set[str],
        event: m.TransferedEvent | m.ConferencedEvent,
    ) -> str:
        """A transfer or conference seen at ``device``: the call it makes keeps
        the oldest reference of the calls it joins.  Those are the device's
        calls the event names, and the calls of the device that transfers or
        conferences (its held and active call), whichever phone's event comes
        first; at that device itself the joined references merge."""
        mover_spelling = (
            event.transferringDevice
            if isinstance(event, m.TransferedEvent)
            else event.conferencingDevice
        )
        mover = (
            self._find(mover_spelling.device.value)
            if mover_spelling is not None and mover_spelling.device is not None
            else None
        )
        named = {event.primaryOldCall.callID}
        if event.secondaryOldCall is not None:
            named.add(event.secondaryOldCall.callID)
        items = (
            event.conferenceConnections
            if isinstance(event, m.ConferencedEvent)
            else event.transferredConnections
        )
        named.update(i.newConnection.callID for i in items if i.newConnection)
        ids = {c for c in tracker.calls if c not in before or c in named}
        refs = {self._by_connection.get((device.key, c)) for c in ids | (before - ids)}
        theirs = self._tracker_of(mover) if mover is not None and mover is not device else None
        if mover is not None and theirs is not None:
            refs.update(self._by_connection.get((mover.key, c)) for c in theirs.calls)
        known = [r for r in refs if r is not None]
        if not known:
            return ""
        kept = min(known, key=lambda r: r.number)
        if mover is device:
            for ref in known:
                for member_key, member_call in list(ref.members.items()):
                    if member_key != device.key:
                        self._join(kept, (member_key, member_call))
        for call_id in ids:
            self._join(kept, (device.key, call_id))
        return kept.name

    def ended(self, device: Device, call_ids: Iterable[str]) -> None:
        """The calls have left the device (after their last event was relayed)."""
        for call_id in call_ids:
            ref = self._by_connection.pop((device.key, call_id), None)
            if ref is not None:
                self._leave(ref, device.key, call_id)

    def localise(self, msg: m.CstaMessage, device: Device) -> m.CstaMessage:
        """The request with every callID that is a reference replaced by the
        callID of the connection's device (``device`` when it names none)."""
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(msg):  # a request's connections are top-level fields
            value = getattr(msg, f.name)
            if not isinstance(value, ConnectionID) or not value.callID:
                continue
            if self._named(value.callID) is None:
                continue  # a phone's own callID
            at = self._find(value.deviceID.value) if value.deviceID is not None else None
            changes[f.name] = value._replace(callID=self.local(value.callID, at or device))
        return dataclasses.replace(msg, **changes) if changes else msg

    # -- internals --------------------------------------------------------------------------

    def _new(self) -> _Reference:
        number = next(self._numbers)
        ref = _Reference(f"{self._run}-{number}", number)
        self._by_name[ref.name] = ref
        return ref

    def _join(self, ref: _Reference, key: tuple[str, str]) -> None:
        old = self._by_connection.get(key)
        if old is ref:
            return
        if old is not None:
            old.members.pop(key[0], None)
            if not old.members:
                self._by_name.pop(old.name, None)
                self._merged[old.name] = ref.name
                while len(self._merged) > KEEP:
                    self._merged.popitem(last=False)
        ref.members[key[0]] = key[1]
        self._by_connection[key] = ref
        while len(self._by_connection) > KEEP:
            (device_key, call_id), gone = self._by_connection.popitem(last=False)
            self._leave(gone, device_key, call_id)

    def _leave(self, ref: _Reference, device_key: str, call_id: str) -> None:
        if ref.members.get(device_key) == call_id:
            del ref.members[device_key]
        if not ref.members:
            self._by_name.pop(ref.name, None)

    def _link(self, ref: _Reference, device: Device, other: Device | None) -> _Reference:
        """``device``'s call (``ref``) names ``other``: when ``other``'s phone
        has a call naming ``device`` that is not linked yet, they are one."""
        if other is None or other.key == device.key or other.key in ref.members:
            return ref
        tracker = self._tracker_of(other)
        if tracker is None:
            return ref
        for call_id, call in tracker.calls.items():
            if not any(self._find(p) is device for p in call.parties.values()):
                continue
            theirs = self._by_connection.get((other.key, call_id))
            if theirs is None:
                self._join(ref, (other.key, call_id))
                return ref
            if theirs is ref or device.key in theirs.members:
                continue
            older, newer = (ref, theirs) if ref.number < theirs.number else (theirs, ref)
            for member_key, member_call in list(newer.members.items()):
                self._join(older, (member_key, member_call))
            return older
        return ref
