"""The switching function end to end: simulated phones of all six vendors,
CTI clients over the JSON face (WebSocket), the real server in between."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import eventually
from tests.helpers.typed_client import CstaError, UacstaClient
from tests.integration.switching import PHONES, Lab, events, names, until
from uacsta.csta import model as m
from uacsta.csta.types import ConnectionID, DeviceID
from uacsta.csta.types import LocalConnectionState as S
from uacsta.server import UacstaServer


@pytest.fixture
async def lab(server: UacstaServer) -> AsyncIterator[Lab]:
    lab = Lab(server)
    await lab.start()
    yield lab
    await lab.stop()


async def watch(client: UacstaClient, device: str) -> str:
    xref = await client.monitor(device)
    ev = await until(client, m.BackInServiceEvent)
    assert isinstance(ev.csta, m.BackInServiceEvent) and ev.csta.monitorCrossRefID == xref
    return xref


async def test_devices_by_any_spelling(lab: Lab) -> None:
    client = await lab.client()
    # number, user@host, sip: URI with parameters, tel: URI
    for spelling in ("201", "201@pbx.example", "sip:201@PBX.example;user=phone", "tel:201"):
        xref = await client.monitor(spelling)
        await client.monitor_stop(xref)
    with pytest.raises(CstaError, match="invalidDeviceID"):
        await client.monitor("999")


async def test_make_call_full_sequence_at_both_clients(lab: Lab) -> None:
    alice = await lab.client()
    bob = await lab.client()
    xa = await watch(alice, "201")
    xb = await watch(bob, "202")
    conn = await alice.make_call("201", "202")
    assert conn.callID is not None and conn.deviceID is not None
    a_events = await events(alice, 3)
    assert names(a_events) == ["ServiceInitiatedEvent", "OriginatedEvent", "DeliveredEvent"]
    assert [getattr(e.csta, "localConnectionInfo", None) for e in a_events] == [
        S.INITIATED,
        S.CONNECTED,
        S.CONNECTED,
    ]
    assert all(e.csta.monitorCrossRefID == xa for e in a_events)  # type: ignore[attr-defined]
    ringing = await until(bob, m.DeliveredEvent)
    assert isinstance(ringing.csta, m.DeliveredEvent)
    assert ringing.csta.localConnectionInfo is S.ALERTING
    assert ringing.csta.monitorCrossRefID == xb
    await bob.answer_call(ringing.csta.connection)
    est_a = await until(alice, m.EstablishedEvent)
    est_b = await until(bob, m.EstablishedEvent)
    assert est_a.csta.localConnectionInfo is S.CONNECTED  # type: ignore[attr-defined]
    assert est_b.csta.localConnectionInfo is S.CONNECTED  # type: ignore[attr-defined]
    # sequence numbers count up by one, per client
    seqs = [e.seq for e in a_events] + [est_a.seq]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    await alice.hold(conn)
    await until(alice, m.HeldEvent)
    await alice.retrieve(conn)
    await until(alice, m.RetrievedEvent)
    await alice.clear_connection(conn)
    await until(alice, m.ConnectionClearedEvent)
    await until(bob, m.ConnectionClearedEvent)


async def test_two_clients_one_monitor_in_the_phone(lab: Lab) -> None:
    one = await lab.client()
    two = await lab.client()
    phone = lab.phones["snom"]
    x1 = await watch(one, "201")
    x2 = await watch(two, "sip:201@pbx.example")
    assert x1 != x2
    assert len(phone.monitors) == 1  # one monitor in the phone for both
    starts = [r for r in phone.received if isinstance(r, m.MonitorStart)]
    assert len(starts) == 1
    await one.make_call("201", "202")
    e1 = await events(one, 3)
    e2 = await events(two, 3)
    assert names(e1) == names(e2)
    assert {e.csta.monitorCrossRefID for e in e1} == {x1}  # type: ignore[attr-defined]
    assert {e.csta.monitorCrossRefID for e in e2} == {x2}  # type: ignore[attr-defined]
    # one stops: the phone's monitor stays for the other; the last stop ends it
    await one.monitor_stop(x1)
    assert len(phone.monitors) == 1
    await two.monitor_stop(x2)
    await eventually(lambda: not phone.monitors)


async def test_a_client_cannot_use_another_clients_cross_reference(lab: Lab) -> None:
    one = await lab.client()
    two = await lab.client()
    x1 = await watch(one, "201")
    with pytest.raises(CstaError, match="invalidMonitorCrossReferenceID"):
        await two.monitor_stop(x1)
    assert lab.phones["snom"].monitors  # still running for the first client


async def test_alternate_call_emulated_with_hold_and_retrieve(lab: Lab) -> None:
    alice, _others, first, second = await three_party(lab)
    received_before = len(lab.phones["snom"].received)
    # snom has no AlternateCall (the manual: emulated by HoldCall + RetrieveCall)
    await alice.alternate(held=first, active=second)
    asked = lab.phones["snom"].received[received_before:]
    assert [type(r).__name__ for r in asked] == ["HoldCall", "RetrieveCall"]
    assert not any(isinstance(r, m.AlternateCall) for r in lab.phones["snom"].received)
    await until(alice, m.HeldEvent)
    await until(alice, m.RetrievedEvent)


async def test_unsupported_service_refused_without_asking_the_phone(lab: Lab) -> None:
    client = await lab.client()
    gigaset = lab.phones["gigaset"]
    before = len(gigaset.received)
    with pytest.raises(CstaError, match="serviceNotSupported"):
        await client.hold(ConnectionID("1", DeviceID("206")))
    with pytest.raises(CstaError, match="serviceNotSupported"):
        await client.request(m.GetForwarding(device=DeviceID("206")))
    # Poly has no DND in the manual's table
    poly = lab.phones["poly"]
    poly_before = len(poly.received)
    with pytest.raises(CstaError, match="serviceNotSupported"):
        await client.set_dnd("204", True)
    assert len(gigaset.received) == before and len(poly.received) == poly_before


@pytest.mark.parametrize("vendor", [v for v in PHONES if v not in ("poly",)])
async def test_dnd_on_each_vendor(lab: Lab, vendor: str) -> None:
    client = await lab.client()
    device = PHONES[vendor][1]
    await client.set_dnd(device, True)
    assert await client.get_dnd(device) is True
    assert lab.phones[vendor].dnd is True


async def test_forwarding_and_mwi(lab: Lab) -> None:
    client = await lab.client()
    await watch(client, "202")
    answer = await client.request(
        m.SetForwarding(device=DeviceID("202"), activateForward=True, forwardDN=DeviceID("203"))
    )
    assert isinstance(answer, m.SetForwardingResponse)
    got = await client.request(m.GetForwarding(device=DeviceID("202")))
    assert isinstance(got, m.GetForwardingResponse)
    assert [i.forwardDN.value for i in got.forwardingList if i.forwardDN] == ["203"]
    await client.request(
        m.SetMessageWaitingIndicator(device=DeviceID("202"), messageWaitingOn=True)
    )
    mwi = await until(client, m.MessageWaitingEvent)
    assert mwi.csta.messageWaitingOn is True  # type: ignore[attr-defined]
    got_mwi = await client.request(m.GetMessageWaitingIndicator(device=DeviceID("202")))
    assert isinstance(got_mwi, m.GetMessageWaitingIndicatorResponse) and got_mwi.messageWaitingOn
    # the phone lights its lamp by itself (a voicemail system): the client hears of it
    lab.phones["yealink"].set_message_waiting(False)
    off = await until(client, m.MessageWaitingEvent)
    assert off.csta.messageWaitingOn is False  # type: ignore[attr-defined]


async def test_snapshot_call_emulated_from_tracked_state(lab: Lab) -> None:
    """Every known connection of the call, each with the callID its own phone
    uses: 201's from its monitor, 202's from its monitor (the phones number
    the same call differently)."""
    client = await lab.client()
    await watch(client, "201")
    x202 = await watch(client, "202")
    conn = await client.make_call("201", "202")
    seen = await events(client, 4)  # 201: initiated, originated, delivered; 202: delivered
    at_202 = next(
        e.csta
        for e in seen
        if isinstance(e.csta, m.DeliveredEvent) and e.csta.monitorCrossRefID == x202
    )
    snom = lab.phones["snom"]
    before = len(snom.received)
    answer = await client.request(m.SnapshotCall(snapshotObject=conn))
    assert isinstance(answer, m.SnapshotCallResponse)
    info = answer.crossRefIDorSnapshotData.snapshotData
    parties = {
        i.deviceOnCall.key.split("@")[0]: i  # type: ignore[union-attr]
        for i in info
    }
    assert sorted(parties) == ["201", "202"]
    assert parties["201"].callIdentifier is not None
    assert parties["201"].callIdentifier.callID == conn.callID
    assert parties["201"].localConnectionState is S.CONNECTED
    assert parties["202"].callIdentifier is not None
    assert parties["202"].callIdentifier.callID == at_202.connection.callID
    assert at_202.connection.callID != conn.callID  # each phone has its own number
    assert parties["202"].localConnectionState is S.ALERTING
    assert len(snom.received) == before  # snom lacks SnapshotCall: not asked
    with pytest.raises(CstaError, match="invalidCallID"):
        await client.request(m.SnapshotCall(snapshotObject=ConnectionID("nope", DeviceID("201"))))


async def test_snapshot_call_names_an_unmonitored_party_without_inventing_its_call(
    lab: Lab,
) -> None:
    client = await lab.client()
    await watch(client, "201")
    conn = await client.make_call("201", "202")
    await events(client, 3)
    answer = await client.request(m.SnapshotCall(snapshotObject=conn))
    assert isinstance(answer, m.SnapshotCallResponse)
    info = answer.crossRefIDorSnapshotData.snapshotData
    assert len(info) == 2
    own, far = info
    assert own.localConnectionState is S.CONNECTED
    assert far.deviceOnCall is not None and far.deviceOnCall.key is not None
    assert far.deviceOnCall.key.startswith("202")
    # 202 is not monitored: its callID and state are not known, and not made up
    assert far.callIdentifier is not None and far.callIdentifier.callID is None
    assert far.localConnectionState is None


async def test_get_switching_function_devices_answered_by_the_server(lab: Lab) -> None:
    client = await lab.client()
    answer = await client.request(m.GetSwitchingFunctionDevices())
    assert isinstance(answer, m.GetSwitchingFunctionDevicesResponse)
    devices = await until(client, m.SwitchingFunctionDevices)
    listed = {d.deviceID.value for d in devices.csta.deviceList}  # type: ignore[attr-defined]
    assert listed == {identity for _, identity in PHONES.values()}


async def test_rights_limit_what_a_client_sees(lab: Lab) -> None:
    limited = await lab.client("limited")  # devices 201*
    await limited.monitor("201")
    with pytest.raises(CstaError, match="invalidDeviceID"):
        await limited.monitor("202")
    with pytest.raises(CstaError, match="invalidDeviceID"):
        await limited.make_call("202", "201")
    await limited.request(m.GetSwitchingFunctionDevices())
    devices = await until(limited, m.SwitchingFunctionDevices)
    assert [d.deviceID.value for d in devices.csta.deviceList] == ["sip:201@pbx.example"]  # type: ignore[attr-defined]


async def test_wrong_password_refused(lab: Lab) -> None:
    from tests.helpers.typed_client import LoginError

    with pytest.raises(LoginError, match="wrong client login"):
        await lab.client(password="wrong")


async def test_malformed_requests_get_clear_errors_and_the_session_goes_on(lab: Lab) -> None:
    import json
    import re

    from websockets.asyncio.client import connect

    from tests.conftest import CLIENT_LOGIN, CLIENT_PASSWORD
    from tests.integration.switching import ws_url

    async with connect(ws_url(lab.server)) as ws:
        await ws.send(
            json.dumps({"op": "login", "user": CLIENT_LOGIN, "password": CLIENT_PASSWORD})
        )
        assert json.loads(await ws.recv())["op"] == "welcome"
        await ws.send("not json {")
        assert json.loads(await ws.recv()) == {"op": "error", "reason": "not JSON"}
        await ws.send(json.dumps({"op": "request", "id": 1, "csta": {"type": "NoSuchThing"}}))
        reply = json.loads(await ws.recv())
        assert reply["op"] == "error" and "NoSuchThing" in reply["reason"]
        await ws.send(json.dumps({"op": "request", "id": 2, "csta": {"type": "MakeCall"}}))
        reply = json.loads(await ws.recv())
        assert reply["op"] == "error" and "missing callingDevice" in reply["reason"]
        await ws.send(
            json.dumps({"op": "request", "id": 3, "csta": {"type": "RequestSystemStatus"}})
        )
        reply = json.loads(await ws.recv())
        # the server's correlation ID of the request, for support (docs/metrics.md)
        assert re.fullmatch(r"[0-9a-f]{4}\.\d+", reply.pop("request"))
        assert reply == {
            "op": "response",
            "id": 3,
            "csta": {"type": "RequestSystemStatusResponse", "systemStatus": "normal"},
        }


async def test_client_leaving_stops_the_phone_monitor(lab: Lab) -> None:
    client = await lab.client()
    await watch(client, "201")
    assert lab.phones["snom"].monitors
    await client.close()  # logout: no resume window
    await eventually(lambda: not lab.phones["snom"].monitors)


@pytest.mark.client_connection(resume_window=1)
async def test_dropped_client_resumes_without_losing_events(lab: Lab) -> None:
    client = await lab.client()
    await watch(client, "201")
    await client.drop()
    # the server has noticed: the client is detached, its session kept
    sf = lab.server.switching
    await eventually(lambda: any(not c.attached for c in sf.clients.values()))
    # events while the client is away are kept for it
    lab.phones["snom"].set_message_waiting(True)
    lab.phones["snom"].set_message_waiting(False)
    got = await events(client, 2)  # reconnects and resumes by itself
    assert names(got) == ["MessageWaitingEvent", "MessageWaitingEvent"]
    assert [e.csta.messageWaitingOn for e in got] == [True, False]  # type: ignore[attr-defined]
    assert got[1].seq == got[0].seq + 1
    # a client gone longer than the window loses its session and its monitors
    await client.leave()  # do not reconnect: stay away
    await eventually(lambda: not lab.phones["snom"].monitors, timeout=5)


async def three_party(lab: Lab) -> tuple[UacstaClient, UacstaClient, ConnectionID, ConnectionID]:
    """201 talks to 202 (held) and, by consultation, to 203 (active)."""
    alice = await lab.client()
    others = await lab.client()
    await watch(alice, "201")
    await watch(others, "202")
    await watch(others, "203")
    first = await alice.make_call("201", "202")
    ringing = await until(others, m.DeliveredEvent)
    await others.answer_call(ringing.csta.connection)  # type: ignore[attr-defined]
    await until(alice, m.EstablishedEvent)
    second = await alice.consult(first, "203")
    assert second is not None
    ringing = await until(others, m.DeliveredEvent)
    await others.answer_call(ringing.csta.connection)  # type: ignore[attr-defined]
    await until(alice, m.EstablishedEvent)
    return alice, others, first, second


def no_anomalies(lab: Lab) -> None:
    sf = lab.server.switching
    assert sf is not None
    for point in sf.monitors.points.values():
        assert point.tracker.anomalies == [], point.tracker.anomalies


async def test_consultation_and_transfer(lab: Lab) -> None:
    alice, others, first, second = await three_party(lab)
    await alice.transfer(held=first, active=second)
    gone = await until(alice, m.TransferedEvent)
    assert gone.csta.localConnectionInfo is S.NULL  # type: ignore[attr-defined]
    joined = [await until(others, m.TransferedEvent) for _ in range(2)]
    assert {e.csta.localConnectionInfo for e in joined} == {S.CONNECTED}  # type: ignore[attr-defined]
    no_anomalies(lab)


async def test_three_party_conference(lab: Lab) -> None:
    alice, others, first, second = await three_party(lab)
    await alice.conference(held=first, active=second)
    host = await until(alice, m.ConferencedEvent)
    assert host.csta.localConnectionInfo is S.CONNECTED  # type: ignore[attr-defined]
    members = [await until(others, m.ConferencedEvent) for _ in range(2)]
    assert {e.csta.localConnectionInfo for e in members} == {S.CONNECTED}  # type: ignore[attr-defined]
    # 203 hangs up: 201 and 202 go on talking
    carol_conn = next(
        item.newConnection
        for e in members
        for item in e.csta.conferenceConnections  # type: ignore[attr-defined]
        if item.newConnection
        and item.newConnection.deviceID
        and item.newConnection.deviceID.key == "203@pbx.example"
    )
    assert carol_conn is not None
    await others.clear_connection(carol_conn)
    left = await until(alice, m.ConnectionClearedEvent)
    assert left.csta.localConnectionInfo is S.CONNECTED  # type: ignore[attr-defined]
    no_anomalies(lab)
    await alice.clear_connection(first)
    cleared = await until(alice, m.ConnectionClearedEvent)
    assert cleared.csta.localConnectionInfo is S.NULL  # type: ignore[attr-defined]
    sf = lab.server.switching
    assert sf is not None
    assert sf.monitors.points["201@pbx.example"].tracker.calls == {}


async def test_conference_refused_where_the_phone_lacks_it(lab: Lab) -> None:
    client = await lab.client()
    conn = ConnectionID("1", DeviceID("206"))
    with pytest.raises(CstaError, match="serviceNotSupported"):
        await client.conference(held=conn, active=conn)


async def test_identities_added_and_removed_follow_the_phone(lab: Lab) -> None:
    """SwFunctionDevicesChanged: the server learns the phone's lines again; a new
    line can be monitored, watchers of a removed line hear OutOfService."""
    client = await lab.client()
    xref = await watch(client, "205")
    auerswald = lab.phones["auerswald"]
    auerswald.set_identities(["sip:205@pbx.example", "sip:215@pbx.example"])
    sf = lab.server.switching
    assert sf is not None
    await eventually(lambda: sf.devices.find("215") is not None)
    await watch(client, "215")
    auerswald.set_identities(["sip:215@pbx.example"])
    gone = await until(client, m.OutOfServiceEvent)
    assert gone.csta.monitorCrossRefID == xref  # type: ignore[attr-defined]
    await eventually(lambda: sf.devices.find("205") is None)
    with pytest.raises(CstaError, match="invalidDeviceID"):
        await client.make_call("205", "201")


async def test_yealink_answers_in_its_own_namespaces_and_the_server_reads_them(lab: Lab) -> None:
    from uacsta.csta.codec import NAMESPACES, YEALINK_NAMESPACE

    yealink = lab.phones["yealink"]
    started = yealink._encode(m.MonitorStartResponse(monitorCrossRefID="0"))
    assert YEALINK_NAMESPACE.encode() in started
    assert NAMESPACES[3].encode() in yealink._encode(
        m.GetDoNotDisturbResponse(doNotDisturbOn=False)
    )
    client = await lab.client()
    await watch(client, "202")  # MonitorStartResponse in the misspelled namespace
    assert await client.get_dnd("202") is False  # GetDoNotDisturbResponse in ed3


@pytest.mark.client_connection(request_timeout=1.0)
async def test_yealink_leaves_make_call_unanswered_while_a_call_rings(lab: Lab) -> None:
    client = await lab.client()
    await watch(client, "202")
    await client.make_call("201", "202")
    await until(client, m.DeliveredEvent)  # ringing at the Yealink
    with pytest.raises(CstaError, match="deviceOutOfService"):
        await client.make_call("202", "203")
    # the phone's session survives its silence
    assert await client.get_dnd("202") is False


async def test_gigaset_clears_only_as_the_manual_says(lab: Lab) -> None:
    client = await lab.client()
    await watch(client, "206")
    await watch(client, "201")
    caller = await client.make_call("201", "206")
    ringing = await until(client, m.DeliveredEvent)
    while ringing.csta.localConnectionInfo is not S.ALERTING:  # type: ignore[attr-defined]
        ringing = await until(client, m.DeliveredEvent)
    # a call ringing at the Gigaset cannot be cleared from there...
    with pytest.raises(CstaError, match="invalidConnectionState"):
        await client.clear_connection(ringing.csta.connection)  # type: ignore[attr-defined]
    # ...but the calling side can, and a connected call can be cleared at the Gigaset
    await client.clear_connection(caller)
    await until(client, m.ConnectionClearedEvent)
    second = await client.make_call("201", "206")
    ringing = await until(client, m.DeliveredEvent)
    while ringing.csta.localConnectionInfo is not S.ALERTING:  # type: ignore[attr-defined]
        ringing = await until(client, m.DeliveredEvent)
    await client.answer_call(ringing.csta.connection)  # type: ignore[attr-defined]
    await until(client, m.EstablishedEvent)
    await client.clear_connection(ringing.csta.connection)  # type: ignore[attr-defined]
    cleared = await until(client, m.ConnectionClearedEvent)
    assert cleared.csta is not None and second.callID is not None


@pytest.mark.parametrize("behaviour", ["answer", "busy", "never"])
async def test_calls_to_the_outside(lab: Lab, behaviour: str) -> None:
    lab.switch.external, lab.switch.external_delay = behaviour, 0.2
    client = await lab.client()
    await watch(client, "201")
    conn = await client.make_call("201", "004989123456")
    first = await events(client, 3)
    assert names(first)[:2] == ["ServiceInitiatedEvent", "OriginatedEvent"]
    if behaviour == "busy":
        assert isinstance(first[2].csta, m.FailedEvent)
        assert first[2].csta.cause == "busy"
        return
    assert isinstance(first[2].csta, m.DeliveredEvent)
    if behaviour == "answer":
        answered = await until(client, m.EstablishedEvent)
        assert isinstance(answered.csta, m.EstablishedEvent)
        answering = answered.csta.answeringDevice
        assert answering is not None and answering.device is not None
        assert answering.device.value == "004989123456"
    else:
        with pytest.raises(TimeoutError):
            await until(client, m.EstablishedEvent, timeout=0.6)
    await client.clear_connection(conn)
    await until(client, m.ConnectionClearedEvent)
    no_anomalies(lab)
