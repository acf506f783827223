"""Every CSTA message of the manual's section 4.2.1 as a typed dataclass.

Field names are the ECMA-323 element names and field order is schema order:
the codec (``codec.py``) reads both from here, so a message is defined once.
Lists are wrapped in an element named like the field, each item in the
element named by ``items(...)``.  Every message keeps ``extensions`` (ECMA's
``extensions``/``privateData``) and ``unknown`` (children we do not model), both
relayed as received.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .errors import CSTAErrorCode
from .types import (
    AutoOriginate,
    ConnectionID,
    DeviceCategory,
    DeviceID,
    EventCause,
    EventDevice,
    ForwardingType,
    LocalConnectionState,
    MonitorType,
    ParticipationType,
    RawXml,
    SystemStatus,
)


class Kind(enum.Enum):
    REQUEST = "request"
    RESPONSE = "response"
    EVENT = "event"


def items(name: str) -> Any:
    """A list field: wrapper element = field name, one ``name`` element per item."""
    return field(default_factory=list, metadata={"item": name})


@dataclass(kw_only=True)
class CstaMessage:
    KIND: ClassVar[Kind] = Kind.REQUEST
    extensions: RawXml | None = None
    unknown: list[RawXml] = field(default_factory=list, metadata={"skip": True})

    @classmethod
    def root(cls) -> str:
        return cls.__name__


class Request(CstaMessage):
    KIND = Kind.REQUEST


class Response(CstaMessage):
    KIND = Kind.RESPONSE


class Event(CstaMessage):
    KIND = Kind.EVENT


# -- nested structures -----------------------------------------------------------


@dataclass(kw_only=True)
class SwitchingFunctionDevice:
    deviceID: DeviceID
    deviceCategory: DeviceCategory | None = None
    namedDeviceTypes: RawXml | None = None
    deviceAttributes: RawXml | None = None
    deviceModelName: str | None = None
    nidGroup: RawXml | None = None


@dataclass(kw_only=True)
class RequestTypes:
    systemStatus: bool | None = None
    requestSystemStatus: bool | None = None
    switchingFunctionCapsChanged: bool | None = None
    switchingFunctionDevicesChanged: bool | None = None


@dataclass(kw_only=True)
class MonitorObject:
    deviceObject: DeviceID | None = None
    callObject: ConnectionID | None = None


@dataclass(kw_only=True)
class CompoundCallState:
    localConnectionState: LocalConnectionState | None = None


@dataclass(kw_only=True)
class LocalCallState:
    compoundCallState: CompoundCallState | None = None
    simpleCallState: str | None = None
    unknown_: RawXml | None = field(default=None, metadata={"xml": "unknown"})


@dataclass(kw_only=True)
class SnapshotDeviceResponseInfo:
    connectionIdentifier: ConnectionID
    endpointDevice: EventDevice | None = None
    localCallState: LocalCallState | None = None
    servicesPermitted: RawXml | None = None
    mediaServiceInfoList: RawXml | None = None
    callLinkageData: RawXml | None = None


@dataclass(kw_only=True)
class SnapshotDeviceData:
    # ECMA-323: a CHOICE of the two; with no serviceCrossRefID the list stands, even empty.
    CHOICE: ClassVar[tuple[str, ...]] = ("snapshotData", "serviceCrossRefID")
    serviceCrossRefID: str | None = None
    snapshotData: list[SnapshotDeviceResponseInfo] = items("snapshotDeviceResponseInfo")


@dataclass(kw_only=True)
class SnapshotCallResponseInfo:
    deviceOnCall: EventDevice | None = None
    callIdentifier: ConnectionID | None = None
    localConnectionState: LocalConnectionState | None = None


@dataclass(kw_only=True)
class SnapshotCallData:
    # ECMA-323: a CHOICE of the two; with no serviceCrossRefID the list stands, even empty.
    CHOICE: ClassVar[tuple[str, ...]] = ("snapshotData", "serviceCrossRefID")
    serviceCrossRefID: str | None = None
    snapshotData: list[SnapshotCallResponseInfo] = items("snapshotCallResponseInfo")


@dataclass(kw_only=True)
class ConnectionListItem:
    newConnection: ConnectionID | None = None
    oldConnection: ConnectionID | None = None
    endpoint: RawXml | None = None
    associatedNID: RawXml | None = None


@dataclass(kw_only=True)
class ForwardListItem:
    forwardingType: ForwardingType | None = None
    forwardStatus: bool | None = None
    forwardDN: DeviceID | None = None
    forwardDefault: str | None = None
    ringCount: int | None = None
    ringDuration: int | None = None


# -- capability exchange ------------------------------------------------------------


@dataclass(kw_only=True)
class GetCSTAFeatures(Request):
    pass


@dataclass(kw_only=True)
class GetCSTAFeaturesResponse(Response):
    supportedServices: RawXml | None = None
    supportedEvents: RawXml | None = None


@dataclass(kw_only=True)
class GetLogicalDeviceInformation(Request):
    device: DeviceID


@dataclass(kw_only=True)
class GetLogicalDeviceInformationResponse(Response):
    deviceCategory: DeviceCategory | None = None
    groupDeviceAttributes: RawXml | None = None
    namedDeviceTypes: RawXml | None = None
    deviceModelName: str | None = None


@dataclass(kw_only=True)
class GetPhysicalDeviceInformation(Request):
    device: DeviceID


@dataclass(kw_only=True)
class GetPhysicalDeviceInformationResponse(Response):
    deviceCategory: DeviceCategory | None = None
    groupDeviceAttributes: RawXml | None = None
    namedDeviceTypes: RawXml | None = None
    deviceModelName: str | None = None


@dataclass(kw_only=True)
class GetSwitchingFunctionDevices(Request):
    requestedDeviceID: DeviceID | None = None
    requestedDeviceCategory: DeviceCategory | None = None


@dataclass(kw_only=True)
class GetSwitchingFunctionDevicesResponse(Response):
    serviceCrossRefID: str | None = None


@dataclass(kw_only=True)
class SwitchingFunctionDevices(Request):
    """Sent by the switching function (the phone) after the response above."""

    serviceCrossRefID: str | None = None
    segmentID: int | None = None
    lastSegment: bool | None = None
    deviceList: list[SwitchingFunctionDevice] = items("device")


@dataclass(kw_only=True)
class SwitchingFunctionDevicesResponse(Response):
    pass


# -- system services -------------------------------------------------------------------


@dataclass(kw_only=True)
class SystemRegister(Request):
    requestTypes: RequestTypes | None = None
    requestedStatusFilter: RawXml | None = None


@dataclass(kw_only=True)
class SystemRegisterResponse(Response):
    sysStatRegisterID: str
    actualStatusFilter: RawXml | None = None


@dataclass(kw_only=True)
class SystemRegisterAbort(Event):
    sysStatRegisterID: str


@dataclass(kw_only=True)
class SystemRegisterCancel(Request):
    sysStatRegisterID: str


@dataclass(kw_only=True)
class SystemRegisterCancelResponse(Response):
    pass


@dataclass(kw_only=True)
class RequestSystemStatus(Request):
    sysStatRegisterID: str | None = None


@dataclass(kw_only=True)
class RequestSystemStatusResponse(Response):
    systemStatus: SystemStatus


@dataclass(kw_only=True)
class SystemStatus_(Request):
    """ECMA-323 ``SystemStatus`` (the enumeration has the plain name here)."""

    XML_ROOT: ClassVar[str] = "SystemStatus"
    sysStatRegisterID: str | None = None
    systemStatus: SystemStatus

    @classmethod
    def root(cls) -> str:
        return cls.XML_ROOT


@dataclass(kw_only=True)
class SystemStatusResponse(Response):
    pass


@dataclass(kw_only=True)
class SwFunctionDevicesChanged(Event):
    sysStatRegisterID: str | None = None


# -- monitoring ----------------------------------------------------------------------------


@dataclass(kw_only=True)
class MonitorStart(Request):
    monitorObject: MonitorObject
    requestedMonitorFilter: RawXml | None = None
    monitorType: MonitorType | None = None
    requestedMonitorMediaClass: RawXml | None = None


@dataclass(kw_only=True)
class MonitorStartResponse(Response):
    monitorCrossRefID: str
    actualMonitorFilter: RawXml | None = None
    actualMonitorMediaClass: RawXml | None = None
    monitorExistingCalls: bool | None = None


@dataclass(kw_only=True)
class MonitorStop(Request):
    monitorCrossRefID: str


@dataclass(kw_only=True)
class MonitorStopResponse(Response):
    pass


# -- snapshots -------------------------------------------------------------------------------


@dataclass(kw_only=True)
class SnapshotDevice(Request):
    snapshotObject: DeviceID


@dataclass(kw_only=True)
class SnapshotDeviceResponse(Response):
    crossRefIDorSnapshotData: SnapshotDeviceData


@dataclass(kw_only=True)
class SnapshotCall(Request):
    snapshotObject: ConnectionID


@dataclass(kw_only=True)
class SnapshotCallResponse(Response):
    crossRefIDorSnapshotData: SnapshotCallData
    callingDevice: EventDevice | None = None
    calledDevice: EventDevice | None = None
    associatedCallingDevice: EventDevice | None = None
    associatedCalledDevice: EventDevice | None = None
    correlatorData: str | None = None


# -- call control services ----------------------------------------------------------------------


@dataclass(kw_only=True)
class AlternateCall(Request):
    heldCall: ConnectionID
    activeCall: ConnectionID


@dataclass(kw_only=True)
class AlternateCallResponse(Response):
    pass


@dataclass(kw_only=True)
class AnswerCall(Request):
    callToBeAnswered: ConnectionID
    correlatorData: str | None = None
    userData: RawXml | None = None


@dataclass(kw_only=True)
class AnswerCallResponse(Response):
    pass


@dataclass(kw_only=True)
class ClearConnection(Request):
    connectionToBeCleared: ConnectionID
    correlatorData: str | None = None
    userData: RawXml | None = None
    reason: str | None = None


@dataclass(kw_only=True)
class ClearConnectionResponse(Response):
    pass


@dataclass(kw_only=True)
class ConferenceCall(Request):
    heldCall: ConnectionID
    activeCall: ConnectionID


@dataclass(kw_only=True)
class ConferenceCallResponse(Response):
    conferenceCall: ConnectionID | None = None
    connections: list[ConnectionListItem] = items("connectionListItem")


@dataclass(kw_only=True)
class ConsultationCall(Request):
    existingCall: ConnectionID
    consultedDevice: DeviceID
    connectionReservation: bool | None = None
    accountCode: str | None = None
    authCode: str | None = None
    correlatorData: str | None = None
    userData: RawXml | None = None
    callCharacteristics: RawXml | None = None
    consultOptions: RawXml | None = None
    subjectOfCall: str | None = None
    languagePreferences: str | None = None


@dataclass(kw_only=True)
class ConsultationCallResponse(Response):
    initiatedCall: ConnectionID | None = None


@dataclass(kw_only=True)
class DeflectCall(Request):
    callToBeDiverted: ConnectionID
    newDestination: DeviceID
    correlatorData: str | None = None
    userData: RawXml | None = None


@dataclass(kw_only=True)
class DeflectCallResponse(Response):
    pass


@dataclass(kw_only=True)
class DialDigits(Request):
    connectionToBeDialed: ConnectionID
    digitsToBeDialed: str
    correlatorData: str | None = None


@dataclass(kw_only=True)
class DialDigitsResponse(Response):
    pass


@dataclass(kw_only=True)
class DirectedPickupCall(Request):
    callToBePickedUp: ConnectionID
    requestingDevice: DeviceID
    correlatorData: str | None = None


@dataclass(kw_only=True)
class DirectedPickupCallResponse(Response):
    pickedCall: ConnectionID | None = None


@dataclass(kw_only=True)
class HoldCall(Request):
    callToBeHeld: ConnectionID
    connectionReservation: bool | None = None


@dataclass(kw_only=True)
class HoldCallResponse(Response):
    pass


@dataclass(kw_only=True)
class MakeCall(Request):
    callingDevice: DeviceID
    calledDirectoryNumber: DeviceID
    accountCode: str | None = None
    authCode: str | None = None
    autoOriginate: AutoOriginate | None = None
    correlatorData: str | None = None
    userData: RawXml | None = None
    callCharacteristics: RawXml | None = None
    mediaCallCharacteristics: RawXml | None = None
    callingConnectionInfo: RawXml | None = None
    subjectOfCall: str | None = None
    languagePreferences: str | None = None


@dataclass(kw_only=True)
class MakeCallResponse(Response):
    callingDevice: ConnectionID
    mediaCallCharacteristics: RawXml | None = None
    initiatedCallInfo: RawXml | None = None


@dataclass(kw_only=True)
class ReconnectCall(Request):
    activeCall: ConnectionID
    heldCall: ConnectionID


@dataclass(kw_only=True)
class ReconnectCallResponse(Response):
    pass


@dataclass(kw_only=True)
class RetrieveCall(Request):
    callToBeRetrieved: ConnectionID


@dataclass(kw_only=True)
class RetrieveCallResponse(Response):
    pass


@dataclass(kw_only=True)
class SingleStepConferenceCall(Request):
    activeCall: ConnectionID
    deviceToJoin: DeviceID
    participationType: ParticipationType | None = None
    accountCode: str | None = None
    authCode: str | None = None
    correlatorData: str | None = None
    userData: RawXml | None = None


@dataclass(kw_only=True)
class SingleStepConferenceCallResponse(Response):
    conferencedCall: ConnectionID | None = None
    connections: list[ConnectionListItem] = items("connectionListItem")


@dataclass(kw_only=True)
class SingleStepTransferCall(Request):
    activeCall: ConnectionID
    transferredTo: DeviceID
    accountCode: str | None = None
    authCode: str | None = None
    correlatorData: str | None = None
    userData: RawXml | None = None


@dataclass(kw_only=True)
class SingleStepTransferCallResponse(Response):
    transferredCall: ConnectionID | None = None
    connections: list[ConnectionListItem] = items("connectionListItem")


@dataclass(kw_only=True)
class TransferCall(Request):
    heldCall: ConnectionID
    activeCall: ConnectionID


@dataclass(kw_only=True)
class TransferCallResponse(Response):
    transferredCall: ConnectionID | None = None
    connections: list[ConnectionListItem] = items("connectionListItem")


# -- call control events ---------------------------------------------------------------------------


@dataclass(kw_only=True)
class CallClearedEvent(Event):
    monitorCrossRefID: str
    clearedCall: ConnectionID
    correlatorData: str | None = None
    userData: RawXml | None = None
    cause: EventCause | None = None


@dataclass(kw_only=True)
class ConferencedEvent(Event):
    monitorCrossRefID: str
    primaryOldCall: ConnectionID
    secondaryOldCall: ConnectionID | None = None
    conferencingDevice: EventDevice | None = None
    addedParty: EventDevice | None = None
    conferenceConnections: list[ConnectionListItem] = items("connectionListItem")
    localConnectionInfo: LocalConnectionState | None = None
    correlatorData: str | None = None
    userData: RawXml | None = None
    cause: EventCause | None = None


@dataclass(kw_only=True)
class ConnectionClearedEvent(Event):
    monitorCrossRefID: str
    droppedConnection: ConnectionID
    releasingDevice: EventDevice | None = None
    localConnectionInfo: LocalConnectionState | None = None
    correlatorData: str | None = None
    userData: RawXml | None = None
    chargingInfo: RawXml | None = None
    cause: EventCause | None = None


@dataclass(kw_only=True)
class DeliveredEvent(Event):
    monitorCrossRefID: str
    connection: ConnectionID
    alertingDevice: EventDevice | None = None
    callingDevice: EventDevice | None = None
    calledDevice: EventDevice | None = None
    lastRedirectionDevice: EventDevice | None = None
    originatingNIDConnection: ConnectionID | None = None
    localConnectionInfo: LocalConnectionState | None = None
    correlatorData: str | None = None
    userData: RawXml | None = None
    cause: EventCause | None = None
    servicesPermitted: RawXml | None = None
    networkCallingDevice: EventDevice | None = None
    networkCalledDevice: EventDevice | None = None
    associatedCallingDevice: EventDevice | None = None
    associatedCalledDevice: EventDevice | None = None


@dataclass(kw_only=True)
class DigitsDialedEvent(Event):
    monitorCrossRefID: str
    diallingConnection: ConnectionID
    diallingDevice: EventDevice | None = None
    diallingSequence: str | None = None
    localConnectionInfo: LocalConnectionState | None = None
    correlatorData: str | None = None
    cause: EventCause | None = None


@dataclass(kw_only=True)
class DivertedEvent(Event):
    monitorCrossRefID: str
    connection: ConnectionID
    divertingDevice: EventDevice | None = None
    newDestination: EventDevice | None = None
    callingDevice: EventDevice | None = None
    calledDevice: EventDevice | None = None
    lastRedirectionDevice: EventDevice | None = None
    localConnectionInfo: LocalConnectionState | None = None
    correlatorData: str | None = None
    userData: RawXml | None = None
    cause: EventCause | None = None


@dataclass(kw_only=True)
class EstablishedEvent(Event):
    monitorCrossRefID: str
    establishedConnection: ConnectionID
    answeringDevice: EventDevice | None = None
    callingDevice: EventDevice | None = None
    calledDevice: EventDevice | None = None
    lastRedirectionDevice: EventDevice | None = None
    originatingNIDConnection: ConnectionID | None = None
    localConnectionInfo: LocalConnectionState | None = None
    correlatorData: str | None = None
    userData: RawXml | None = None
    cause: EventCause | None = None


@dataclass(kw_only=True)
class FailedEvent(Event):
    monitorCrossRefID: str
    failedConnection: ConnectionID
    failingDevice: EventDevice | None = None
    callingDevice: EventDevice | None = None
    calledDevice: EventDevice | None = None
    lastRedirectionDevice: EventDevice | None = None
    originatingNIDConnection: ConnectionID | None = None
    localConnectionInfo: LocalConnectionState | None = None
    correlatorData: str | None = None
    userData: RawXml | None = None
    cause: EventCause | None = None


@dataclass(kw_only=True)
class HeldEvent(Event):
    monitorCrossRefID: str
    heldConnection: ConnectionID
    holdingDevice: EventDevice | None = None
    localConnectionInfo: LocalConnectionState | None = None
    correlatorData: str | None = None
    cause: EventCause | None = None


@dataclass(kw_only=True)
class NetworkCapabilitiesChangedEvent(Event):
    monitorCrossRefID: str
    outboundConnection: ConnectionID
    networkInterfaceUsed: EventDevice | None = None
    calledDevice: EventDevice | None = None
    progressIndicator: RawXml | None = None
    localConnectionInfo: LocalConnectionState | None = None
    correlatorData: str | None = None
    cause: EventCause | None = None


@dataclass(kw_only=True)
class NetworkReachedEvent(Event):
    monitorCrossRefID: str
    outboundConnection: ConnectionID
    networkInterfaceUsed: EventDevice | None = None
    callingDevice: EventDevice | None = None
    calledDevice: EventDevice | None = None
    lastRedirectionDevice: EventDevice | None = None
    localConnectionInfo: LocalConnectionState | None = None
    correlatorData: str | None = None
    userData: RawXml | None = None
    cause: EventCause | None = None


@dataclass(kw_only=True)
class OfferedEvent(Event):
    monitorCrossRefID: str
    offeredConnection: ConnectionID
    offeredDevice: EventDevice | None = None
    callingDevice: EventDevice | None = None
    calledDevice: EventDevice | None = None
    lastRedirectionDevice: EventDevice | None = None
    originatingNIDConnection: ConnectionID | None = None
    localConnectionInfo: LocalConnectionState | None = None
    correlatorData: str | None = None
    userData: RawXml | None = None
    cause: EventCause | None = None


@dataclass(kw_only=True)
class OriginatedEvent(Event):
    monitorCrossRefID: str
    originatedConnection: ConnectionID
    callingDevice: EventDevice | None = None
    calledDevice: EventDevice | None = None
    originatingDevice: EventDevice | None = None
    localConnectionInfo: LocalConnectionState | None = None
    correlatorData: str | None = None
    userData: RawXml | None = None
    cause: EventCause | None = None


@dataclass(kw_only=True)
class QueuedEvent(Event):
    monitorCrossRefID: str
    queuedConnection: ConnectionID
    queue: EventDevice | None = None
    callingDevice: EventDevice | None = None
    calledDevice: EventDevice | None = None
    lastRedirectionDevice: EventDevice | None = None
    numberQueued: int | None = None
    callsInFront: int | None = None
    localConnectionInfo: LocalConnectionState | None = None
    correlatorData: str | None = None
    userData: RawXml | None = None
    cause: EventCause | None = None


@dataclass(kw_only=True)
class RetrievedEvent(Event):
    monitorCrossRefID: str
    retrievedConnection: ConnectionID
    retrievingDevice: EventDevice | None = None
    localConnectionInfo: LocalConnectionState | None = None
    correlatorData: str | None = None
    cause: EventCause | None = None


@dataclass(kw_only=True)
class ServiceInitiatedEvent(Event):
    monitorCrossRefID: str
    initiatedConnection: ConnectionID
    initiatingDevice: EventDevice | None = None
    calledDevice: EventDevice | None = None
    localConnectionInfo: LocalConnectionState | None = None
    correlatorData: str | None = None
    cause: EventCause | None = None


@dataclass(kw_only=True)
class TransferedEvent(Event):
    """ECMA-323 spells it with one 'r'; ``TransferredEvent`` decodes here too."""

    monitorCrossRefID: str
    primaryOldCall: ConnectionID
    secondaryOldCall: ConnectionID | None = None
    transferringDevice: EventDevice | None = None
    transferredToDevice: EventDevice | None = None
    transferredConnections: list[ConnectionListItem] = items("connectionListItem")
    localConnectionInfo: LocalConnectionState | None = None
    correlatorData: str | None = None
    userData: RawXml | None = None
    cause: EventCause | None = None


# -- call associated, physical and logical device features --------------------------------------


@dataclass(kw_only=True)
class GenerateDigits(Request):
    connectionToSendDigits: ConnectionID
    digitMode: str | None = None
    charactersToSend: str
    toneDuration: int | None = None
    pulseRate: int | None = None
    pauseDuration: int | None = None


@dataclass(kw_only=True)
class GenerateDigitsResponse(Response):
    pass


@dataclass(kw_only=True)
class DigitsGeneratedEvent(Event):
    monitorCrossRefID: str
    connection: ConnectionID
    digitGeneratedList: str | None = None
    digitDurationList: str | None = None
    pauseDurationList: str | None = None
    connectionInfo: LocalConnectionState | None = None


@dataclass(kw_only=True)
class GetMessageWaitingIndicator(Request):
    device: DeviceID


@dataclass(kw_only=True)
class GetMessageWaitingIndicatorResponse(Response):
    messageWaitingOn: bool


@dataclass(kw_only=True)
class SetMessageWaitingIndicator(Request):
    device: DeviceID
    messageWaitingOn: bool


@dataclass(kw_only=True)
class SetMessageWaitingIndicatorResponse(Response):
    pass


@dataclass(kw_only=True)
class MessageWaitingEvent(Event):
    monitorCrossRefID: str
    targetDevice: EventDevice | None = None
    deviceForMessage: EventDevice | None = None
    messageWaitingOn: bool | None = None


@dataclass(kw_only=True)
class GetDoNotDisturb(Request):
    device: DeviceID


@dataclass(kw_only=True)
class GetDoNotDisturbResponse(Response):
    doNotDisturbOn: bool
    callOrigination: RawXml | None = None
    callingDeviceList: RawXml | None = None


@dataclass(kw_only=True)
class SetDoNotDisturb(Request):
    device: DeviceID
    doNotDisturbOn: bool
    callOrigination: RawXml | None = None
    callingDeviceList: RawXml | None = None


@dataclass(kw_only=True)
class SetDoNotDisturbResponse(Response):
    pass


@dataclass(kw_only=True)
class DoNotDisturbEvent(Event):
    monitorCrossRefID: str
    device: EventDevice | None = None
    doNotDisturbOn: bool | None = None
    callOrigination: RawXml | None = None
    callingDeviceList: RawXml | None = None


@dataclass(kw_only=True)
class GetForwarding(Request):
    device: DeviceID


@dataclass(kw_only=True)
class GetForwardingResponse(Response):
    forwardingList: list[ForwardListItem] = items("forwardListItem")


@dataclass(kw_only=True)
class SetForwarding(Request):
    device: DeviceID
    forwardingType: ForwardingType | None = None
    activateForward: bool
    forwardDN: DeviceID | None = None
    ringCount: int | None = None
    ringDuration: int | None = None


@dataclass(kw_only=True)
class SetForwardingResponse(Response):
    pass


@dataclass(kw_only=True)
class ForwardingEvent(Event):
    monitorCrossRefID: str
    device: EventDevice | None = None
    forwardingType: ForwardingType | None = None
    forwardStatus: bool | None = None
    forwardTo: DeviceID | None = None
    forwardDefault: str | None = None
    ringCount: int | None = None
    ringDuration: int | None = None


# -- device maintenance ------------------------------------------------------------


@dataclass(kw_only=True)
class BackInServiceEvent(Event):
    monitorCrossRefID: str
    device: EventDevice | None = None
    cause: EventCause | None = None


@dataclass(kw_only=True)
class OutOfServiceEvent(Event):
    monitorCrossRefID: str
    device: EventDevice | None = None
    cause: EventCause | None = None


# -- the registry ------------------------------------------------------------------

MESSAGE_TYPES: list[type[CstaMessage]] = [
    cls
    for cls in list(globals().values())
    if isinstance(cls, type)
    and issubclass(cls, CstaMessage)
    and cls not in (CstaMessage, Request, Response, Event)
]
BY_ROOT: dict[str, type[CstaMessage]] = {cls.root(): cls for cls in MESSAGE_TYPES}
# Spellings seen on the wire for the same message.
BY_ROOT["TransferredEvent"] = TransferedEvent
BY_ROOT["SwitchingFunctionDevicesChanged"] = SwFunctionDevicesChanged
BY_ROOT["SystemStatusEvent"] = SystemStatus_

AnyMessage = CstaMessage | CSTAErrorCode
