"""The uaCSTA-over-SIP client face: a CTI client INVITEs the server with
RequestSystemStatus, sends CSTA requests in INFO and gets events as INFO,
in the edition it speaks; simulated phones on the other side."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.conftest import CLIENT_LOGIN, CLIENT_PASSWORD, client_tls, eventually
from tests.helpers.sipclient import SipCstaClient
from tests.integration.switching import Lab, until
from uacsta.csta import model as m
from uacsta.csta.codec import NAMESPACES
from uacsta.csta.errors import CSTAErrorCode
from uacsta.csta.types import DeviceID
from uacsta.csta.types import LocalConnectionState as S
from uacsta.server import UacstaServer


@pytest.fixture
async def lab(server: UacstaServer) -> AsyncIterator[Lab]:
    lab = Lab(server, ["snom", "yealink", "gigaset"])
    await lab.start()
    yield lab
    await lab.stop()


def sip_port(server: UacstaServer, transport: str = "TCP") -> int:
    assert server.client_sip is not None
    return server.client_sip.port("lan", transport)


async def cti(
    server: UacstaServer, user: str = CLIENT_LOGIN, password: str = CLIENT_PASSWORD, **kw: object
) -> SipCstaClient:
    client = SipCstaClient("127.0.0.1", sip_port(server), user, password, **kw)  # type: ignore[arg-type]
    response = await client.connect()
    assert response.status == 200, response.status
    return client


async def monitor(client: SipCstaClient, device: str) -> str:
    answer = await client.request(
        m.MonitorStart(monitorObject=m.MonitorObject(deviceObject=DeviceID(device)))
    )
    assert isinstance(answer, m.MonitorStartResponse), answer
    back = await client.next_event()
    assert (
        isinstance(back, m.BackInServiceEvent)
        and back.monitorCrossRefID == answer.monitorCrossRefID
    )
    return answer.monitorCrossRefID


async def test_invite_is_challenged_and_answered_with_system_status(lab: Lab) -> None:
    client = SipCstaClient("127.0.0.1", sip_port(lab.server), CLIENT_LOGIN, CLIENT_PASSWORD)
    try:
        final = await client.connect()
        assert final.status == 200
        status = m.RequestSystemStatusResponse
        from uacsta.csta.codec import decode

        answer = decode(final.body)
        assert isinstance(answer, status) and answer.systemStatus == "normal"
        assert NAMESPACES[4].encode() in final.body  # answered in the client's edition
    finally:
        await client.close()


async def test_wrong_password_gets_no_dialog(lab: Lab) -> None:
    client = SipCstaClient("127.0.0.1", sip_port(lab.server), CLIENT_LOGIN, "wrong")
    try:
        final = await client.connect()
        assert final.status == 401
        assert client.dialog is None
        assert lab.server.switching is not None and not lab.server.switching.clients
    finally:
        await client.close()


async def test_call_between_phones_seen_by_a_sip_client(lab: Lab) -> None:
    client = await cti(lab.server, edition=3)
    try:
        xa = await monitor(client, "201")
        xb = await monitor(client, "sip:202@pbx.example")
        made = await client.request(
            m.MakeCall(callingDevice=DeviceID("201"), calledDirectoryNumber=DeviceID("202"))
        )
        assert isinstance(made, m.MakeCallResponse)
        seen: list[m.CstaMessage] = []
        while not any(isinstance(e, m.DeliveredEvent) and e.monitorCrossRefID == xb for e in seen):
            event = await client.next_event()
            assert isinstance(event, m.CstaMessage)
            seen.append(event)
        ringing = next(
            e for e in seen if isinstance(e, m.DeliveredEvent) and e.monitorCrossRefID == xb
        )
        assert isinstance(ringing, m.DeliveredEvent) and ringing.localConnectionInfo is S.ALERTING
        at_a = [type(e).__name__ for e in seen if getattr(e, "monitorCrossRefID", None) == xa]
        assert at_a[:2] == ["ServiceInitiatedEvent", "OriginatedEvent"]
        answered = await client.request(m.AnswerCall(callToBeAnswered=ringing.connection))
        assert isinstance(answered, m.AnswerCallResponse)
        # events reach the client in its own edition (ed3)
        await eventually(lambda: any(b"EstablishedEvent" in b for b in client.event_bodies))
        assert all(NAMESPACES[3].encode() in b for b in client.event_bodies)
    finally:
        await client.close()


async def test_sip_and_json_clients_share_one_monitor(lab: Lab) -> None:
    sip = await cti(lab.server)
    json_client = await lab.client()
    try:
        await monitor(sip, "201")
        await json_client.monitor("201")
        await until(json_client, m.BackInServiceEvent)
        assert len(lab.phones["snom"].monitors) == 1
        lab.phones["snom"].set_message_waiting(True)
        assert isinstance(await sip.next_event(), m.MessageWaitingEvent)
        assert isinstance(
            (await until(json_client, m.MessageWaitingEvent)).csta, m.MessageWaitingEvent
        )
    finally:
        await sip.close()


async def test_unsupported_and_bad_requests(lab: Lab) -> None:
    client = await cti(lab.server)
    try:
        gigaset = lab.phones["gigaset"]
        before = len(gigaset.received)
        answer = await client.request(
            m.SetForwarding(device=DeviceID("206"), activateForward=True, forwardDN=DeviceID("201"))
        )
        assert isinstance(answer, CSTAErrorCode) and answer.value == "serviceNotSupported"
        assert len(gigaset.received) == before
        bad = await client.raw_info(b"<MakeCall><callingDevice>201</callingDevice>")
        assert bad.status == 400 and "Bad CSTA body" in bad.reason
        # the dialog goes on
        answer = await client.request(m.RequestSystemStatus())
        assert isinstance(answer, m.RequestSystemStatusResponse)
    finally:
        await client.close()


async def test_bye_and_lost_connection_stop_monitors(lab: Lab) -> None:
    one = await cti(lab.server)
    await monitor(one, "201")
    assert (await one.bye()).status == 200
    await eventually(lambda: not lab.phones["snom"].monitors)
    await one.close()
    two = await cti(lab.server)
    await monitor(two, "202")
    await two.close()  # the connection just goes
    await eventually(lambda: not lab.phones["yealink"].monitors)


@pytest.mark.both_loops
async def test_sip_client_over_tls(lab: Lab) -> None:
    client = SipCstaClient(
        "127.0.0.1",
        sip_port(lab.server, "TLS"),
        CLIENT_LOGIN,
        CLIENT_PASSWORD,
        tls=client_tls(lab.server),
    )
    try:
        assert (await client.connect()).status == 200
        await monitor(client, "201")
    finally:
        await client.close()


async def test_sip_client_that_stops_answering_is_let_go(lab: Lab) -> None:
    """A client that no longer answers the event INFOs is ended with a BYE
    once 1,000 are unanswered; another client keeps every event."""
    stuck = await cti(lab.server)
    good = await cti(lab.server)
    try:
        await monitor(stuck, "201")
        await monitor(good, "201")
        stuck.answer_events = False
        snom = lab.phones["snom"]
        for i in range(1100):
            snom.set_message_waiting(i % 2 == 0)
            if i % 50 == 0:
                await asyncio.sleep(0.01)
        await eventually(lambda: stuck.byes == 1, timeout=20)
        for i in range(1100):
            event = await good.next_event()
            assert isinstance(event, m.MessageWaitingEvent)
            assert event.messageWaitingOn is (i % 2 == 0)
        assert lab.server.switching is not None
        await eventually(lambda: len(lab.server.switching.clients) == 1)
    finally:
        await stuck.close()
        await good.close()


async def test_an_idle_devices_snapshot_is_valid_xml_for_sip_clients(lab: Lab) -> None:
    """An idle phone's SnapshotDevice answer reached the client as an empty
    <crossRefIDorSnapshotData/> (a CHOICE with neither alternative)."""
    client = await cti(lab.server)
    try:
        body = m.SnapshotDevice(snapshotObject=DeviceID("201"))
        from uacsta.csta.codec import encode

        response = await client.raw_info(encode(body, 5))
        assert response.status == 200
        assert b"<crossRefIDorSnapshotData><snapshotData/></crossRefIDorSnapshotData>" in (
            response.body
        )
    finally:
        await client.bye()


async def test_a_request_right_after_monitor_start_loses_no_event(lab: Lab) -> None:
    """MakeCall sent right after MonitorStart, before BackInService: it waits
    for the phone to confirm the monitor, and the call's events all arrive."""
    client = await cti(lab.server)
    try:
        started, made = await asyncio.gather(
            client.request(
                m.MonitorStart(monitorObject=m.MonitorObject(deviceObject=DeviceID("201")))
            ),
            client.request(
                m.MakeCall(callingDevice=DeviceID("201"), calledDirectoryNumber=DeviceID("202"))
            ),
        )
        assert isinstance(started, m.MonitorStartResponse) and isinstance(made, m.MakeCallResponse)
        names = []
        for _ in range(4):
            names.append(type(await client.next_event()).__name__)
        assert names == [
            "BackInServiceEvent",
            "ServiceInitiatedEvent",
            "OriginatedEvent",
            "DeliveredEvent",
        ]
    finally:
        await client.bye()
