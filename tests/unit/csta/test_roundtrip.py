from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.csta.strategies import ERROR, message
from uacsta.csta.codec import NAMESPACES, decode, encode
from uacsta.csta.errors import CSTAErrorCode
from uacsta.csta.model import MESSAGE_TYPES, CstaMessage

EDITIONS = st.sampled_from([3, 4, 5, 6])


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), edition=EDITIONS)
def test_every_message_round_trips_in_every_edition(
    cls: type[CstaMessage], data: st.DataObject, edition: int
) -> None:
    msg = data.draw(message(cls))
    xml = encode(msg, edition)
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert NAMESPACES[edition].encode() in xml
    assert decode(xml) == msg


@settings(max_examples=200, deadline=None)
@given(err=ERROR, edition=EDITIONS)
def test_error_codes_round_trip(err: CSTAErrorCode, edition: int) -> None:
    assert decode(encode(err, edition)) == err


def test_every_manual_service_and_event_is_modelled() -> None:
    from uacsta.csta.model import BY_ROOT

    manual = [
        "GetLogicalDeviceInformation",
        "GetPhysicalDeviceInformation",
        "GetSwitchingFunctionDevices",
        "SwitchingFunctionDevices",
        "SystemRegister",
        "SystemRegisterAbort",
        "SystemRegisterCancel",
        "RequestSystemStatus",
        "SwFunctionDevicesChanged",
        "MonitorStart",
        "MonitorStop",
        "SnapshotDevice",
        "SnapshotCall",
        "AlternateCall",
        "AnswerCall",
        "ClearConnection",
        "ConferenceCall",
        "ConsultationCall",
        "DeflectCall",
        "DialDigits",
        "DirectedPickupCall",
        "HoldCall",
        "MakeCall",
        "ReconnectCall",
        "RetrieveCall",
        "SingleStepConferenceCall",
        "SingleStepTransferCall",
        "TransferCall",
        "CallClearedEvent",
        "ConferencedEvent",
        "ConnectionClearedEvent",
        "DeliveredEvent",
        "DigitsDialedEvent",
        "DivertedEvent",
        "EstablishedEvent",
        "FailedEvent",
        "HeldEvent",
        "NetworkCapabilitiesChangedEvent",
        "NetworkReachedEvent",
        "OfferedEvent",
        "OriginatedEvent",
        "QueuedEvent",
        "RetrievedEvent",
        "ServiceInitiatedEvent",
        "TransferedEvent",
        "GenerateDigits",
        "DigitsGeneratedEvent",
        "GetMessageWaitingIndicator",
        "SetMessageWaitingIndicator",
        "MessageWaitingEvent",
        "GetDoNotDisturb",
        "SetDoNotDisturb",
        "DoNotDisturbEvent",
        "GetForwarding",
        "SetForwarding",
        "ForwardingEvent",
        "BackInServiceEvent",
        "OutOfServiceEvent",
        "GetCSTAFeatures",
        "SystemStatus",
    ]
    missing = [name for name in manual if name not in BY_ROOT]
    assert not missing
    requests = [n for n in manual if not n.endswith("Event") and BY_ROOT[n].KIND.value == "request"]
    no_response = {"SwitchingFunctionDevices", "SystemStatus"}
    for name in requests:
        if name not in no_response:
            assert f"{name}Response" in BY_ROOT, name


def test_an_idle_devices_snapshot_keeps_its_empty_list() -> None:
    """crossRefIDorSnapshotData is a CHOICE: with no serviceCrossRefID the
    (empty) snapshotData stands, or the element would carry neither."""
    from uacsta.csta.codec import decode, encode
    from uacsta.csta.model import SnapshotDeviceData, SnapshotDeviceResponse

    idle = SnapshotDeviceResponse(crossRefIDorSnapshotData=SnapshotDeviceData())
    xml = encode(idle, 5)
    assert b"<crossRefIDorSnapshotData><snapshotData/></crossRefIDorSnapshotData>" in xml
    again = decode(xml)
    assert isinstance(again, SnapshotDeviceResponse)
    assert again.crossRefIDorSnapshotData.snapshotData == []
    by_ref = SnapshotDeviceResponse(
        crossRefIDorSnapshotData=SnapshotDeviceData(serviceCrossRefID="9")
    )
    assert b"snapshotData" not in encode(by_ref, 5)
