"""The simulated switch: joins the phones of one simulator process.

Each identity of each phone is a line with a directory number (the user part of
its SIP URI).  Each phone is its own switching function, as a uaCSTA phone is:
it numbers its own calls (callIDs) and reports only its own view, so a call
between A and B is two legs, A's and B's, each with the states of ECMA-269 and
the events a real phone sends (ServiceInitiated, Originated, Delivered,
Established, Held, Retrieved, ConnectionCleared, Failed).

Simulated so far: the basic two-party call (make, ring, answer, hold, retrieve,
clear from either side), a busy destination (DND or no such number), consultation
and transfer, single-step transfer, deflect, and forwarding: immediate and busy
(the call goes on before the line rings; the forwarding line sees no event) and
no answer (after the ring count, like a deflect), and the three-party
conference a phone hosts (its held and active calls joined; a party that
leaves leaves the other two talking; the host leaving ends it).  External
parties: numbers with the external prefix reach a simulated party outside that
answers after a delay, is busy, or never answers.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ..csta.errors import CSTAErrorCode
from ..csta.model import (
    AnswerCall,
    AnswerCallResponse,
    ClearConnection,
    ClearConnectionResponse,
    CompoundCallState,
    ConferenceCall,
    ConferenceCallResponse,
    ConferencedEvent,
    ConnectionClearedEvent,
    ConnectionListItem,
    ConsultationCall,
    ConsultationCallResponse,
    CstaMessage,
    DeflectCall,
    DeflectCallResponse,
    DeliveredEvent,
    DigitsGeneratedEvent,
    DivertedEvent,
    EstablishedEvent,
    FailedEvent,
    GenerateDigits,
    GenerateDigitsResponse,
    HeldEvent,
    HoldCall,
    HoldCallResponse,
    LocalCallState,
    MakeCall,
    MakeCallResponse,
    OriginatedEvent,
    RetrieveCall,
    RetrieveCallResponse,
    RetrievedEvent,
    ServiceInitiatedEvent,
    SingleStepTransferCall,
    SingleStepTransferCallResponse,
    SnapshotCall,
    SnapshotCallData,
    SnapshotCallResponse,
    SnapshotCallResponseInfo,
    SnapshotDevice,
    SnapshotDeviceData,
    SnapshotDeviceResponse,
    SnapshotDeviceResponseInfo,
    TransferCall,
    TransferCallResponse,
    TransferedEvent,
)
from ..csta.types import ConnectionID, DeviceID, EventCause, EventDevice, ForwardingType
from ..csta.types import LocalConnectionState as S


class PhoneConfig(Protocol):
    vendor: str
    identities: list[str]


class SimPhone(Protocol):
    """What the switch needs of a simulated phone (``phone.SimPhone``)."""

    switch: SimSwitch | None
    dnd: bool

    @property
    def config(self) -> PhoneConfig: ...

    @property
    def forwarding(self) -> dict[ForwardingType, tuple[str, int | None]]: ...

    @property
    def mac(self) -> str: ...

    def identity_of(self, device: DeviceID) -> str: ...

    def owns(self, device: DeviceID) -> bool: ...

    def event(self, event: CstaMessage, line: str, *, wait: bool = True) -> None: ...


@dataclass
class Leg:
    """One phone's side of a call."""

    phone: SimPhone
    device: str  # the identity (SIP URI) of the line
    call_id: str
    state: S
    peer: Leg | None = None
    calling: str = ""
    called: str = ""
    no_answer: asyncio.TimerHandle | None = None  # pending no-answer forwarding
    conference: Conference | None = None

    def conn(self, device: str | None = None) -> ConnectionID:
        return ConnectionID(self.call_id, DeviceID(device or self.device))

    def emit(self, event: CstaMessage) -> None:
        self.phone.event(event, self.device)


@dataclass(eq=False)
class Conference:
    """A conference hosted by one phone: its leg, and the far legs joined in it
    (each far leg's peer is the host's leg)."""

    host: Leg
    members: list[Leg]


def _number(identity: str) -> str:
    user = DeviceID(identity).key.split("@", 1)[0]
    return user


