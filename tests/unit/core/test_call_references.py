"""The call references of the switching function, from the phones' events
applied to real call trackers: linking, the older reference winning, the end
of a reference, and requests naming a reference."""

from __future__ import annotations

from uacsta.core.calls import CallReferences
from uacsta.core.devices import Device
from uacsta.csta import model as m
from uacsta.csta.callstate import CallTracker
from uacsta.csta.types import ConnectionID, DeviceID, EventDevice
from uacsta.csta.types import LocalConnectionState as S

A, B, C = (Device(f"{n}@pbx", DeviceID(f"sip:{n}@pbx"), f"mac{n}") for n in ("201", "202", "203"))


class World:
    def __init__(self) -> None:
        self.trackers = {d.key: CallTracker() for d in (A, B, C)}
        devices = {d.key: d for d in (A, B, C)}
        self.refs = CallReferences(
            lambda s: devices.get(DeviceID(s).key), lambda d: self.trackers.get(d.key)
        )

    def see(self, device: Device, event: m.CstaMessage) -> str:
        tracker = self.trackers[device.key]
        before = set(tracker.calls)
        tracker.apply(event)
        ref = self.refs.follow(device, tracker, before, event)
        self.refs.ended(device, before - tracker.calls.keys())
        return ref


def delivered(at: Device, call: str, calling: Device, called: Device) -> m.DeliveredEvent:
    return m.DeliveredEvent(
        monitorCrossRefID="1",
        connection=ConnectionID(call, at.id),
        alertingDevice=EventDevice.of(called.id.value),
        callingDevice=EventDevice.of(calling.id.value),
        calledDevice=EventDevice.of(called.id.value),
        localConnectionInfo=S.CONNECTED if at is calling else S.ALERTING,
    )


def cleared(at: Device, call: str) -> m.ConnectionClearedEvent:
    return m.ConnectionClearedEvent(
        monitorCrossRefID="1",
        droppedConnection=ConnectionID(call, at.id),
        releasingDevice=EventDevice.of(at.id.value),
        localConnectionInfo=S.NULL,
    )


def test_the_called_phones_call_joins_the_callers_reference() -> None:
    w = World()
    initiated = m.ServiceInitiatedEvent(
        monitorCrossRefID="1", initiatedConnection=ConnectionID("-3", A.id)
    )
    first = w.see(A, initiated)
    assert first and w.see(A, delivered(A, "-3", A, B)) == first
    assert w.see(B, delivered(B, "4", A, B)) == first
    assert w.refs.members(first) == {A.key: "-3", B.key: "4"}
    # a request names the reference: each device gets its own callID
    answer = m.AnswerCall(callToBeAnswered=ConnectionID(first, B.id))
    assert w.refs.localise(answer, B).callToBeAnswered == ConnectionID("4", B.id)  # type: ignore[attr-defined]
    hold = m.HoldCall(callToBeHeld=ConnectionID(first, None))
    assert w.refs.localise(hold, A).callToBeHeld == ConnectionID("-3", None)  # type: ignore[attr-defined]
    # a phone's own callID passes unchanged
    assert w.refs.localise(m.HoldCall(callToBeHeld=ConnectionID("-3", A.id)), A) == m.HoldCall(
        callToBeHeld=ConnectionID("-3", A.id)
    )
    w.see(A, cleared(A, "-3"))
    assert w.refs.members(first) == {B.key: "4"}
    w.see(B, cleared(B, "4"))
    assert w.refs.members(first) == {} and len(w.refs) == 0
    # once gone, the reference means nothing: it goes to the phone as it is
    assert w.refs.local(first, B) == first


def test_two_references_for_one_call_merge_into_the_older() -> None:
    w = World()
    # the called phone speaks first, naming nobody yet: its own reference
    offered = m.OfferedEvent(monitorCrossRefID="1", offeredConnection=ConnectionID("9", B.id))
    b_ref = w.see(B, offered)
    initiated = ConnectionID("1", A.id)
    a_ref = w.see(A, m.ServiceInitiatedEvent(monitorCrossRefID="1", initiatedConnection=initiated))
    assert a_ref != b_ref
    # A's call names B, then B's call names A: one call, B's (older) reference
    w.see(A, delivered(A, "1", A, B))
    assert w.see(B, delivered(B, "9", A, B)) == b_ref
    assert w.refs.members(b_ref) == {A.key: "1", B.key: "9"}
    # the newer reference, which A's first events carried, still means the call
    assert w.refs.members(a_ref) == w.refs.members(b_ref)
    assert w.refs.local(a_ref, A) == "1" and w.refs.local(a_ref, B) == "9"


def test_a_response_claims_a_reference_the_events_then_find() -> None:
    w = World()
    claimed = w.refs.claim(A, "-7")
    assert w.see(A, delivered(A, "-7", A, C)) == claimed
    assert w.see(C, delivered(C, "2", A, C)) == claimed


def test_a_call_to_an_outside_number_has_its_own_reference() -> None:
    w = World()
    outside = Device("0301234@pbx", DeviceID("0301234"), "")
    ref = w.see(A, delivered(A, "5", A, outside))
    assert w.refs.members(ref) == {A.key: "5"}
