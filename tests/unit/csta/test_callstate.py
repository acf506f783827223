"""ECMA-269 event sequences, from each party's view, through the call-state table."""

from __future__ import annotations

from uacsta.csta.callstate import CallTracker
from uacsta.csta.model import (
    ConferencedEvent,
    ConnectionClearedEvent,
    ConnectionListItem,
    DeliveredEvent,
    DivertedEvent,
    EstablishedEvent,
    FailedEvent,
    HeldEvent,
    OriginatedEvent,
    RetrievedEvent,
    ServiceInitiatedEvent,
    TransferedEvent,
)
from uacsta.csta.types import ConnectionID, DeviceID, EventCause
from uacsta.csta.types import LocalConnectionState as S

M = "1"


def conn(call: str, dev: str) -> ConnectionID:
    return ConnectionID(call, DeviceID(dev))


def run(tracker: CallTracker, events: list[object]) -> list[dict[str, S]]:
    states = []
    for event in events:
        anomaly = tracker.apply(event)  # type: ignore[arg-type]
        assert anomaly is None, anomaly
        states.append({c.call_id: c.state for c in tracker.calls.values()})
    return states


def test_basic_call_caller_and_callee() -> None:
    a = CallTracker()
    assert run(
        a,
        [
            ServiceInitiatedEvent(
                monitorCrossRefID=M,
                initiatedConnection=conn("1", "A"),
                localConnectionInfo=S.INITIATED,
            ),
            OriginatedEvent(
                monitorCrossRefID=M,
                originatedConnection=conn("1", "A"),
                localConnectionInfo=S.CONNECTED,
            ),
            DeliveredEvent(
                monitorCrossRefID=M, connection=conn("1", "B"), localConnectionInfo=S.CONNECTED
            ),
            EstablishedEvent(
                monitorCrossRefID=M,
                establishedConnection=conn("1", "B"),
                localConnectionInfo=S.CONNECTED,
            ),
            ConnectionClearedEvent(
                monitorCrossRefID=M, droppedConnection=conn("1", "B"), localConnectionInfo=S.NULL
            ),
        ],
    ) == [{"1": S.INITIATED}, {"1": S.CONNECTED}, {"1": S.CONNECTED}, {"1": S.CONNECTED}, {}]
    b = CallTracker()
    assert run(
        b,
        [
            DeliveredEvent(
                monitorCrossRefID=M, connection=conn("7", "B"), localConnectionInfo=S.ALERTING
            ),
            EstablishedEvent(monitorCrossRefID=M, establishedConnection=conn("7", "B")),
            ConnectionClearedEvent(
                monitorCrossRefID=M, droppedConnection=conn("7", "A"), localConnectionInfo=S.NULL
            ),
        ],
    ) == [{"7": S.ALERTING}, {"7": S.CONNECTED}, {}]


def test_consultation_and_transfer() -> None:
    a = CallTracker()
    run(
        a,
        [
            DeliveredEvent(
                monitorCrossRefID=M, connection=conn("1", "A"), localConnectionInfo=S.ALERTING
            ),
            EstablishedEvent(monitorCrossRefID=M, establishedConnection=conn("1", "A")),
            HeldEvent(monitorCrossRefID=M, heldConnection=conn("1", "A")),
            ServiceInitiatedEvent(monitorCrossRefID=M, initiatedConnection=conn("2", "A")),
            OriginatedEvent(monitorCrossRefID=M, originatedConnection=conn("2", "A")),
            EstablishedEvent(
                monitorCrossRefID=M,
                establishedConnection=conn("2", "C"),
                localConnectionInfo=S.CONNECTED,
            ),
        ],
    )
    assert a.state("1") is S.HOLD and a.state("2") is S.CONNECTED
    run(
        a,
        [
            TransferedEvent(
                monitorCrossRefID=M,
                primaryOldCall=conn("1", "A"),
                secondaryOldCall=conn("2", "A"),
                localConnectionInfo=S.NULL,
                cause=EventCause.TRANSFER,
            )
        ],
    )
    assert a.calls == {}
    # the transferred party: its call continues under the new callID
    b = CallTracker()
    run(
        b,
        [
            DeliveredEvent(
                monitorCrossRefID=M, connection=conn("1", "A"), localConnectionInfo=S.CONNECTED
            ),
            EstablishedEvent(monitorCrossRefID=M, establishedConnection=conn("1", "A")),
            TransferedEvent(
                monitorCrossRefID=M,
                primaryOldCall=conn("1", "B"),
                localConnectionInfo=S.CONNECTED,
                transferredConnections=[
                    ConnectionListItem(newConnection=conn("9", "B"), oldConnection=conn("1", "B"))
                ],
            ),
        ],
    )
    assert {c.call_id: c.state for c in b.calls.values()} == {"9": S.CONNECTED}


