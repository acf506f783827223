"""Calls on the simulated switch, seen through the real server: the server
monitors two simulated phones, drives the call with CSTA requests, and each
phone's events arrive in order, fit the ECMA-269 call-state table, and carry
the monitorCrossRefID the phone gave."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator

import pytest

from tests.conftest import PHONE_PASSWORD, eventually
from uacsta.csta.callstate import CallTracker
from uacsta.csta.model import (
    AnswerCall,
    AnswerCallResponse,
    ClearConnection,
    ConnectionClearedEvent,
    CstaMessage,
    DeliveredEvent,
    DivertedEvent,
    DoNotDisturbEvent,
    EstablishedEvent,
    FailedEvent,
    ForwardingEvent,
    HeldEvent,
    HoldCall,
    MakeCall,
    MakeCallResponse,
    MonitorObject,
    MonitorStart,
    MonitorStartResponse,
    OriginatedEvent,
    RetrieveCall,
    RetrievedEvent,
    ServiceInitiatedEvent,
    SetDoNotDisturb,
)
from uacsta.csta.types import ConnectionID, DeviceID, EventCause
from uacsta.csta.types import LocalConnectionState as S
from uacsta.phones.phone_session import PhoneSession
from uacsta.server import UacstaServer
from uacsta.sim.phone import SimPhone, SimPhoneConfig
from uacsta.sim.switch import SimSwitch

A_ID, B_ID = "sip:201@pbx.example", "sip:202@pbx.example"


class Pair:
    def __init__(self, server: UacstaServer) -> None:
        assert server.phones is not None and server.sessions is not None
        self.server = server
        port = server.phones.port("lan", "TCP")
        self.switch = SimSwitch()
        self.a = SimPhone(
            SimPhoneConfig("snom", "000413000201", [A_ID], PHONE_PASSWORD, "127.0.0.1", port)
        )
        self.b = SimPhone(
            SimPhoneConfig("yealink", "001565000202", [B_ID], PHONE_PASSWORD, "127.0.0.1", port)
        )
        for phone in (self.a, self.b):
            self.switch.attach(phone)
        self.events: dict[str, list[CstaMessage]] = defaultdict(list)
        server.sessions.observers.append(self)
        self.refs: dict[str, str] = {}

    # -- the session manager's PhoneObserver: call events only (a phone also
    # reports its DND and forwarding settings, not the subject here)
    def phone_event(self, mac: str, event: CstaMessage) -> None:
        if not isinstance(event, DoNotDisturbEvent | ForwardingEvent):
            self.events[mac].append(event)

    def phone_changed(self, line: object) -> None:
        pass

    def phone_removed(self, mac: str) -> None:
        pass

    def monitor_stopped(self, mac: str, monitor_xref: str) -> None:
        pass

    def session(self, phone: SimPhone) -> PhoneSession:
        assert self.server.sessions is not None
        session = self.server.sessions.session(phone.mac)
        assert session is not None
        return session

    async def start(self) -> None:
        assert self.server.sessions is not None
        for phone, device in ((self.a, A_ID), (self.b, B_ID)):
            await phone.start()
            await eventually(lambda p=phone: self.server.sessions.controllable(p.mac))
            answer = await self.session(phone).request(
                MonitorStart(monitorObject=MonitorObject(deviceObject=DeviceID(device)))
            )
            assert isinstance(answer, MonitorStartResponse)
            self.refs[phone.mac] = answer.monitorCrossRefID

    def kinds(self, phone: SimPhone) -> list[tuple[str, S | None]]:
        return [
            (type(e).__name__, getattr(e, "localConnectionInfo", None))
            for e in self.events[phone.mac]
        ]


@pytest.fixture
async def pair(server: UacstaServer) -> AsyncIterator[Pair]:
    p = Pair(server)
    await p.start()
    yield p
    for phone in (p.a, p.b):
        await phone.stop()


async def test_basic_call_hold_retrieve_clear(pair: Pair) -> None:
    a, b = pair.a, pair.b
    made = await pair.session(a).request(
        MakeCall(callingDevice=DeviceID(A_ID), calledDirectoryNumber=DeviceID("202"))
    )
    assert isinstance(made, MakeCallResponse) and made.callingDevice.callID is not None
    a_call = made.callingDevice.callID
    assert a_call.startswith("-")  # snom's negative callIDs
    await eventually(lambda: len(pair.events[a.mac]) == 3 and len(pair.events[b.mac]) == 1)
    assert pair.kinds(a) == [
        ("ServiceInitiatedEvent", S.INITIATED),
        ("OriginatedEvent", S.CONNECTED),
        ("DeliveredEvent", S.CONNECTED),
    ]
    assert pair.kinds(b) == [("DeliveredEvent", S.ALERTING)]
    ringing = pair.events[b.mac][0]
    assert isinstance(ringing, DeliveredEvent)
    assert ringing.callingDevice is not None and ringing.callingDevice.key == "201@pbx.example"
    b_call = ringing.connection
    answered = await pair.session(b).request(AnswerCall(callToBeAnswered=b_call))
    assert isinstance(answered, AnswerCallResponse)
    await pair.session(a).request(HoldCall(callToBeHeld=made.callingDevice))
    await pair.session(a).request(RetrieveCall(callToBeRetrieved=made.callingDevice))
    await pair.session(b).request(ClearConnection(connectionToBeCleared=b_call))
    await eventually(lambda: len(pair.events[a.mac]) == 7 and len(pair.events[b.mac]) == 5)
    assert pair.kinds(a)[3:] == [
        ("EstablishedEvent", S.CONNECTED),
        ("HeldEvent", S.HOLD),
        ("RetrievedEvent", S.CONNECTED),
        ("ConnectionClearedEvent", S.NULL),
    ]
    assert pair.kinds(b)[1:] == [
        ("EstablishedEvent", S.CONNECTED),
        ("HeldEvent", S.CONNECTED),
        ("RetrievedEvent", S.CONNECTED),
        ("ConnectionClearedEvent", S.NULL),
    ]
    for phone in (a, b):
        assert {e.monitorCrossRefID for e in pair.events[phone.mac]} == {  # type: ignore[attr-defined]
            pair.refs[phone.mac]
        }
        tracker = CallTracker()
        for event in pair.events[phone.mac]:
            assert tracker.apply(event) is None, event
        assert tracker.calls == {}
    kinds = [type(e) for e in pair.events[a.mac]]
    assert kinds == [
        ServiceInitiatedEvent,
        OriginatedEvent,
        DeliveredEvent,
        EstablishedEvent,
        HeldEvent,
        RetrievedEvent,
        ConnectionClearedEvent,
    ]
    assert isinstance(pair.events[b.mac][1], EstablishedEvent)


async def test_busy_with_dnd_and_errors(pair: Pair) -> None:
    a, b = pair.a, pair.b
    await pair.session(b).request(SetDoNotDisturb(device=DeviceID(B_ID), doNotDisturbOn=True))
    made = await pair.session(a).request(
        MakeCall(callingDevice=DeviceID(A_ID), calledDirectoryNumber=DeviceID("202"))
    )
    assert isinstance(made, MakeCallResponse)
    await eventually(lambda: len(pair.events[a.mac]) == 3)
    failed = pair.events[a.mac][2]
    assert isinstance(failed, FailedEvent) and failed.cause is EventCause.DO_NOT_DISTURB
    assert pair.events[b.mac] == []  # B never rang
    wrong = await pair.session(b).request(AnswerCall(callToBeAnswered=made.callingDevice))
    assert str(wrong) == "stateIncompatibility/noCallToAnswer"
    other = await pair.session(a).request(
        MakeCall(
            callingDevice=DeviceID("sip:999@pbx.example"), calledDirectoryNumber=DeviceID("202")
        )
    )
    assert str(other) == "operation/invalidCallingDevice"


C_ID = "sip:203@pbx.example"


class Trio(Pair):
    def __init__(self, server: UacstaServer) -> None:
        super().__init__(server)
        assert server.phones is not None
        self.c = SimPhone(
            SimPhoneConfig(
                "mitel",
                "00085D000203",
                [C_ID],
                PHONE_PASSWORD,
                "127.0.0.1",
                server.phones.port("lan", "TCP"),
            )
        )
        self.switch.attach(self.c)

    async def start(self) -> None:
        await super().start()
        assert self.server.sessions is not None
        await self.c.start()
        await eventually(lambda: self.server.sessions.controllable(self.c.mac))
        answer = await self.session(self.c).request(
            MonitorStart(monitorObject=MonitorObject(deviceObject=DeviceID(C_ID)))
        )
        assert isinstance(answer, MonitorStartResponse)
        self.refs[self.c.mac] = answer.monitorCrossRefID

    async def call(self, frm: SimPhone, device: str, number: str) -> MakeCallResponse:
        made = await self.session(frm).request(
            MakeCall(callingDevice=DeviceID(device), calledDirectoryNumber=DeviceID(number))
        )
        assert isinstance(made, MakeCallResponse)
        return made

    async def wait(self, *counts: tuple[SimPhone, int]) -> None:
        await eventually(lambda: all(len(self.events[p.mac]) == n for p, n in counts))

    def last(self, phone: SimPhone, kind: type[CstaMessage]) -> CstaMessage:
        return [e for e in self.events[phone.mac] if isinstance(e, kind)][-1]

    async def consulting(
        self,
    ) -> tuple[ConnectionID, ConnectionID, DeliveredEvent, DeliveredEvent]:
        """A calls B, B answers; A consults C, C answers.  A's held and
        active connections, and B's and C's ringing events."""
        from uacsta.csta.model import ConsultationCall, ConsultationCallResponse

        a, b, c = self.a, self.b, self.c
        made = await self.call(a, A_ID, "202")
        await self.wait((a, 3), (b, 1))
        ring = self.last(b, DeliveredEvent)
        assert isinstance(ring, DeliveredEvent)
        await self.session(b).request(AnswerCall(callToBeAnswered=ring.connection))
        consult = await self.session(a).request(
            ConsultationCall(existingCall=made.callingDevice, consultedDevice=DeviceID("203"))
        )
        assert isinstance(consult, ConsultationCallResponse) and consult.initiatedCall is not None
        await self.wait((a, 8), (b, 3), (c, 1))
        c_ring = self.last(c, DeliveredEvent)
        assert isinstance(c_ring, DeliveredEvent)
        await self.session(c).request(AnswerCall(callToBeAnswered=c_ring.connection))
        return made.callingDevice, consult.initiatedCall, ring, c_ring

    def check_call_states(self) -> None:
        for phone in (self.a, self.b, self.c):
            tracker = CallTracker()
            for event in self.events[phone.mac]:
                assert tracker.apply(event) is None, (phone.mac, event)
            assert tracker.calls == {}, (phone.mac, tracker.calls)


@pytest.fixture
async def trio(server: UacstaServer) -> AsyncIterator[Trio]:
    t = Trio(server)
    await t.start()
    yield t
    for phone in (t.a, t.b, t.c):
        await phone.stop()


async def test_consultation_and_transfer(trio: Trio) -> None:
    from uacsta.csta.model import TransferCall

    a, b, c = trio.a, trio.b, trio.c
    made, second, ring, _c_ring = await trio.consulting()
    await trio.session(a).request(TransferCall(heldCall=made, activeCall=second))
    await trio.wait((a, 10), (b, 4), (c, 3))
    b_leg = ring.connection
    await trio.session(b).request(ClearConnection(connectionToBeCleared=b_leg))
    await trio.wait((a, 10), (b, 5), (c, 4))
    assert trio.kinds(a) == [
        ("ServiceInitiatedEvent", S.INITIATED),
        ("OriginatedEvent", S.CONNECTED),
        ("DeliveredEvent", S.CONNECTED),
        ("EstablishedEvent", S.CONNECTED),
        ("HeldEvent", S.HOLD),
        ("ServiceInitiatedEvent", S.INITIATED),
        ("OriginatedEvent", S.CONNECTED),
        ("DeliveredEvent", S.CONNECTED),
        ("EstablishedEvent", S.CONNECTED),
        ("TransferedEvent", S.NULL),
    ]
    assert trio.kinds(b) == [
        ("DeliveredEvent", S.ALERTING),
        ("EstablishedEvent", S.CONNECTED),
        ("HeldEvent", S.CONNECTED),
        ("TransferedEvent", S.CONNECTED),
        ("ConnectionClearedEvent", S.NULL),
    ]
    assert trio.kinds(c) == [
        ("DeliveredEvent", S.ALERTING),
        ("EstablishedEvent", S.CONNECTED),
        ("TransferedEvent", S.CONNECTED),
        ("ConnectionClearedEvent", S.NULL),
    ]
    cleared = trio.last(c, ConnectionClearedEvent)
    assert isinstance(cleared, ConnectionClearedEvent)
    assert cleared.releasingDevice is not None and cleared.releasingDevice.key == "202@pbx.example"
    trio.check_call_states()


async def test_single_step_transfer(trio: Trio) -> None:
    from uacsta.csta.model import SingleStepTransferCall, SingleStepTransferCallResponse

    a, b, c = trio.a, trio.b, trio.c
    made = await trio.call(a, A_ID, "202")
    await trio.wait((a, 3), (b, 1))
    ring = trio.last(b, DeliveredEvent)
    assert isinstance(ring, DeliveredEvent)
    await trio.session(b).request(AnswerCall(callToBeAnswered=ring.connection))
    done = await trio.session(a).request(
        SingleStepTransferCall(activeCall=made.callingDevice, transferredTo=DeviceID(C_ID))
    )
    assert isinstance(done, SingleStepTransferCallResponse)
    await trio.wait((a, 5), (b, 4), (c, 1))
    c_ring = trio.last(c, DeliveredEvent)
    assert isinstance(c_ring, DeliveredEvent) and c_ring.callingDevice is not None
    assert c_ring.callingDevice.key == "202@pbx.example"
    await trio.session(c).request(AnswerCall(callToBeAnswered=c_ring.connection))
    await trio.session(c).request(ClearConnection(connectionToBeCleared=c_ring.connection))
    await trio.wait((a, 5), (b, 6), (c, 3))
    assert trio.kinds(a)[-1] == ("TransferedEvent", S.NULL)
    assert trio.kinds(b)[2:] == [
        ("TransferedEvent", S.CONNECTED),
        ("DeliveredEvent", S.CONNECTED),
        ("EstablishedEvent", S.CONNECTED),
        ("ConnectionClearedEvent", S.NULL),
    ]
    trio.check_call_states()


async def test_deflect(trio: Trio) -> None:
    from uacsta.csta.model import DeflectCall, DeflectCallResponse

    a, b, c = trio.a, trio.b, trio.c
    made = await trio.call(a, A_ID, "202")
    await trio.wait((a, 3), (b, 1))
    ring = trio.last(b, DeliveredEvent)
    assert isinstance(ring, DeliveredEvent)
    done = await trio.session(b).request(
        DeflectCall(callToBeDiverted=ring.connection, newDestination=DeviceID(C_ID))
    )
    assert isinstance(done, DeflectCallResponse)
    await trio.wait((a, 5), (b, 2), (c, 1))
    assert trio.kinds(b) == [("DeliveredEvent", S.ALERTING), ("DivertedEvent", S.NULL)]
    assert trio.kinds(a)[3:] == [("DivertedEvent", S.CONNECTED), ("DeliveredEvent", S.CONNECTED)]
    c_ring = trio.last(c, DeliveredEvent)
    assert isinstance(c_ring, DeliveredEvent) and c_ring.lastRedirectionDevice is not None
    assert c_ring.lastRedirectionDevice.key == "202@pbx.example"
    await trio.session(c).request(AnswerCall(callToBeAnswered=c_ring.connection))
    await trio.session(a).request(ClearConnection(connectionToBeCleared=made.callingDevice))
    await trio.wait((a, 7), (b, 2), (c, 3))
    trio.check_call_states()


async def test_forwarding_immediate_busy_and_no_answer(trio: Trio) -> None:
    from uacsta.csta.model import GetForwarding, GetForwardingResponse, SetForwarding
    from uacsta.csta.types import ForwardingType

    a, b, c = trio.a, trio.b, trio.c
    # Rings long enough that a loaded 2-core CI machine (event loop 0.4 s late)
    # still answers "in time" below; two rings are 0.5 s.
    trio.switch.ring_seconds = 0.25
    sb = trio.session(b)
    # immediate: B's line never rings, C does, redirected by B
    await sb.request(
        SetForwarding(
            device=DeviceID(B_ID),
            activateForward=True,
            forwardingType=ForwardingType.FORWARD_IMMEDIATE,
            forwardDN=DeviceID(C_ID),
        )
    )
    listed = await sb.request(GetForwarding(device=DeviceID(B_ID)))
    assert isinstance(listed, GetForwardingResponse)
    assert [
        (i.forwardingType, i.forwardDN.value if i.forwardDN else None)
        for i in listed.forwardingList
    ] == [(ForwardingType.FORWARD_IMMEDIATE, C_ID)]
    made = await trio.call(a, A_ID, "202")
    await trio.wait((a, 3), (c, 1))
    assert trio.events[b.mac] == []
    ring = trio.last(c, DeliveredEvent)
    assert isinstance(ring, DeliveredEvent) and ring.cause is EventCause.CALL_FORWARD_IMMEDIATE
    assert ring.lastRedirectionDevice is not None
    assert ring.lastRedirectionDevice.key == "202@pbx.example"
    await trio.session(a).request(ClearConnection(connectionToBeCleared=made.callingDevice))
    await trio.wait((a, 4), (c, 2))
    await sb.request(
        SetForwarding(
            device=DeviceID(B_ID),
            activateForward=False,
            forwardingType=ForwardingType.FORWARD_IMMEDIATE,
        )
    )
    # no answer after two rings
    await sb.request(
        SetForwarding(
            device=DeviceID(B_ID),
            activateForward=True,
            forwardingType=ForwardingType.FORWARD_NO_ANS,
            forwardDN=DeviceID(C_ID),
            ringCount=2,
        )
    )
    made = await trio.call(a, A_ID, "202")
    await trio.wait((a, 9), (b, 2), (c, 3))
    assert trio.kinds(b) == [("DeliveredEvent", S.ALERTING), ("DivertedEvent", S.NULL)]
    assert trio.kinds(a)[-2:] == [("DivertedEvent", S.CONNECTED), ("DeliveredEvent", S.CONNECTED)]
    diverted = trio.last(b, DivertedEvent)
    assert isinstance(diverted, DivertedEvent)
    assert diverted.cause is EventCause.CALL_FORWARD_NO_ANSWER
    await trio.session(a).request(ClearConnection(connectionToBeCleared=made.callingDevice))
    await trio.wait((a, 10), (c, 4))
    # answered in time: no forwarding happens
    made = await trio.call(a, A_ID, "202")
    await trio.wait((a, 13), (b, 3))
    ring_b = trio.last(b, DeliveredEvent)
    assert isinstance(ring_b, DeliveredEvent)
    await trio.session(b).request(AnswerCall(callToBeAnswered=ring_b.connection))
    await eventually(lambda: trio.kinds(b)[-1] == ("EstablishedEvent", S.CONNECTED))
    # the switch called the no-answer forwarding off when B answered
    assert all(leg.no_answer is None for leg in trio.switch.legs_of(b))
    # busy: B is in that call, so a call from C is forwarded back to... A's line
    await sb.request(
        SetForwarding(
            device=DeviceID(B_ID),
            activateForward=True,
            forwardingType=ForwardingType.FORWARD_BUSY,
            forwardDN=DeviceID(A_ID),
        )
    )
    c_made = await trio.call(c, C_ID, "202")
    await trio.wait((c, 7), (a, 15))
    busy_ring = trio.last(a, DeliveredEvent)
    assert isinstance(busy_ring, DeliveredEvent)
    assert busy_ring.cause is EventCause.CALL_FORWARD_BUSY
    await trio.session(c).request(ClearConnection(connectionToBeCleared=c_made.callingDevice))
    await trio.session(a).request(ClearConnection(connectionToBeCleared=made.callingDevice))
    await trio.wait((a, 17), (b, 5), (c, 8))
    assert trio.kinds(a)[-2:] == [("ConnectionClearedEvent", S.NULL)] * 2
    trio.check_call_states()


async def test_conference_exact_sequences(trio: Trio) -> None:
    from uacsta.csta.model import ConferenceCall, ConferencedEvent

    a, b, c = trio.a, trio.b, trio.c
    made, second, _ring, c_ring = await trio.consulting()
    await trio.session(a).request(ConferenceCall(heldCall=made, activeCall=second))
    await trio.wait((a, 10), (b, 4), (c, 3))
    conf = trio.last(a, ConferencedEvent)
    assert isinstance(conf, ConferencedEvent) and conf.cause is EventCause.CONFERENCE
    # C leaves: A and B go on; then A hangs up
    await trio.session(c).request(ClearConnection(connectionToBeCleared=c_ring.connection))
    await trio.wait((a, 11), (b, 5), (c, 4))
    await trio.session(a).request(ClearConnection(connectionToBeCleared=made))
    await trio.wait((a, 12), (b, 6), (c, 4))
    assert trio.kinds(a) == [
        ("ServiceInitiatedEvent", S.INITIATED),
        ("OriginatedEvent", S.CONNECTED),
        ("DeliveredEvent", S.CONNECTED),
        ("EstablishedEvent", S.CONNECTED),
        ("HeldEvent", S.HOLD),
        ("ServiceInitiatedEvent", S.INITIATED),
        ("OriginatedEvent", S.CONNECTED),
        ("DeliveredEvent", S.CONNECTED),
        ("EstablishedEvent", S.CONNECTED),
        ("ConferencedEvent", S.CONNECTED),
        ("ConnectionClearedEvent", S.CONNECTED),
        ("ConnectionClearedEvent", S.NULL),
    ]
    assert trio.kinds(b) == [
        ("DeliveredEvent", S.ALERTING),
        ("EstablishedEvent", S.CONNECTED),
        ("HeldEvent", S.CONNECTED),
        ("ConferencedEvent", S.CONNECTED),
        ("ConnectionClearedEvent", S.CONNECTED),
        ("ConnectionClearedEvent", S.NULL),
    ]
    assert trio.kinds(c) == [
        ("DeliveredEvent", S.ALERTING),
        ("EstablishedEvent", S.CONNECTED),
        ("ConferencedEvent", S.CONNECTED),
        ("ConnectionClearedEvent", S.NULL),
    ]
    trio.check_call_states()


async def test_no_answer_the_caller_gives_up(pair: Pair) -> None:
    a, b = pair.a, pair.b
    made = await pair.session(a).request(
        MakeCall(callingDevice=DeviceID(A_ID), calledDirectoryNumber=DeviceID("202"))
    )
    assert isinstance(made, MakeCallResponse)
    await eventually(lambda: len(pair.events[a.mac]) == 3 and len(pair.events[b.mac]) == 1)
    # it rings (B was told), nobody answers, and the caller gives up
    await pair.session(a).request(ClearConnection(connectionToBeCleared=made.callingDevice))
    await eventually(lambda: len(pair.events[a.mac]) == 4 and len(pair.events[b.mac]) == 2)
    assert pair.kinds(a) == [
        ("ServiceInitiatedEvent", S.INITIATED),
        ("OriginatedEvent", S.CONNECTED),
        ("DeliveredEvent", S.CONNECTED),
        ("ConnectionClearedEvent", S.NULL),
    ]
    assert pair.kinds(b) == [("DeliveredEvent", S.ALERTING), ("ConnectionClearedEvent", S.NULL)]
