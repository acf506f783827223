"""CSTA messages as JSON: every type survives JSON text and back, and bad
objects are refused with the field that is wrong."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.csta.strategies import ERROR, message
from uacsta.csta import model as m
from uacsta.csta.errors import CSTAErrorCode
from uacsta.csta.jsonform import JsonFormError, from_json, to_json
from uacsta.csta.model import MESSAGE_TYPES, CstaMessage
from uacsta.csta.types import (
    ConnectionID,
    DeviceChoice,
    DeviceID,
    EventDevice,
    LocalConnectionState,
)


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_message_survives_json(cls: type[CstaMessage], data: st.DataObject) -> None:
    msg = data.draw(message(cls))
    text = json.dumps(to_json(msg))
    back = from_json(json.loads(text))
    assert type(back) is cls
    # JSON keeps what a client needs: the device strings, not how XML wrapped them
    assert to_json(back) == to_json(msg)


@settings(max_examples=100, deadline=None)
@given(err=ERROR)
def test_error_codes_survive_json(err: CSTAErrorCode) -> None:
    assert from_json(json.loads(json.dumps(to_json(err)))) == err


def test_shape_of_an_event() -> None:
    event = m.DeliveredEvent(
        monitorCrossRefID="7",
        connection=ConnectionID("12", DeviceID("sip:202@pbx")),
        alertingDevice=EventDevice.of("sip:202@pbx"),
        callingDevice=EventDevice.of("201"),
        calledDevice=EventDevice(DeviceChoice.NOT_KNOWN),
        localConnectionInfo=LocalConnectionState.ALERTING,
    )
    assert to_json(event) == {
        "type": "DeliveredEvent",
        "monitorCrossRefID": "7",
        "connection": {"callID": "12", "deviceID": "sip:202@pbx"},
        "alertingDevice": "sip:202@pbx",
        "callingDevice": "201",
        "calledDevice": {"choice": "notKnown"},
        "localConnectionInfo": "alerting",
    }


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ([], "is a JSON object"),
        ({}, '"type" must name'),
        ({"type": "Nope"}, "'Nope' is not a CSTA message"),
        ({"type": "MakeCall", "callingDevice": "201"}, "missing calledDirectoryNumber"),
        (
            {"type": "MakeCall", "callingDevice": "", "calledDirectoryNumber": "2"},
            "MakeCall.callingDevice: expected a non-empty string",
        ),
        (
            {"type": "MakeCall", "callingDevice": "1", "calledDirectoryNumber": "2", "x": 1},
            "unknown field 'x'",
        ),
        ({"type": "HoldCall", "callToBeHeld": "12"}, "HoldCall.callToBeHeld: expected"),
        (
            {"type": "SetDoNotDisturb", "device": "1", "doNotDisturbOn": "yes"},
            "expected true or false",
        ),
        (
            {"type": "SetForwarding", "device": "1", "activateForward": True, "ringCount": "3"},
            "expected an integer",
        ),
        ({"type": "CSTAErrorCode", "category": "nonsense"}, "CSTAErrorCode"),
    ],
)
def test_bad_objects_are_refused_with_the_reason(data: object, reason: str) -> None:
    with pytest.raises(JsonFormError, match=reason.replace("(", r"\(").replace(".", r"\.")):
        from_json(data)


def test_numbers_may_be_written_without_quotes() -> None:
    msg = from_json({"type": "MakeCall", "callingDevice": 201, "calledDirectoryNumber": 202})
    assert msg == m.MakeCall(callingDevice=DeviceID("201"), calledDirectoryNumber=DeviceID("202"))
