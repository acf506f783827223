"""Value types shared by the CSTA messages: identifiers and enumerations.

Enumerations are *open*: a value a phone sends that the standard does not list
(vendor causes, later editions) decodes to a pseudo-member of the right type
instead of failing, and is encoded back unchanged.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import NamedTuple, Self


class OpenEnum(enum.StrEnum):
    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        if not isinstance(value, str) or not value or len(value) > 128:
            return None
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member


class LocalConnectionState(OpenEnum):
    NULL = "null"
    INITIATED = "initiated"
    ALERTING = "alerting"
    CONNECTED = "connected"
    HOLD = "hold"
    QUEUED = "queued"
    FAIL = "fail"


class ForwardingType(OpenEnum):
    FORWARD_IMMEDIATE = "forwardImmediate"
    FORWARD_BUSY = "forwardBusy"
    FORWARD_NO_ANS = "forwardNoAns"
    FORWARD_DND = "forwardDND"
    FORWARD_BUSY_INT = "forwardBusyInt"
    FORWARD_BUSY_EXT = "forwardBusyExt"
    FORWARD_NO_ANS_INT = "forwardNoAnsInt"
    FORWARD_NO_ANS_EXT = "forwardNoAnsExt"
    FORWARD_IMM_INT = "forwardImmInt"
    FORWARD_IMM_EXT = "forwardImmExt"
    FORWARD_DND_INT = "forwardDNDInt"
    FORWARD_DND_EXT = "forwardDNDExt"


class SystemStatus(OpenEnum):
    DISABLED = "disabled"
    PARTIALLY_DISABLED = "partiallyDisabled"
    ENABLED = "enabled"
    INITIALIZING = "initializing"
    MESSAGES_LOST = "messagesLost"
    NORMAL = "normal"
    OVERLOAD_IMMINENT = "overloadImminent"
    OVERLOAD_REACHED = "overloadReached"
    OVERLOAD_RELIEVED = "overloadRelieved"


class AutoOriginate(OpenEnum):
    PROMPT = "prompt"
    DO_NOT_PROMPT = "doNotPrompt"


class MonitorType(OpenEnum):
    CALL = "call"
    DEVICE = "device"


class DeviceCategory(OpenEnum):
    ACD = "acd"
    GROUP = "group"
    NETWORK_INTERFACE = "networkInterface"
    PARK = "park"
    ROUTEING_DEVICE = "routeingDevice"
    STATION = "station"
    VOICE_UNIT = "voiceUnit"
    OTHER = "other"


class ParticipationType(OpenEnum):
    ACTIVE = "active"
    SILENT = "silent"


class EventCause(OpenEnum):
    """ECMA-269 event causes (the XML spelling of ECMA-323)."""

    ACD_BUSY = "aCDBusy"
    ACD_FORWARD = "aCDForward"
    ACD_SATURATED = "aCDSaturated"
    ACTIVATION = "activation"
    ACTIVE_PARTICIPATION = "activeParticipation"
    ALERT_TIME_EXPIRED = "alertTimeExpired"
    ALTERNATE = "alternate"
    AUTO_WORK = "autoWork"
    BLOCKED = "blocked"
    BUSY = "busy"
    BUSY_OVERFLOW = "busyOverflow"
    CALENDAR_OVERFLOW = "calendarOverflow"
    CALL_BACK = "callBack"
    CALL_CANCELLED = "callCancelled"
    CALL_FORWARD = "callForward"
    CALL_FORWARD_BUSY = "callForwardBusy"
    CALL_FORWARD_IMMEDIATE = "callForwardImmediate"
    CALL_FORWARD_NO_ANSWER = "callForwardNoAnswer"
    CALL_NOT_ANSWERED = "callNotAnswered"
    CALL_PICKUP = "callPickup"
    CAMP_ON = "campOn"
    CAMP_ON_TRUNKS = "campOnTrunks"
    CAPACITY_OVERFLOW = "capacityOverflow"
    CHARACTER_COUNT_REACHED = "characterCountReached"
    CONFERENCE = "conference"
    CONSULTATION = "consultation"
    DEST_DETECTED = "destDetected"
    DEST_NOT_OBTAINABLE = "destNotObtainable"
    DEST_OUT_OF_ORDER = "destOutOfOrder"
    DISTRIBUTED = "distributed"
    DISTRIBUTION_DELAY = "distributionDelay"
    DO_NOT_DISTURB = "doNotDisturb"
    DTMF_DIGIT_DETECTED = "dTMFDigitDetected"
    DURATION_EXCEEDED = "durationExceeded"
    EMPTY_QUEUE = "emptyQueue"
    END_OF_MESSAGE_DETECTED = "endOfMessageDetected"
    ENTERING_DISTRIBUTION = "enteringDistribution"
    FORCED_PAUSE = "forcedPause"
    FORCED_TRANSITION = "forcedTransition"
    INCOMPATIBLE_DESTINATION = "incompatibleDestination"
    INTERDIGIT_TIMEOUT = "interDigitTimeout"
    INTRUDE = "intrude"
    INVALID_ACCOUNT_CODE = "invalidAccountCode"
    INVALID_CONNECTION_STATE = "invalidConnectionState"
    INVALID_NUMBER_FORMAT = "invalidNumberFormat"
    JOIN_CALL = "joinCall"
    KEY_OPERATION = "keyOperation"
    KEY_OPERATION_IN_USE = "keyOperationInUse"
    LOCKOUT = "lockout"
    MAINTENANCE = "maintenance"
    MAKE_CALL = "makeCall"
    MAKE_PREDICTIVE_CALL = "makePredictiveCall"
    MAX_TIMEOUT = "maxTimeout"
    MESSAGE_DURATION_EXCEEDED = "messageDurationExceeded"
    MULTIPLE_ALERTING = "multipleAlerting"
    MULTIPLE_QUEUING = "multipleQueuing"
    NETWORK_CONGESTION = "networkCongestion"
    NETWORK_DIALLING = "networkDialling"
    NETWORK_NOT_OBTAINABLE = "networkNotObtainable"
    NETWORK_OUT_OF_ORDER = "networkOutOfOrder"
    NETWORK_SIGNAL = "networkSignal"
    NEW_CALL = "newCall"
    NEXT_MESSAGE = "nextMessage"
    NO_AVAILABLE_AGENTS = "noAvailableAgents"
    NORMAL = "normal"
    NORMAL_CLEARING = "normalClearing"
    NO_SPEECH_DETECTED = "noSpeechDetected"
    NOT_AVAILABLE_BEARER_SERVICE = "notAvaliableBearerService"
    NOT_SUPPORTED_BEARER_SERVICE = "notSupportedBearerService"
    NUMBER_CHANGED = "numberChanged"
    NUMBER_UNALLOCATED = "numberUnallocated"
    OVERFLOW = "overflow"
    OVERRIDE = "override"
    PARK = "park"
    QUEUE_CLEARED = "queueCleared"
    RECALL = "recall"
    REDIRECTED = "redirected"
    REMAINS_IN_QUEUE = "remainsInQueue"
    REORDER_TONE = "reorderTone"
    RESERVED = "reserved"
    RESOURCES_NOT_AVAILABLE = "resourcesNotAvailable"
    SELECTED_TRUNK_BUSY = "selectedTrunkBusy"
    SILENT_PARTICIPATION = "silentParticipation"
    SINGLE_STEP_CONFERENCE = "singleStepConference"
    SINGLE_STEP_TRANSFER = "singleStepTransfer"
    SPEECH_DETECTED = "speechDetected"
    SUSPEND = "suspend"
    SWITCHING_FUNCTION_TERMINATED = "switchingFunctionTerminated"
    TERMINATION_CHARACTER_RECEIVED = "terminationCharacterReceived"
    TIMEOUT = "timeout"
    TRANSFER = "transfer"
    TRUNKS_BUSY = "trunksBusy"
    UNAUTHORISED_BEARER_SERVICE = "unauthorisedBearerService"
    UNKNOWN_OVERFLOW = "unknownOverflow"


class DeviceForm(enum.Enum):
    """How a device identifier was written, so that it is written back the same way."""

    TEXT = "text"  # <callingDevice>sip:...</callingDevice>
    STATIC_ID = "staticID"  # <deviceID><staticID>...</staticID></deviceID>
    DYNAMIC_ID = "dynamicID"
    DEVICE = "device"  # ed6 wrappers such as <newDestination><device>...</device>


class DeviceID(NamedTuple):
    """A device identifier, kept verbatim (``value``); :attr:`key` is the
    normalised form to match devices by whatever spelling.

    The small value types are named tuples: immutable like frozen dataclasses,
    but built at C speed, and a decoded event holds a dozen of them."""

    value: str
    typeOfNumber: str | None = None
    form: DeviceForm = DeviceForm.TEXT

    @property
    def key(self) -> str:
        return device_key(self.value)


class DeviceChoice(enum.Enum):
    """The choice of ECMA-323's event device fields (SubjectDeviceID and friends)."""

    DEVICE_IDENTIFIER = "deviceIdentifier"
    NOT_KNOWN = "notKnown"
    RESTRICTED = "restricted"
    NOT_REQUIRED = "notRequired"
    NOT_SPECIFIED = "notSpecified"