MAX_FORWARDS = 5  # forwarding hops before the switch stops following (loops)


@dataclass
class SimSwitch:
    lines: dict[str, tuple[SimPhone, str]] = field(default_factory=dict)  # number -> line
    ring_seconds: float = 5.0  # one ring, for no-answer forwarding
    # Numbers starting with this prefix are outside the simulator: a simulated
    # external party that answers after ``external_delay`` seconds, is busy, or
    # never answers (``external``: "answer", "busy", "never").
    external_prefix: str = "0"
    external: str = "answer"
    external_delay: float = 2.0
    legs: dict[tuple[str, str], Leg] = field(default_factory=dict)  # (mac, callID) -> leg
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def attach(self, phone: SimPhone) -> None:
        for identity in phone.config.identities:
            self.lines[_number(identity)] = (phone, identity)
        phone.switch = self

    def _new_call_id(self, phone: SimPhone) -> str:
        n = next(self._ids)
        # snom numbers calls with negative callIDs (seen in its snapshots)
        return str(-n) if phone.config.vendor == "snom" else str(n)

    def rings_at(self, phone: SimPhone) -> bool:
        return any(leg.phone is phone and leg.state is S.ALERTING for leg in self.legs.values())

    def _leg(self, phone: SimPhone, conn: ConnectionID) -> Leg | None:
        if conn.callID is None:
            return None
        return self.legs.get((phone.mac, conn.callID))

    # -- services ----------------------------------------------------------------------

    def handle(self, phone: SimPhone, msg: CstaMessage) -> CstaMessage | CSTAErrorCode | None:
        """The answer to a call-control request, or None for one not simulated."""
        if isinstance(msg, MakeCall):
            return self.make_call(phone, msg.callingDevice.value, msg.calledDirectoryNumber.value)
        if isinstance(msg, AnswerCall):
            leg = self._leg(phone, msg.callToBeAnswered)
            if leg is None or leg.state is not S.ALERTING:
                return CSTAErrorCode.state("noCallToAnswer")
            self.answer(leg)
            return AnswerCallResponse()
        if isinstance(msg, ClearConnection):
            leg = self._leg(phone, msg.connectionToBeCleared)
            if leg is None:
                return CSTAErrorCode.state("noConnectionToClear")
            if phone.config.vendor == "gigaset" and leg.state is S.ALERTING:
                # The manual: Gigaset clears a connected call, or one being set
                # up only from the calling side; not a call ringing at it.
                return CSTAErrorCode.state("invalidConnectionState")
            self.clear(leg)
            return ClearConnectionResponse()
        if isinstance(msg, HoldCall):
            leg = self._leg(phone, msg.callToBeHeld)
            if leg is None or leg.state is not S.CONNECTED:
                return CSTAErrorCode.state("noActiveCall")
            self.hold(leg)
            return HoldCallResponse()
        if isinstance(msg, ConsultationCall):
            leg = self._leg(phone, msg.existingCall)
            if leg is None or leg.state is not S.CONNECTED:
                return CSTAErrorCode.state("noActiveCall")
            return self.consult(leg, msg.consultedDevice.value)
        if isinstance(msg, TransferCall):
            held, active = self._leg(phone, msg.heldCall), self._leg(phone, msg.activeCall)
            if held is None or held.state is not S.HOLD:
                return CSTAErrorCode.state("noHeldCall")
            if active is None or active.state is not S.CONNECTED:
                return CSTAErrorCode.state("noActiveCall")
            self.transfer(held, active)
            return TransferCallResponse()
        if isinstance(msg, ConferenceCall):
            held, active = self._leg(phone, msg.heldCall), self._leg(phone, msg.activeCall)
            if held is None or held.state is not S.HOLD or held.peer is None:
                return CSTAErrorCode.state("noHeldCall")
            if active is None or active.state is not S.CONNECTED or active.peer is None:
                return CSTAErrorCode.state("noActiveCall")
            if held.conference is not None or active.conference is not None:
                return CSTAErrorCode.state("invalidConnectionState")
            self.conference(held, active)
            return ConferenceCallResponse(conferenceCall=held.conn())
        if isinstance(msg, SingleStepTransferCall):
            leg = self._leg(phone, msg.activeCall)
            if leg is None or leg.state is not S.CONNECTED or leg.peer is None:
                return CSTAErrorCode.state("noActiveCall")
            target = self.lines.get(_number(msg.transferredTo.value))
            if target is None:
                return CSTAErrorCode.operation("invalidDestination")
            self.single_step_transfer(leg, target)
            return SingleStepTransferCallResponse()
        if isinstance(msg, DeflectCall):
            leg = self._leg(phone, msg.callToBeDiverted)
            if leg is None or leg.state is not S.ALERTING:
                return CSTAErrorCode.state("invalidConnectionState")
            target = self.lines.get(_number(msg.newDestination.value))
            if target is None:
                return CSTAErrorCode.operation("invalidDestination")
            self.deflect(leg, target)
            return DeflectCallResponse()
        if isinstance(msg, SnapshotDevice):
            if not phone.owns(msg.snapshotObject):
                return CSTAErrorCode.operation("invalidDeviceID")
            line = DeviceID(phone.identity_of(msg.snapshotObject)).key
            info = [
                SnapshotDeviceResponseInfo(
                    connectionIdentifier=leg.conn(),
                    localCallState=LocalCallState(
                        compoundCallState=CompoundCallState(localConnectionState=leg.state)
                    ),
                )
                for leg in self.legs_of(phone)
                if DeviceID(leg.device).key == line
            ]
            return SnapshotDeviceResponse(
                crossRefIDorSnapshotData=SnapshotDeviceData(snapshotData=info)
            )
        if isinstance(msg, SnapshotCall):
            leg = self._leg(phone, msg.snapshotObject)
            if leg is None:
                return CSTAErrorCode.operation("invalidCallID")
            parties = [leg, *([leg.peer] if leg.peer is not None else [])]
            return SnapshotCallResponse(
                crossRefIDorSnapshotData=SnapshotCallData(
                    snapshotData=[
                        SnapshotCallResponseInfo(
                            deviceOnCall=EventDevice.of(p.device),
                            callIdentifier=leg.conn(p.device),
                            localConnectionState=p.state,
                        )
                        for p in parties
                    ]
                )
            )
        if isinstance(msg, GenerateDigits):
            leg = self._leg(phone, msg.connectionToSendDigits)
            if leg is None or leg.state is not S.CONNECTED:
                return CSTAErrorCode.state("invalidConnectionState")
            leg.emit(
                DigitsGeneratedEvent(
                    monitorCrossRefID="",
                    connection=leg.conn(),
                    digitGeneratedList=msg.charactersToSend,
                )
            )
            return GenerateDigitsResponse()
        if isinstance(msg, RetrieveCall):
            leg = self._leg(phone, msg.callToBeRetrieved)
            if leg is None or leg.state is not S.HOLD:
                return CSTAErrorCode.state("noHeldCall")
            self.retrieve(leg)
            return RetrieveCallResponse()
        return None

    def legs_of(self, phone: SimPhone) -> list[Leg]:
        return [leg for leg in self.legs.values() if leg.phone is phone]

    def make_call(
        self, phone: SimPhone, calling: str, called: str, *, by_hand: bool = False
    ) -> MakeCallResponse | CSTAErrorCode:
        if not phone.owns(DeviceID(calling)):
            return CSTAErrorCode.operation("invalidCallingDevice")
        device = phone.identity_of(DeviceID(calling))
        # dialled at the phone (newCall) or asked for by CTI (makeCall)
        cause = EventCause.NEW_CALL if by_hand else EventCause.MAKE_CALL
        a = Leg(phone, device, self._new_call_id(phone), S.INITIATED, calling=device, called=called)
        self.legs[(phone.mac, a.call_id)] = a
        a_ev = EventDevice.of(device)
        a.emit(
            ServiceInitiatedEvent(
                monitorCrossRefID="",
                initiatedConnection=a.conn(),
                initiatingDevice=a_ev,
                localConnectionInfo=S.INITIATED,
                cause=cause,
            )
        )
        a.state = S.CONNECTED
        target = self.lines.get(_number(called))
        called_ev = EventDevice.of(target[1] if target else called)
        a.emit(
            OriginatedEvent(
                monitorCrossRefID="",
                originatedConnection=a.conn(),
                callingDevice=a_ev,
                calledDevice=called_ev,
                localConnectionInfo=S.CONNECTED,
                cause=cause,
            )
        )
        response = MakeCallResponse(callingDevice=a.conn())
        if target is None and called.startswith(self.external_prefix) and _number(called):
            self._call_out(a, called)
            return response
        if target is None or target[0].dnd:
            cause = EventCause.DO_NOT_DISTURB if target else EventCause.NUMBER_UNALLOCATED
            a.state = S.FAIL
            a.emit(
                FailedEvent(
                    monitorCrossRefID="",
                    failedConnection=a.conn(called_ev.device.value if called_ev.device else called),
                    failingDevice=called_ev,
                    callingDevice=a_ev,
                    calledDevice=called_ev,
                    localConnectionInfo=S.FAIL,
                    cause=cause,
                )
            )
            return response
        self._offer(a, target, EventCause.NEW_CALL)
        return response

    def _call_out(self, a: Leg, called: str) -> None:
        """A call to the simulated external party: it rings (Delivered at the
        caller), then answers, is busy, or rings on until the caller gives up."""
        far = EventDevice.of(called)
        me = EventDevice.of(a.device)
        if self.external == "busy":
            a.state = S.FAIL
            a.emit(
                FailedEvent(
                    monitorCrossRefID="",
                    failedConnection=a.conn(called),
                    failingDevice=far,
                    callingDevice=me,
                    calledDevice=far,
                    localConnectionInfo=S.FAIL,
                    cause=EventCause.BUSY,
                )
            )
            return
        a.emit(
            DeliveredEvent(
                monitorCrossRefID="",
                connection=a.conn(called),
                alertingDevice=far,
                callingDevice=me,
                calledDevice=far,
                localConnectionInfo=S.CONNECTED,
                cause=EventCause.NEW_CALL,
            )
        )
        if self.external == "answer":
            asyncio.get_running_loop().call_later(
                self.external_delay, self._answered_outside, a, called
            )

    def _answered_outside(self, a: Leg, called: str) -> None:
        if (a.phone.mac, a.call_id) not in self.legs or a.state is not S.CONNECTED:
            return  # the caller gave up meanwhile
        far = EventDevice.of(called)
        a.emit(
            EstablishedEvent(
                monitorCrossRefID="",
                establishedConnection=a.conn(called),
                answeringDevice=far,
                callingDevice=EventDevice.of(a.device),
                calledDevice=far,
                localConnectionInfo=S.CONNECTED,
                cause=EventCause.NORMAL,
            )
        )

    def _busy(self, phone: SimPhone) -> bool:
        return any(
            leg.phone is phone and leg.state in (S.CONNECTED, S.HOLD) for leg in self.legs.values()
        )

    def _offer(
        self,
        a: Leg,
        target: tuple[SimPhone, str],
        cause: EventCause,
        redirected_by: str | None = None,
        hops: int = 0,
    ) -> Leg | None:
        """Ring the target line, following its forwarding."""
        phone, line = target
        for kind, when, fwd_cause in (
            (ForwardingType.FORWARD_IMMEDIATE, True, EventCause.CALL_FORWARD_IMMEDIATE),
            (ForwardingType.FORWARD_BUSY, self._busy(phone), EventCause.CALL_FORWARD_BUSY),
        ):
            setting = phone.forwarding.get(kind)
            if setting and when and hops < MAX_FORWARDS:
                onward = self.lines.get(_number(setting[0]))
                if onward is not None:
                    return self._offer(a, onward, fwd_cause, redirected_by=line, hops=hops + 1)
        b = self._ring(a, target, cause=cause, redirected_by=redirected_by)
        no_answer = phone.forwarding.get(ForwardingType.FORWARD_NO_ANS)
        if no_answer is not None and hops < MAX_FORWARDS:
            onward = self.lines.get(_number(no_answer[0]))
            if onward is not None:
                delay = (no_answer[1] or 3) * self.ring_seconds
                b.no_answer = asyncio.get_running_loop().call_later(
                    delay, self._not_answered, b, onward
                )
        return b

    def _not_answered(self, b: Leg, onward: tuple[SimPhone, str]) -> None:
        b.no_answer = None
        if b.state is S.ALERTING and (b.phone.mac, b.call_id) in self.legs:
            self._divert(b, onward, EventCause.CALL_FORWARD_NO_ANSWER)

    def _ring(
        self,
        a: Leg,
        target: tuple[SimPhone, str],
        *,
        cause: EventCause,
        redirected_by: str | None = None,
    ) -> Leg:
        """A new leg at the target line, alerting, joined to ``a``."""
        other, line = target
        b = Leg(
            other, line, self._new_call_id(other), S.ALERTING, peer=a, calling=a.device, called=line
        )
        a.peer = b
        self.legs[(other.mac, b.call_id)] = b
        a_ev, b_ev = EventDevice.of(a.device), EventDevice.of(line)
        last = EventDevice.of(redirected_by) if redirected_by else None
        b.emit(
            DeliveredEvent(
                monitorCrossRefID="",
                connection=b.conn(),
                alertingDevice=b_ev,
                callingDevice=a_ev,
                calledDevice=b_ev,
                lastRedirectionDevice=last,
                localConnectionInfo=S.ALERTING,
                cause=cause,
            )
        )
        a.emit(
            DeliveredEvent(
                monitorCrossRefID="",
                connection=a.conn(line),
                alertingDevice=b_ev,
                callingDevice=a_ev,
                calledDevice=b_ev,
                lastRedirectionDevice=last,
                localConnectionInfo=a.state,
                cause=cause,
            )
        )
        return b

    def consult(self, held: Leg, consulted: str) -> ConsultationCallResponse | CSTAErrorCode:
        """Hold the existing call and call the consulted device from a second leg."""
        phone = held.phone
        target = self.lines.get(_number(consulted))
        if target is None or target[0].dnd:
            return CSTAErrorCode.operation("invalidDestination")
        self.hold(held)
        a = Leg(
            phone,
            held.device,
            self._new_call_id(phone),
            S.INITIATED,
            calling=held.device,
            called=consulted,
        )
        self.legs[(phone.mac, a.call_id)] = a
        me = EventDevice.of(held.device)
        a.emit(
            ServiceInitiatedEvent(
                monitorCrossRefID="",
                initiatedConnection=a.conn(),
                initiatingDevice=me,
                localConnectionInfo=S.INITIATED,
                cause=EventCause.CONSULTATION,
            )
        )
        a.state = S.CONNECTED
        a.emit(
            OriginatedEvent(
                monitorCrossRefID="",
                originatedConnection=a.conn(),
                callingDevice=me,
                calledDevice=EventDevice.of(target[1]),
                localConnectionInfo=S.CONNECTED,
                cause=EventCause.CONSULTATION,
            )
        )
        self._offer(a, target, EventCause.CONSULTATION)
        return ConsultationCallResponse(initiatedCall=a.conn())

    def transfer(self, held: Leg, active: Leg) -> None:
        """The transferring phone leaves; its two far ends are joined."""
        far_held, far_active = held.peer, active.peer
        me = EventDevice.of(held.device)
        to = EventDevice.of(far_active.device if far_active else active.called)
        for leg in (held, active):
            leg.state = S.NULL
            self._drop(leg)
        held.emit(
            TransferedEvent(
                monitorCrossRefID="",
                primaryOldCall=held.conn(),
                secondaryOldCall=active.conn(),
                transferringDevice=me,
                transferredToDevice=to,
                localConnectionInfo=S.NULL,
                cause=EventCause.TRANSFER,
            )
        )
        if far_held is not None and far_active is not None:
            far_held.peer, far_active.peer = far_active, far_held
            for leg in (far_held, far_active):
                leg.emit(
                    TransferedEvent(
                        monitorCrossRefID="",
                        primaryOldCall=leg.conn(held.device),
                        transferringDevice=me,
                        transferredToDevice=to,
                        transferredConnections=[
                            ConnectionListItem(newConnection=leg.conn(), oldConnection=leg.conn())
                        ],
                        localConnectionInfo=leg.state,
                        cause=EventCause.TRANSFER,
                    )
                )

    def conference(self, held: Leg, active: Leg) -> None:
        """The phone joins its held and active calls: its second leg merges
        into the first, and both far ends talk to each other and to it."""
        far_held, far_active = held.peer, active.peer
        assert far_held is not None and far_active is not None
        me, added = EventDevice.of(held.device), EventDevice.of(far_active.device)
        self._drop(active)
        held.state = S.CONNECTED
        conf = Conference(held, [far_held, far_active])
        held.peer = None
        for leg in (held, far_held, far_active):
            leg.conference = conf
        for far in conf.members:
            far.peer = held
        held.emit(
            ConferencedEvent(
                monitorCrossRefID="",
                primaryOldCall=held.conn(),
                secondaryOldCall=active.conn(),
                conferencingDevice=me,
                addedParty=added,
                conferenceConnections=[
                    ConnectionListItem(newConnection=held.conn(far.device)) for far in conf.members
                ],
                localConnectionInfo=S.CONNECTED,
                cause=EventCause.CONFERENCE,
            )
        )
        for far in conf.members:
            far.emit(
                ConferencedEvent(
                    monitorCrossRefID="",
                    primaryOldCall=far.conn(),
                    conferencingDevice=me,
                    addedParty=added,
                    conferenceConnections=[
                        ConnectionListItem(newConnection=far.conn(), oldConnection=far.conn())
                    ],
                    localConnectionInfo=far.state,
                    cause=EventCause.CONFERENCE,
                )
            )

    def _leave_conference(self, leg: Leg, conf: Conference) -> None:
        """A member hangs up: it is cleared, the others hear of it and stay."""
        me = EventDevice.of(leg.device)
        conf.members.remove(leg)
        leg.state, leg.conference = S.NULL, None
        self._drop(leg)
        leg.emit(
            ConnectionClearedEvent(
                monitorCrossRefID="",
                droppedConnection=leg.conn(),
                releasingDevice=me,
                localConnectionInfo=S.NULL,
                cause=EventCause.NORMAL_CLEARING,
            )
        )
        for other in (conf.host, *conf.members):
            other.emit(
                ConnectionClearedEvent(
                    monitorCrossRefID="",
                    droppedConnection=other.conn(leg.device),
                    releasingDevice=me,
                    localConnectionInfo=other.state,
                    cause=EventCause.NORMAL_CLEARING,
                )
            )
        if len(conf.members) == 1:  # two parties left: a plain call again
            last = conf.members[0]
            conf.host.peer, last.peer = last, conf.host
            conf.host.conference = last.conference = None

    def single_step_transfer(self, leg: Leg, target: tuple[SimPhone, str]) -> None:
        """The transferring phone leaves at once; its far end rings the target."""
        far = leg.peer
        assert far is not None
        me = EventDevice.of(leg.device)
        to = EventDevice.of(target[1])
        leg.state = S.NULL
        self._drop(leg)
        leg.emit(
            TransferedEvent(
                monitorCrossRefID="",
                primaryOldCall=leg.conn(),
                transferringDevice=me,
                transferredToDevice=to,
                localConnectionInfo=S.NULL,
                cause=EventCause.SINGLE_STEP_TRANSFER,
            )
        )
        far.emit(
            TransferedEvent(
                monitorCrossRefID="",
                primaryOldCall=far.conn(leg.device),
                transferringDevice=me,
                transferredToDevice=to,
                transferredConnections=[
                    ConnectionListItem(newConnection=far.conn(), oldConnection=far.conn())
                ],
                localConnectionInfo=far.state,
                cause=EventCause.SINGLE_STEP_TRANSFER,
            )
        )
        self._offer(far, target, EventCause.SINGLE_STEP_TRANSFER, redirected_by=leg.device)

    def deflect(self, leg: Leg, target: tuple[SimPhone, str]) -> None:
        """A ringing call sent on to another device."""
        self._divert(leg, target, EventCause.REDIRECTED)

    def _divert(self, leg: Leg, target: tuple[SimPhone, str], cause: EventCause) -> None:
        """Take a ringing leg away from its line and offer the call to ``target``."""
        caller = leg.peer
        me = EventDevice.of(leg.device)
        to = EventDevice.of(target[1])
        leg.state = S.NULL
        self._drop(leg)
        leg.emit(
            DivertedEvent(
                monitorCrossRefID="",
                connection=leg.conn(),
                divertingDevice=me,
                newDestination=to,
                localConnectionInfo=S.NULL,
                cause=cause,
            )
        )
        if caller is not None:
            caller.emit(
                DivertedEvent(
                    monitorCrossRefID="",
                    connection=caller.conn(leg.device),
                    divertingDevice=me,
                    newDestination=to,
                    localConnectionInfo=caller.state,
                    cause=cause,
                )
            )
            self._offer(caller, target, cause, redirected_by=leg.device)

    def _drop(self, leg: Leg) -> None:
        self.legs.pop((leg.phone.mac, leg.call_id), None)
        if leg.no_answer is not None:
            leg.no_answer.cancel()
            leg.no_answer = None

    def _tell_both(self, leg: Leg, build: Callable[[Leg, ConnectionID], CstaMessage]) -> None:
        """Each party reports a change of ``leg`` from its own side: the leg's
        connection as that phone names it, and that phone's own local state."""
        leg.emit(build(leg, leg.conn()))
        if leg.peer is not None:
            leg.peer.emit(build(leg.peer, leg.peer.conn(leg.device)))

    def answer(self, b: Leg) -> None:
        b.state = S.CONNECTED
        if b.no_answer is not None:
            b.no_answer.cancel()
            b.no_answer = None
        caller, me = EventDevice.of(b.calling), EventDevice.of(b.device)
        self._tell_both(
            b,
            lambda side, conn: EstablishedEvent(
                monitorCrossRefID="",
                establishedConnection=conn,
                answeringDevice=me,
                callingDevice=caller,
                calledDevice=me,
                localConnectionInfo=side.state,
                cause=EventCause.NORMAL,
            ),
        )

    def hold(self, leg: Leg) -> None:
        leg.state = S.HOLD
        me = EventDevice.of(leg.device)
        self._tell_both(
            leg,
            lambda side, conn: HeldEvent(
                monitorCrossRefID="",
                heldConnection=conn,
                holdingDevice=me,
                localConnectionInfo=side.state,
                cause=EventCause.NORMAL,
            ),
        )

    def retrieve(self, leg: Leg) -> None:
        leg.state = S.CONNECTED
        me = EventDevice.of(leg.device)
        self._tell_both(
            leg,
            lambda side, conn: RetrievedEvent(
                monitorCrossRefID="",
                retrievedConnection=conn,
                retrievingDevice=me,
                localConnectionInfo=side.state,
                cause=EventCause.NORMAL,
            ),
        )

    def clear(self, leg: Leg) -> None:
        """Clearing one side of a two-party call ends both; the host of a
        conference leaving ends it for all."""
        conf = leg.conference
        if conf is not None and leg is not conf.host:
            self._leave_conference(leg, conf)
            return
        if conf is not None:
            while len(conf.members) > 1:
                self._leave_conference(conf.members[-1], conf)
            if leg.conference is not None:  # not dissolved: nobody left
                leg.conference = None
        me = EventDevice.of(leg.device)
        for side in (leg, leg.peer):
            if side is not None:
                side.state = S.NULL
                self._drop(side)
        self._tell_both(
            leg,
            lambda side, conn: ConnectionClearedEvent(
                monitorCrossRefID="",
                droppedConnection=conn,
                releasingDevice=me,
                localConnectionInfo=S.NULL,
                cause=EventCause.NORMAL_CLEARING,
            ),
        )
