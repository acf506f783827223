"""Each simulated vendor answers every service of the manual's table (section
2.4) the way the table says: supported (or limited) → a valid positive
response; not supported, or only emulated by the server → the phone's
``operation/serviceNotSupported``.  The requests go through the real server's
uaCSTA dialog with the phone (its answers, not the server's routing)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import PHONE_PASSWORD, eventually
from uacsta.csta import model as m
from uacsta.csta.errors import CSTAErrorCode
from uacsta.csta.types import ConnectionID, DeviceID, ForwardingType, LocalConnectionState
from uacsta.phones.phone_session import PhoneSession
from uacsta.server import UacstaServer
from uacsta.sim.phone import SimPhone, SimPhoneConfig
from uacsta.sim.switch import SimSwitch
from uacsta.vendors import VENDORS, Support

MACS = {
    "snom": "000413000001",
    "yealink": "001565000001",
    "mitel": "00085D000001",
    "poly": "0004F2000001",
    "auerswald": "000952000001",
    "gigaset": "58gEC6000001",
}
P, Q, R = "sip:201@pbx.example", "sip:202@pbx.example", "sip:203@pbx.example"


class Conformance:
    def __init__(self, server: UacstaServer, vendor: str) -> None:
        assert server.phones is not None
        port = server.phones.port("lan", "TCP")
        self.server = server
        self.profile = VENDORS[vendor]
        self.switch = SimSwitch()
        self.p = SimPhone(
            SimPhoneConfig(vendor, MACS[vendor], [P], PHONE_PASSWORD, "127.0.0.1", port)
        )
        self.q = SimPhone(
            SimPhoneConfig("snom", "000413000202", [Q], PHONE_PASSWORD, "127.0.0.1", port)
        )
        self.r = SimPhone(
            SimPhoneConfig("snom", "000413000203", [R], PHONE_PASSWORD, "127.0.0.1", port)
        )
        for phone in (self.p, self.q, self.r):
            self.switch.attach(phone)
        self.checked: set[str] = set()

    @property
    def session(self) -> PhoneSession:
        assert self.server.sessions is not None
        session = self.server.sessions.session(self.p.mac)
        assert session is not None
        return session

    async def ask(self, request: m.CstaMessage) -> m.CstaMessage | CSTAErrorCode:
        """Send ``request`` to the phone and check its answer against the table."""
        name = request.root()
        self.checked.add(name)
        answer = await self.session.request(request)
        if self.profile.supports(name):
            assert not isinstance(answer, CSTAErrorCode), f"{name}: {answer}"
            assert isinstance(answer, m.CstaMessage)
            assert answer.root() == f"{name}Response", f"{name}: {answer}"
        else:
            assert isinstance(answer, CSTAErrorCode), f"{name}: {answer}"
            assert str(answer) == "operation/serviceNotSupported"
        assert isinstance(answer, m.CstaMessage | CSTAErrorCode)
        return answer

    def my_leg(self, state: LocalConnectionState) -> ConnectionID:
        for leg in self.switch.legs_of(self.p):
            if leg.state is state:
                return leg.conn()
        raise AssertionError(f"no {state.value} call at the phone")

    async def call_out(self, to: str) -> ConnectionID:
        made = await self.ask(
            m.MakeCall(callingDevice=DeviceID(P), calledDirectoryNumber=DeviceID(to))
        )
        assert isinstance(made, m.MakeCallResponse)
        return made.callingDevice

    def hang_up_all(self) -> None:
        for phone in (self.q, self.r, self.p):
            while phone.hang_up():
                pass


@pytest.fixture(params=sorted(MACS))
async def conformance(
    server: UacstaServer, request: pytest.FixtureRequest
) -> AsyncIterator[Conformance]:
    c = Conformance(server, request.param)
    for phone in (c.p, c.q, c.r):
        await phone.start()
    assert server.sessions is not None
    await eventually(lambda: all(server.sessions.controllable(x.mac) for x in (c.p, c.q, c.r)))
    yield c
    for phone in (c.p, c.q, c.r):
        await phone.stop()


async def test_every_service_of_the_table(conformance: Conformance) -> None:
    c = conformance
    me = DeviceID(P)
    dummy = ConnectionID("1", me)
    # system and capability exchange
    await c.ask(m.RequestSystemStatus())
    registered = await c.ask(m.SystemRegister(requestTypes=m.RequestTypes(systemStatus=True)))
    reg_id = (
        registered.sysStatRegisterID if isinstance(registered, m.SystemRegisterResponse) else "1"
    )
    await c.ask(m.SystemRegisterCancel(sysStatRegisterID=reg_id))
    await c.ask(m.GetSwitchingFunctionDevices())
    started = await c.ask(m.MonitorStart(monitorObject=m.MonitorObject(deviceObject=me)))
    # logical device features
    await c.ask(m.SetDoNotDisturb(device=me, doNotDisturbOn=True))
    await c.ask(m.GetDoNotDisturb(device=me))
    await c.ask(m.SetDoNotDisturb(device=me, doNotDisturbOn=False))
    await c.ask(
        m.SetForwarding(
            device=me,
            forwardingType=ForwardingType.FORWARD_BUSY,
            activateForward=True,
            forwardDN=DeviceID(R),
        )
    )
    await c.ask(m.GetForwarding(device=me))
    await c.ask(
        m.SetForwarding(
            device=me, forwardingType=ForwardingType.FORWARD_BUSY, activateForward=False
        )
    )
    await c.ask(m.SnapshotDevice(snapshotObject=me))
    # a call out, answered at the far end
    conn = await c.call_out("202")
    assert c.q.answer()
    await c.ask(m.SnapshotCall(snapshotObject=conn))
    await c.ask(m.GenerateDigits(connectionToSendDigits=conn, charactersToSend="12#"))
    await c.ask(m.DialDigits(connectionToBeDialed=conn, digitsToBeDialed="1"))
    held = await c.ask(m.HoldCall(callToBeHeld=conn))
    await c.ask(
        m.RetrieveCall(callToBeRetrieved=conn if isinstance(held, m.CstaMessage) else dummy)
    )
    # AlternateCall: the server emulates it; the phone itself never has it
    await c.ask(m.AlternateCall(heldCall=conn, activeCall=conn))
    # consultation, then transfer
    consult = await c.ask(m.ConsultationCall(existingCall=conn, consultedDevice=DeviceID(R)))
    second = dummy
    if isinstance(consult, m.ConsultationCallResponse):
        assert consult.initiatedCall is not None
        second = consult.initiatedCall
        assert c.r.answer()
    await c.ask(m.TransferCall(heldCall=conn, activeCall=second))
    c.hang_up_all()
    # consultation, then conference
    if c.profile.supports("ConferenceCall"):
        conn = await c.call_out("202")
        assert c.q.answer()
        consult = await c.ask(m.ConsultationCall(existingCall=conn, consultedDevice=DeviceID(R)))
        assert isinstance(consult, m.ConsultationCallResponse) and consult.initiatedCall
        assert c.r.answer()
        await c.ask(m.ConferenceCall(heldCall=conn, activeCall=consult.initiatedCall))
        c.hang_up_all()
    else:
        await c.ask(m.ConferenceCall(heldCall=dummy, activeCall=dummy))
    # single-step transfer of a connected call
    if c.profile.supports("SingleStepTransferCall"):
        conn = await c.call_out("202")
        assert c.q.answer()
        await c.ask(m.SingleStepTransferCall(activeCall=conn, transferredTo=DeviceID(R)))
        c.hang_up_all()
    else:
        await c.ask(m.SingleStepTransferCall(activeCall=dummy, transferredTo=DeviceID(R)))
    # calls coming in: deflect one, answer one
    assert c.q.dial("201") is not None
    ringing = c.my_leg(LocalConnectionState.ALERTING)
    await c.ask(m.DeflectCall(callToBeDiverted=ringing, newDestination=DeviceID(R)))
    c.hang_up_all()
    assert c.q.dial("201") is not None
    ringing = c.my_leg(LocalConnectionState.ALERTING)
    await c.ask(m.DirectedPickupCall(callToBePickedUp=ringing, requestingDevice=me))
    await c.ask(m.AnswerCall(callToBeAnswered=ringing))
    await c.ask(m.ClearConnection(connectionToBeCleared=c.my_leg(LocalConnectionState.CONNECTED)))
    c.hang_up_all()
    assert isinstance(started, m.MonitorStartResponse)
    await c.ask(m.MonitorStop(monitorCrossRefID=started.monitorCrossRefID))
    # every feature of the vendor's table was asked
    assert set(c.profile.features) <= c.checked
    assert {f for f, s in c.profile.features.items() if s is Support.EMULATED} <= {"AlternateCall"}
