"""Which device a client's request is about, and what the server does with it.

The subject of each request is one of its fields, given in the table below:
a DeviceID field names the device, a ConnectionID field names it through its
deviceID.  The request goes to the phone that owns that device, written with
the phone's own spelling of the device.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from typing import Any

from ..csta import model as m
from ..csta.types import ConnectionID, DeviceID
from ..vendors import Support, VendorProfile

SUBJECT: dict[type[m.CstaMessage], str] = {
    m.MakeCall: "callingDevice",
    m.AnswerCall: "callToBeAnswered",
    m.ClearConnection: "connectionToBeCleared",
    m.HoldCall: "callToBeHeld",
    m.RetrieveCall: "callToBeRetrieved",
    m.AlternateCall: "activeCall",
    m.ReconnectCall: "activeCall",
    m.ConferenceCall: "heldCall",
    m.TransferCall: "heldCall",
    m.ConsultationCall: "existingCall",
    m.SingleStepTransferCall: "activeCall",
    m.SingleStepConferenceCall: "activeCall",
    m.DeflectCall: "callToBeDiverted",
    m.DirectedPickupCall: "requestingDevice",
    m.DialDigits: "connectionToBeDialed",
    m.GenerateDigits: "connectionToSendDigits",
    m.GetDoNotDisturb: "device",
    m.SetDoNotDisturb: "device",
    m.GetForwarding: "device",
    m.SetForwarding: "device",
    m.GetMessageWaitingIndicator: "device",
    m.SetMessageWaitingIndicator: "device",
    m.SnapshotDevice: "snapshotObject",
    m.SnapshotCall: "snapshotObject",
}
# Answered by the server itself, for its whole device set or the device alone.
SERVER_SERVICES = (
    m.RequestSystemStatus,
    m.SystemRegister,
    m.SystemRegisterCancel,
    m.GetSwitchingFunctionDevices,
    m.GetCSTAFeatures,
    m.GetLogicalDeviceInformation,
    m.GetPhysicalDeviceInformation,
    m.MonitorStart,
    m.MonitorStop,
)


class Route(enum.Enum):
    PHONE = "phone"  # the phone does it
    EMULATE = "emulate"  # the server does it with other services or tracked state
    REFUSE = "refuse"  # serviceNotSupported, the phone is not bothered


# What the server does where the vendor's table says the phone lacks a service.
# AlternateCall is the manual's emulation (HoldCall + RetrieveCall); SnapshotCall
# comes from the call state the monitor's events build up.
EMULATIONS: dict[str, tuple[str, ...]] = {
    "AlternateCall": ("HoldCall", "RetrieveCall"),
    "SnapshotCall": (),
}


def route(request: m.CstaMessage, vendor: VendorProfile) -> Route:
    feature = request.root()
    if feature not in vendor.features:
        # Services the manual's vendor tables do not list (MWI, DialDigits,
        # ReconnectCall...): the phone's own answer says whether it can.
        return Route.PHONE
    support = vendor.support(feature)
    if support in (Support.YES, Support.LIMITED):
        return Route.PHONE
    needs = EMULATIONS.get(feature)
    if needs is not None and all(vendor.supports(n) for n in needs):
        return Route.EMULATE
    return Route.REFUSE


def subject(request: m.CstaMessage) -> tuple[str, DeviceID | None] | None:
    """The subject field's name and the device it names; None for a request
    without one (the server's own services)."""
    name = SUBJECT.get(type(request))
    if name is None:
        return None
    value = getattr(request, name)
    if isinstance(value, ConnectionID):
        return name, value.deviceID
    if isinstance(value, DeviceID):
        return name, value
    return name, None


def respell(
    request: m.CstaMessage, name: str, device: DeviceID, same: Callable[[DeviceID], bool]
) -> m.CstaMessage:
    """The request with the subject device written the phone's way, in the
    subject field and in every connection of that device (a transfer's held
    and active calls); ``same`` tells whether a spelling means that device."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(request):
        value = getattr(request, f.name)
        if isinstance(value, ConnectionID) and value.deviceID is not None:
            if value.deviceID != device and same(value.deviceID):
                changes[f.name] = value._replace(deviceID=device)
        elif f.name == name and isinstance(value, DeviceID) and value != device:
            changes[f.name] = device
    return dataclasses.replace(request, **changes) if changes else request