class EventDevice(NamedTuple):
    choice: DeviceChoice
    device: DeviceID | None = None  # set for DEVICE_IDENTIFIER

    @classmethod
    def of(cls, value: str) -> EventDevice:
        return cls(DeviceChoice.DEVICE_IDENTIFIER, DeviceID(value))

    @property
    def key(self) -> str | None:
        return self.device.key if self.device else None


class ConnectionID(NamedTuple):
    """callID and/or deviceID; callIDs are opaque strings (negative, hex, 'a|b')."""

    callID: str | None = None
    deviceID: DeviceID | None = None
    # Yealink writes the callID as the text of the connection element.
    callID_as_text: bool = False


@dataclass(frozen=True, slots=True)
class RawXml:
    """An element we do not model, serialized as received, to be relayed."""

    xml: bytes

    def __repr__(self) -> str:
        return f"RawXml({self.xml[:60]!r})"


_N_FORM = re.compile(r"^N<([^>]*)>")


def device_key(value: str) -> str:
    """Normalise the spellings phones and PBXs use for one device.

    ``sip:201@pbx:5060;transport=tcp`` and ``201@pbx`` → ``201@pbx``;
    ``tel:+4989123;phone-context=x`` → ``+4989123``; ``N<3021061290002>;noa=nk``
    → ``3021061290002``; bare digits stay as they are.  Case of the user part
    is kept, the host is lower-cased.
    """
    text = value.strip()
    m = _N_FORM.match(text)
    if m:
        return m.group(1)
    lower = text.lower()
    if lower.startswith(("sip:", "sips:")):
        text = text.split(":", 1)[1]
    elif lower.startswith("tel:"):
        return text[4:].split(";", 1)[0]
    text = text.split(";", 1)[0].split("?", 1)[0]
    if "@" in text:
        user, host = text.rsplit("@", 1)
        host = host.split(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
        return f"{user}@{host.lower()}"
    return text
