"""CSTAErrorCode: the negative response, with every category of ECMA-323."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import ClassVar, cast

from .types import OpenEnum, RawXml


class ErrorCategory(enum.Enum):
    OPERATION = "operation"
    SECURITY = "security"
    STATE_INCOMPATIBILITY = "stateIncompatibility"
    # sic: ECMA-323 spells this element with "Availibility"
    SYSTEM_RESOURCE_AVAILABILITY = "systemResourceAvailibility"
    SUBSCRIBED_RESOURCE_AVAILABILITY = "subscribedResourceAvailability"
    PERFORMANCE_MANAGEMENT = "performanceManagement"
    PRIVATE_DATA = "privateDataInformationError"
    UNSPECIFIED = "unspecified"
    PRIVATE_ERROR_CODE = "privateErrorCode"


def _enum(name: str, *values: str) -> type[OpenEnum]:
    # Functional API: the member names are the ECMA-323 values themselves.
    return cast(type[OpenEnum], OpenEnum(name, {v: v for v in values}))  # type: ignore[call-arg]


OperationError = _enum(
    "OperationError",
    "generic",
    "atLeastOneConditionalParameterNotProvided",
    "featureAlreadySet",
    "invalidMessageID",
    "invalidParameterValue",
    "invalidAccountCode",
    "invalidAgentGroup",
    "invalidAgentIdentifier",
    "invalidAgentPassword",
    "invalidAgentState",
    "invalidAlertTime",
    "invalidAllocationState",
    "invalidAuthorizationCode",
    "invalidAutoAnswer",
    "invalidBitRate",
    "invalidButtonIdentifier",
    "invalidButtonLabel",
    "invalidCallType",
    "invalidConnectionRate",
    "invalidConsultPurpose",
    "invalidCorrelatorData",
    "invalidCrossReferenceID",
    "invalidDelayTolerance",
    "invalidDestination",
    "invalidDestinationDetect",
    "invalidDoNotDisturb",
    "invalidEscapeCrossReferenceID",
    "invalidFeature",
    "invalidFile",
    "invalidFlowDirection",
    "invalidForwardingDestination",
    "invalidForwardingFlag",
    "invalidForwardingType",
    "invalidHookswitchType",
    "invalidHookswitchComponent",
    "invalidLampID",
    "invalidLampMode",
    "invalidMessageWaitingSetting",
    "invalidMicrophoneGain",
    "invalidMicrophoneMute",
    "invalidMonitorCrossReferenceID",
    "invalidMonitorFilter",
    "invalidMonitorObject",
    "invalidMonitorType",
    "invalidNumberOfChannels",
    "invalidParticipationType",
    "invalidRemainRetry",
    "invalidRingCount",
    "invalidRingPattern",
    "invalidRingVolume",
    "invalidRouteingAlgorithm",
    "invalidRouteingCrossReferenceID",
    "invalidRouteRegistrationCrossReferenceID",
    "invalidSpeakerVolume",
    "invalidSpeakerMute",
    "invalidSwitchingSubdomainCharsType",
    "invalidObjectType",
    "invalidActiveCallObject",
    "invalidCalledDeviceObjectType",
    "invalidCallingDeviceObjectType",
    "invalidCallToBePickedUpObjectType",
    "invalidCallToDivertObjectType",
    "invalidCallToParkObjectType",
    "invalidDestinationDeviceObject",
    "invalidHeldCallObject",
    "invalidMonitorObjectType",
    "invalidParkToObjectType",
    "messageIDRequired",
    "notDifferentDevices",
    "notSameDevice",
    "objectNotKnown",
    "invalidCallID",
    "invalidActiveCallID",
    "invalidHeldCallID",
    "invalidConnectionID",
    "invalidActiveConnectionID",
    "invalidHeldConnectionID",
    "invalidDeviceID",
    "invalidActiveDeviceID",
    "invalidCalledDeviceID",
    "invalidCallingDeviceID",
    "invalidCallToParkDeviceID",
    "invalidDestinationDeviceID",
    "invalidDivertingDeviceID",
    "invalidHeldDeviceID",
    "invalidParkToDeviceID",
    "invalidPickUpDeviceID",
    "parameterNotSupported",
    "accountCodeNotSupported",
    "agentGroupNotSupported",
    "agentPasswordNotSupported",
    "agentStateNotSupported",
    "alertTimeNotSupported",
    "allocationNotSupported",
    "authorisationCodeNotSupported",
    "autoAnswerNotSupported",
    "bitRateNotSupported",
    "buttonNotSupported",
    "callTypeNotSupported",
    "charactersToSendNotSupported",
    "connectionRateNotSupported",
    "connectionReservationNotSupported",
    "consultPurposeNotSupported",
    "correlatorDataNotSupported",
    "delayToleranceNotSupported",
    "destinationDetectNotSupported",
    "digitModeNotSupported",
    "errorValueNotSupported",
    "flowDirectionNotSupported",
    "forwardingDestinationNotSupported",
    "lampNotSupported",
    "monitorTypeNotSupported",
    "numberOfChannelsNotSupported",
    "parameterTypeNotSupported",
    "priorityNotSupported",
    "privateDataNotSupported",
    "pulseDurationNotSupported",
    "pulseRateNotSupported",
    "remainRetryNotSupported",
    "ringCountNotSupported",
    "routeUsedNotSupported",
    "securityNotSupported",
    "switchingSubDomainCCIETypeNotSupported",
    "toneDurationNotSupported",
    "sysStatRegIDNotSupported",
    "userDataNotSupported",
    "privilegeViolationSpecifiedDevice",
    "privilegeViolationActiveDevice",
    "privilegeViolationCalledDevice",
    "privilegeViolationCallingDevice",
    "privilegeViolationCallToParkDevice",
    "privilegeViolationDestinationDevice",
    "privilegeViolationOnDivertingDevice",
    "privilegeViolationHeldDevice",
    "privilegeViolationOnParkToDevice",
    "privilegeViolationPickupDevice",
    "routeingTimerExpired",
    "requestIncompatibleWithObject",
    "requestIncompatibleWithConnection",
    "requestIncompatibleWithActiveConnection",
    "requestIncompatibleWithHeldConnection",
    "requestIncompatibleWithDevice",
    "requestIncompatibleWithCalledDevice",
    "requestIncompatibleWithCallingDevice",
    "requestIncompatibleWithSubjectDevice",
    "requestIncompatibleWithActiveDevice",
    "requestIncompatibleWithCallToParkDevice",
    "requestIncompatibleWithDestinationDevice",
    "requestIncompatibleWithDivertingDevice",
    "requestIncompatibleWithHeldDevice",
    "requestIncompatibleWithMedia",
    "requestIncompatibleWithParkToDevice",
    "requestIncompatibleWithPickupDevice",
    "serviceNotSupported",
    "securityViolation",
    "valueOutOfRange",
    "agentStateOutOfRange",
    "alertTimeOutOfRange",
    "allocationOutOfRange",
    "autoAnswerOutOfRange",
    "bitRateOutOfRange",
    "callTypeOutOfRange",
    "connectionRateOutOfRange",
    "connectionReservationOutOfRange",
    "consultPurposeOutOfRange",
    "correlatorDataOutOfRange",
    "delayToleranceOutOfRange",
    "destinationDetectOutOfRange",
    "digitModeOutOfRange",
    "doNotDisturbOutOfRange",
    "flowDirectionOutOfRange",
    "forwardingFlagOutOfRange",
    "forwardingTypeOutOfRange",
    "hookswitchComponentOutOfRange",
    "hookSwitchTypeOutOfRange",
    "lampModeOutOfRange",
    "messageWaitingSettingOutOfRange",
    "micGainOutOfRange",
    "micMuteOutOfRange",
    "monitorTypeOutOfRange",
    "numberOfChannelsOutOfRange",
    "participationTypeOutOfRange",
    "pulseDurationOutOfRange",
    "pulseRateOutOfRange",
    "ringCountOutOfRange",
    "ringPatternOutOfRange",
    "ringVolumeOutOfRange",
    "routeingAlgorithmOutOfRange",
    "speakerMuteOutOfRange",
    "speakerVolumeOutOfRange",
    "switchingCcittType",
    "systemStatusOutOfRange",
    "toneCharacterOutOfRange",
    "toneDurationOutOfRange",
)
SecurityError = _enum(
    "SecurityError",
    "unspecified",
    "sequenceNumberViolated",
    "timeStampViolated",
    "securityInfoViolated",
)
StateIncompatibilityError = _enum(
    "StateIncompatibilityError",
    "generic",
    "invalidObjectState",
    "invalidDeviceState",
    "connectedCallExists",
    "invalidActiveDeviceState",
    "invalidCalledDeviceState",
    "invalidCallingDeviceState",
    "invalidCallToParkDeviceState",
    "invalidDestinationDeviceState",
    "invalidDivertingDeviceState",
    "invalidHeldDeviceState",
    "invalidParkToDeviceState",
    "invalidConnectionState",
    "invalidActiveConnectionState",
    "invalidConnectionIDForActiveCall",
    "invalidHeldConnectionState",
    "noActiveCall",
    "noCallToAnswer",
    "noCallToClear",
    "noCallToComplete",
    "noConnectionToClear",
    "noHeldCall",
    "incorrectMessageState",
    "beginningOfMessage",
    "endOfMessage",
    "messageSuspended",
    "notAbleToPlay",
    "notAbleToResume",
)
SystemResourceError = _enum(
    "SystemResourceError",
    "generic",
    "resourceBusy",
    "internalResourceBusy",
    "classifierBusy",
    "noMediaChannelsAvailable",
    "channelsInUseForBridgedDevices",
    "channelsInUseForData",
    "toneDetectorBusy",
    "toneGeneratorBusy",
    "networkBusy",
    "resourceOutOfService",
    "deviceOutOfService",
    "activeDeviceOutOfService",
    "calledDeviceOutOfService",
    "callingDeviceOutOfService",
    "callToParkDeviceOutOfService",
    "destinationDeviceOutOfService",
    "divertingDeviceOutOfService",
    "heldDeviceOutOfService",
    "parkToDeviceOutOfService",
    "pickupDeviceOutOfService",
    "networkOutOfService",
    "otherResourceOutOfService",
    "resourceLimitExceeded",
    "overallMonitorLimitExceeded",
    "conferenceMemberLimitExceeded",
    "registrationLimitExceeded",
    "conferenceResourceCannotBeSatisfied",
    "maxDevicesExceeded",
    "startTimeOutOfRange",
    "durationExceeded",
)
SubscribedResourceError = _enum(
    "SubscribedResourceError",
    "generic",
    "objectMonitorLimitExceeded",
    "trunkLimitExceeded",
    "outstandingRequestsLimitExceeded",
    "objectRegistrationLimitExceeded",
)
PerformanceManagementError = _enum(
    "PerformanceManagementError", "generic", "performanceLimitExceeded"
)

VALUES: dict[ErrorCategory, type[OpenEnum] | None] = {
    ErrorCategory.OPERATION: OperationError,
    ErrorCategory.SECURITY: SecurityError,
    ErrorCategory.STATE_INCOMPATIBILITY: StateIncompatibilityError,
    ErrorCategory.SYSTEM_RESOURCE_AVAILABILITY: SystemResourceError,
    ErrorCategory.SUBSCRIBED_RESOURCE_AVAILABILITY: SubscribedResourceError,
    ErrorCategory.PERFORMANCE_MANAGEMENT: PerformanceManagementError,
    ErrorCategory.PRIVATE_DATA: None,  # text
    ErrorCategory.UNSPECIFIED: None,  # empty element (or text)
    ErrorCategory.PRIVATE_ERROR_CODE: None,  # vendor content, kept raw
}


@dataclass(kw_only=True)
class CSTAErrorCode:
    """``<CSTAErrorCode><operation>serviceNotSupported</operation></CSTAErrorCode>``."""

    KIND: ClassVar[str] = "error"
    category: ErrorCategory
    value: str = ""
    raw: RawXml | None = None  # privateErrorCode content
    unknown: list[RawXml] = field(default_factory=list)

    @classmethod
    def of(cls, category: ErrorCategory, value: str = "") -> CSTAErrorCode:
        kind = VALUES[category]
        if kind is not None:
            value = str(kind(value))
        return cls(category=category, value=value)

    @classmethod
    def operation(cls, value: str) -> CSTAErrorCode:
        return cls.of(ErrorCategory.OPERATION, value)

    @classmethod
    def state(cls, value: str) -> CSTAErrorCode:
        return cls.of(ErrorCategory.STATE_INCOMPATIBILITY, value)

    @classmethod
    def resource(cls, value: str) -> CSTAErrorCode:
        return cls.of(ErrorCategory.SYSTEM_RESOURCE_AVAILABILITY, value)

    def __str__(self) -> str:
        return f"{self.category.value}/{self.value}" if self.value else self.category.value
