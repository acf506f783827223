"""The Python client's events say what most code wants without walking the
CSTA message: kind, device, call, cause, and a one-line form."""

from __future__ import annotations

from tests.helpers.typed_client import Event
from uacsta.csta import model as m
from uacsta.csta.types import ConnectionID, DeviceID, EventCause, EventDevice

B = "sip:202@pbx.example"


def test_a_call_event() -> None:
    event = Event(
        7,
        m.DeliveredEvent(
            monitorCrossRefID="1",
            connection=ConnectionID("2", DeviceID(B)),
            callingDevice=EventDevice.of("sip:201@pbx.example"),
            cause=EventCause.NEW_CALL,
        ),
    )
    assert (event.kind, event.device, event.call, event.cause) == (
        "DeliveredEvent",
        B,
        "2",
        "newCall",
    )
    assert str(event) == f"7 DeliveredEvent {B} call 2 (newCall)"


def test_a_feature_event_and_one_without_a_device() -> None:
    dnd = Event(
        8, m.DoNotDisturbEvent(monitorCrossRefID="1", device=EventDevice.of(B), doNotDisturbOn=True)
    )
    assert (dnd.kind, dnd.device, dnd.call, dnd.cause) == ("DoNotDisturbEvent", B, None, None)
    assert str(dnd) == f"8 DoNotDisturbEvent {B}"
    cleared = Event(
        9, m.CallClearedEvent(monitorCrossRefID="1", clearedCall=ConnectionID("5", None))
    )
    assert (cleared.device, cleared.call) == (None, "5")
    assert str(cleared) == "9 CallClearedEvent - call 5"
