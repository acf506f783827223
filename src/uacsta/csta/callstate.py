"""The ECMA-269 call model as data, and a tracker built on it.

A connection (one device in one call) is in one of the LocalConnectionStates.
Each call-control event moves the *subject's* connection; ``TRANSITIONS``
says from which states an event may come and which state it leads to when the
event itself does not say (``localConnectionInfo`` wins when present and
allowed).  The tracker follows the calls of one monitored device from its
events, so that snapshots can be answered from it, and reports an event that
makes no sense in the current state instead of silently accepting it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import (
    CallClearedEvent,
    ConferencedEvent,
    ConnectionClearedEvent,
    ConnectionListItem,
    CstaMessage,
    DeliveredEvent,
    DivertedEvent,
    EstablishedEvent,
    FailedEvent,
    HeldEvent,
    NetworkReachedEvent,
    OfferedEvent,
    OriginatedEvent,
    QueuedEvent,
    RetrievedEvent,
    ServiceInitiatedEvent,
    TransferedEvent,
)
from .types import ConnectionID, EventDevice, LocalConnectionState, device_key

S = LocalConnectionState
NULL, INITIATED, ALERTING, CONNECTED, HOLD, QUEUED, FAIL = (
    S.NULL,
    S.INITIATED,
    S.ALERTING,
    S.CONNECTED,
    S.HOLD,
    S.QUEUED,
    S.FAIL,
)
ANY = frozenset(S)
LIVE = frozenset({INITIATED, ALERTING, CONNECTED, HOLD, QUEUED, FAIL})

# event type -> (states the local connection may be in before, default state after,
#                states the event may announce in localConnectionInfo)
TRANSITIONS: dict[type[CstaMessage], tuple[frozenset[S], S, frozenset[S]]] = {
    ServiceInitiatedEvent: (frozenset({NULL}), INITIATED, frozenset({INITIATED})),
    OriginatedEvent: (frozenset({NULL, INITIATED}), CONNECTED, frozenset({CONNECTED})),
    # Delivered: alerting at the called device; connected (ringback) at the caller.
    DeliveredEvent: (
        frozenset({NULL, INITIATED, CONNECTED, QUEUED, ALERTING}),
        ALERTING,
        frozenset({ALERTING, CONNECTED}),
    ),
    OfferedEvent: (frozenset({NULL}), ALERTING, frozenset({ALERTING})),
    QueuedEvent: (
        frozenset({NULL, INITIATED, CONNECTED, ALERTING}),
        QUEUED,
        frozenset({QUEUED, CONNECTED}),
    ),
    NetworkReachedEvent: (frozenset({INITIATED, CONNECTED}), CONNECTED, frozenset({CONNECTED})),
    EstablishedEvent: (
        frozenset({NULL, INITIATED, ALERTING, CONNECTED, QUEUED}),
        CONNECTED,
        frozenset({CONNECTED}),
    ),
    HeldEvent: (frozenset({CONNECTED, HOLD}), HOLD, frozenset({HOLD, CONNECTED})),
    RetrievedEvent: (frozenset({HOLD, CONNECTED}), CONNECTED, frozenset({CONNECTED})),
    FailedEvent: (LIVE | {NULL}, FAIL, frozenset({FAIL})),
    DivertedEvent: (
        frozenset({ALERTING, QUEUED, NULL, CONNECTED}),
        NULL,
        frozenset({NULL, CONNECTED, ALERTING}),
    ),
    ConnectionClearedEvent: (ANY, NULL, frozenset({NULL, CONNECTED, HOLD, ALERTING})),
    CallClearedEvent: (ANY, NULL, frozenset({NULL})),
    TransferedEvent: (LIVE | {NULL}, NULL, frozenset({NULL, CONNECTED, ALERTING})),
    ConferencedEvent: (
        frozenset({CONNECTED, HOLD, ALERTING}),
        CONNECTED,
        frozenset({CONNECTED, HOLD}),
    ),
}


@dataclass(frozen=True, slots=True)
class Anomaly:
    """An event that does not fit the tracked state (kept, not applied blindly)."""

    event: str
    call_id: str | None
    state_before: S
    reason: str


@dataclass(slots=True)
class TrackedCall:
    call_id: str
    state: S
    device_id: str | None = None  # the monitored device's identifier in this call
    # The other devices in the call, as the events named them: key -> spelling.
    parties: dict[str, str] = field(default_factory=dict)


@dataclass
class CallTracker:
    """The calls of one monitored device, from its events."""

    calls: dict[str, TrackedCall] = field(default_factory=dict)
    anomalies: list[Anomaly] = field(default_factory=list)

    def state(self, call_id: str) -> S:
        call = self.calls.get(call_id)
        return call.state if call else NULL

    def apply(self, event: CstaMessage) -> Anomaly | None:
        rule = TRANSITIONS.get(type(event))
        if rule is None:
            return None
        conn = subject_connection(event)
        if isinstance(event, TransferedEvent | ConferencedEvent):
            return self._merge(event, rule)
        call_id = conn.callID if conn else None
        if call_id is None:
            return self._note(event, None, NULL, "event without a callID")
        before = self.state(call_id)
        allowed_before, default_after, announced = rule
        after = getattr(event, "localConnectionInfo", None) or default_after
        anomaly = None
        if before not in allowed_before:
            anomaly = self._note(
                event, call_id, before, f"{type(event).__name__} in state {before.value}"
            )
        elif after not in announced:
            anomaly = self._note(
                event, call_id, before, f"{type(event).__name__} announcing {after.value}"
            )
            after = default_after
        self._set(call_id, after, conn)
        self._parties(event, call_id)
        return anomaly

    def _parties(self, event: CstaMessage, call_id: str) -> None:
        """Who else is in the call: the devices the event names besides the
        monitored one (a releasing device has left it)."""
        call = self.calls.get(call_id)
        if call is None:
            return
        own = device_key(call.device_id) if call.device_id else None
        for name in _PARTY_FIELDS:
            party = getattr(event, name, None)
            if isinstance(party, EventDevice) and party.device is not None:
                key = party.device.key
                if key != own:
                    call.parties[key] = party.device.value
        released = getattr(event, "releasingDevice", None)
        if isinstance(released, EventDevice) and released.key is not None:
            call.parties.pop(released.key, None)

    def _merge(
        self, event: TransferedEvent | ConferencedEvent, rule: tuple[frozenset[S], S, frozenset[S]]
    ) -> Anomaly | None:
        primary = event.primaryOldCall.callID
        secondary = event.secondaryOldCall.callID if event.secondaryOldCall else None
        after = event.localConnectionInfo or rule[1]
        anomaly = None
        if primary is None or primary not in self.calls:
            anomaly = self._note(event, primary, NULL, "old call not known")
        items = (
            event.conferenceConnections
            if isinstance(event, ConferencedEvent)
            else event.transferredConnections
        )
        new_call_id = next(
            (i.newConnection.callID for i in items if i.newConnection and i.newConnection.callID),
            primary,
        )
        olds = [self.calls.pop(old, None) for old in (primary, secondary) if old is not None]
        if after is not NULL and new_call_id is not None:
            joined = self.calls[new_call_id] = TrackedCall(new_call_id, after)
            joined.device_id = next((c.device_id for c in olds if c and c.device_id), None)
            joined.parties = _joined_parties(event, olds, items, joined.device_id)
        return anomaly

    def _set(self, call_id: str, state: S, conn: ConnectionID | None) -> None:
        if state is NULL:
            self.calls.pop(call_id, None)
            return
        call = self.calls.get(call_id)
        if call is None:
            call = self.calls[call_id] = TrackedCall(call_id, state)
        call.state = state
        # The monitored device: the subject of the call's first event.  Later
        # subjects can be the far end (a DeliveredEvent at the caller names
        # the alerting connection).
        if call.device_id is None and conn is not None and conn.deviceID is not None:
            call.device_id = conn.deviceID.value

    def _note(self, event: CstaMessage, call_id: str | None, before: S, reason: str) -> Anomaly:
        anomaly = Anomaly(type(event).__name__, call_id, before, reason)
        self.anomalies.append(anomaly)
        del self.anomalies[:-100]  # the recent ones are what a support case needs
        return anomaly


def _joined_parties(
    event: TransferedEvent | ConferencedEvent,
    olds: list[TrackedCall | None],
    items: list[ConnectionListItem],
    own: str | None,
) -> dict[str, str]:
    """The other devices in the call a transfer or conference made: the
    connections the event lists, else the old calls' parties with the added
    party and without the one that left (the transferring device)."""
    parties: dict[str, str] = {}
    listed = [i.newConnection.deviceID for i in items if i.newConnection]
    if listed:
        parties = {d.key: d.value for d in listed if d is not None}
    else:
        for call in olds:
            if call is not None:
                parties.update(call.parties)
        if isinstance(event, TransferedEvent):
            gone, added = event.transferringDevice, event.transferredToDevice
        else:
            gone, added = None, event.addedParty
        if added is not None and added.device is not None:
            parties[added.device.key] = added.device.value
        if gone is not None and gone.key is not None:
            parties.pop(gone.key, None)
    if own is not None:
        parties.pop(device_key(own), None)
    return parties


_PARTY_FIELDS = ("callingDevice", "calledDevice", "alertingDevice", "answeringDevice")
_SUBJECT = {
    ServiceInitiatedEvent: "initiatedConnection",
    OriginatedEvent: "originatedConnection",
    DeliveredEvent: "connection",
    OfferedEvent: "offeredConnection",
    QueuedEvent: "queuedConnection",
    NetworkReachedEvent: "outboundConnection",
    EstablishedEvent: "establishedConnection",
    HeldEvent: "heldConnection",
    RetrievedEvent: "retrievedConnection",
    FailedEvent: "failedConnection",
    DivertedEvent: "connection",
    ConnectionClearedEvent: "droppedConnection",
    CallClearedEvent: "clearedCall",
    TransferedEvent: "primaryOldCall",
    ConferencedEvent: "primaryOldCall",
}


def subject_connection(event: CstaMessage) -> ConnectionID | None:
    name = _SUBJECT.get(type(event))
    value = getattr(event, name, None) if name else None
    return value if isinstance(value, ConnectionID) else None