def test_conference_and_hold_retrieve() -> None:
    a = CallTracker()
    run(
        a,
        [
            DeliveredEvent(
                monitorCrossRefID=M, connection=conn("1", "A"), localConnectionInfo=S.ALERTING
            ),
            EstablishedEvent(monitorCrossRefID=M, establishedConnection=conn("1", "A")),
            HeldEvent(monitorCrossRefID=M, heldConnection=conn("1", "A")),
            RetrievedEvent(monitorCrossRefID=M, retrievedConnection=conn("1", "A")),
            HeldEvent(monitorCrossRefID=M, heldConnection=conn("1", "A")),
            ServiceInitiatedEvent(monitorCrossRefID=M, initiatedConnection=conn("2", "A")),
            OriginatedEvent(monitorCrossRefID=M, originatedConnection=conn("2", "A")),
            EstablishedEvent(monitorCrossRefID=M, establishedConnection=conn("2", "C")),
            ConferencedEvent(
                monitorCrossRefID=M,
                primaryOldCall=conn("1", "A"),
                secondaryOldCall=conn("2", "A"),
                localConnectionInfo=S.CONNECTED,
                conferenceConnections=[ConnectionListItem(newConnection=conn("3", "A"))],
            ),
        ],
    )
    assert {c.call_id: c.state for c in a.calls.values()} == {"3": S.CONNECTED}


def test_deflect_and_failed_call() -> None:
    b = CallTracker()
    run(
        b,
        [
            DeliveredEvent(
                monitorCrossRefID=M, connection=conn("4", "B"), localConnectionInfo=S.ALERTING
            ),
            DivertedEvent(
                monitorCrossRefID=M,
                connection=conn("4", "B"),
                localConnectionInfo=S.NULL,
                cause=EventCause.REDIRECTED,
            ),
        ],
    )
    assert b.calls == {}
    a = CallTracker()
    run(
        a,
        [
            ServiceInitiatedEvent(monitorCrossRefID=M, initiatedConnection=conn("5", "A")),
            OriginatedEvent(monitorCrossRefID=M, originatedConnection=conn("5", "A")),
            FailedEvent(
                monitorCrossRefID=M,
                failedConnection=conn("5", "X"),
                localConnectionInfo=S.FAIL,
                cause=EventCause.BUSY,
            ),
        ],
    )
    assert a.state("5") is S.FAIL
    run(a, [ConnectionClearedEvent(monitorCrossRefID=M, droppedConnection=conn("5", "A"))])
    assert a.calls == {}


def test_events_that_make_no_sense_are_reported() -> None:
    t = CallTracker()
    anomaly = t.apply(RetrievedEvent(monitorCrossRefID=M, retrievedConnection=conn("1", "A")))
    assert anomaly is not None and "RetrievedEvent in state null" in anomaly.reason
    t.apply(
        DeliveredEvent(
            monitorCrossRefID=M, connection=conn("2", "A"), localConnectionInfo=S.ALERTING
        )
    )
    odd = t.apply(HeldEvent(monitorCrossRefID=M, heldConnection=conn("2", "A")))
    assert odd is not None and "HeldEvent in state alerting" in odd.reason
    bad = t.apply(
        OriginatedEvent(
            monitorCrossRefID=M, originatedConnection=conn("3", "A"), localConnectionInfo=S.HOLD
        )
    )
    assert bad is not None and "announcing hold" in bad.reason
    assert len(t.anomalies) == 3


def test_conference_from_the_added_party() -> None:
    c = CallTracker()
    run(
        c,
        [
            DeliveredEvent(
                monitorCrossRefID=M, connection=conn("2", "C"), localConnectionInfo=S.ALERTING
            ),
            EstablishedEvent(monitorCrossRefID=M, establishedConnection=conn("2", "C")),
            ConferencedEvent(
                monitorCrossRefID=M,
                primaryOldCall=conn("2", "C"),
                localConnectionInfo=S.CONNECTED,
                cause=EventCause.CONFERENCE,
                conferenceConnections=[ConnectionListItem(newConnection=conn("3", "C"))],
            ),
            ConnectionClearedEvent(
                monitorCrossRefID=M,
                droppedConnection=conn("3", "A"),
                localConnectionInfo=S.CONNECTED,
            ),  # A leaves, C stays
        ],
    )
    assert c.state("3") is S.CONNECTED and c.state("2") is S.NULL


def test_deflect_from_the_caller() -> None:
    a = CallTracker()
    run(
        a,
        [
            ServiceInitiatedEvent(monitorCrossRefID=M, initiatedConnection=conn("4", "A")),
            OriginatedEvent(monitorCrossRefID=M, originatedConnection=conn("4", "A")),
            DeliveredEvent(
                monitorCrossRefID=M, connection=conn("4", "B"), localConnectionInfo=S.CONNECTED
            ),
            # B deflects: the caller stays connected, the call rings elsewhere
            DivertedEvent(
                monitorCrossRefID=M,
                connection=conn("4", "B"),
                localConnectionInfo=S.CONNECTED,
                cause=EventCause.REDIRECTED,
            ),
            DeliveredEvent(
                monitorCrossRefID=M, connection=conn("4", "D"), localConnectionInfo=S.CONNECTED
            ),
            EstablishedEvent(monitorCrossRefID=M, establishedConnection=conn("4", "D")),
        ],
    )
    assert a.state("4") is S.CONNECTED
