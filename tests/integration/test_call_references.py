"""One call, one reference: the server links the connections that the
phones in a call number each their own way, carries the reference in every
event and in the response that names the call, and accepts it in requests in
place of the phone's callID.  And the response to a request comes before the
events that the asked phone sent while it was being answered."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect

from tests.conftest import CLIENT_LOGIN, CLIENT_PASSWORD
from tests.helpers.typed_client import Event, UacstaClient
from tests.integration.switching import Lab, until, ws_url
from uacsta.csta import model as m
from uacsta.csta.callstate import subject_connection
from uacsta.csta.types import ConnectionID, DeviceID
from uacsta.server import UacstaServer


@pytest.fixture
async def lab(server: UacstaServer) -> AsyncIterator[Lab]:
    lab = Lab(server, vendors=("snom", "yealink", "mitel"))
    await lab.start()
    yield lab
    await lab.stop()


async def watching(lab: Lab, *devices: str) -> tuple[UacstaClient, dict[str, str]]:
    """A client monitoring the devices; their monitorCrossRefIDs by device."""
    client = await lab.client()
    xrefs = {}
    for device in devices:
        xrefs[device] = await client.monitor(device)
        await until(client, m.BackInServiceEvent)
    return client, xrefs


async def at(client: UacstaClient, kind: type[m.CstaMessage], xref: str) -> Event:
    """The next event of ``kind`` from the monitor ``xref``."""
    while True:
        event = await until(client, kind)
        if getattr(event.csta, "monitorCrossRefID", None) == xref:
            return event


def call_id(event: Event) -> str | None:
    conn = subject_connection(event.csta)
    return conn.callID if conn else None


async def test_one_reference_at_both_phones_and_requests_by_it(lab: Lab) -> None:
    client, xrefs = await watching(lab, "201", "202")
    answer, reference = await client.request_call(
        m.MakeCall(callingDevice=DeviceID("201"), calledDirectoryNumber=DeviceID("202"))
    )
    assert isinstance(answer, m.MakeCallResponse) and reference
    ringing = await at(client, m.DeliveredEvent, xrefs["202"])
    a_call = answer.callingDevice.callID
    assert call_id(ringing) != a_call  # the called phone numbers the call its own way
    assert ringing.reference == reference
    # answered at 202 and held at 201, both by the reference
    await client.answer_call(ConnectionID(reference, DeviceID("202")))
    talking = [await until(client, m.EstablishedEvent) for _ in range(2)]
    assert {e.reference for e in talking} == {reference}
    await client.hold(ConnectionID(reference, DeviceID("201")))
    held = await until(client, m.HeldEvent)
    assert (held.reference, call_id(held)) == (reference, a_call)
    await client.clear_connection(ConnectionID(reference, DeviceID("201")))
    cleared = [await until(client, m.ConnectionClearedEvent) for _ in range(2)]
    assert {e.reference for e in cleared} == {reference}
    sf = lab.server.switching
    assert sf is not None
    assert sf.calls.members(reference) == {}  # the call left both phones: reference gone


async def test_a_transfer_joins_the_calls_under_the_older_reference(lab: Lab) -> None:
    alice, _ = await watching(lab, "201")
    others, _ = await watching(lab, "202", "203")
    call = m.MakeCall(callingDevice=DeviceID("201"), calledDirectoryNumber=DeviceID("202"))
    made, first_ref = await alice.request_call(call)
    assert isinstance(made, m.MakeCallResponse) and first_ref
    await until(others, m.DeliveredEvent)
    await others.answer_call(ConnectionID(first_ref, DeviceID("202")))
    await until(alice, m.EstablishedEvent)
    consult = m.ConsultationCall(existingCall=made.callingDevice, consultedDevice=DeviceID("203"))
    asked, second_ref = await alice.request_call(consult)
    assert isinstance(asked, m.ConsultationCallResponse) and second_ref
    assert second_ref != first_ref
    ringing = await until(others, m.DeliveredEvent)
    assert ringing.reference == second_ref
    await others.answer_call(ConnectionID(second_ref, DeviceID("203")))
    await until(alice, m.EstablishedEvent)
    await alice.transfer(held=made.callingDevice, active=asked.initiatedCall)  # type: ignore[arg-type]
    joined = [await until(others, m.TransferedEvent) for _ in range(2)]
    # 202 and 203 now talk in one call, known by the older reference
    assert {e.reference for e in joined} == {first_ref}
    sf = lab.server.switching
    assert sf is not None
    members = sf.calls.members(first_ref)
    assert set(members) == {"202@pbx.example", "203@pbx.example"}
    # and cleared at 203 by that reference
    await others.clear_connection(ConnectionID(first_ref, DeviceID("203")))
    cleared = [await until(others, m.ConnectionClearedEvent) for _ in range(2)]
    assert {e.reference for e in cleared} == {first_ref}


async def test_the_response_comes_before_the_asked_phones_events(server: UacstaServer) -> None:
    """A phone that writes a request's events before its 200 OK: read as the
    raw frames arrive, the MakeCallResponse is still the first frame after
    the request, before any event of the calling device."""
    lab = Lab(server, vendors=("snom", "yealink"))
    lab.phones["snom"].config.events_first = True
    await lab.start()
    try:
        await _response_first(lab)
    finally:
        await lab.stop()


async def _response_first(lab: Lab) -> None:
    async with connect(ws_url(lab.server)) as ws:
        login = {"op": "login", "user": CLIENT_LOGIN, "password": CLIENT_PASSWORD}
        await ws.send(json.dumps(login))
        assert json.loads(await ws.recv())["op"] == "welcome"
        start = {"type": "MonitorStart", "monitorObject": {"deviceObject": "201"}}
        await ws.send(json.dumps({"op": "request", "id": 1, "csta": start}))
        frames = [json.loads(await ws.recv()) for _ in range(2)]
        assert [f["op"] for f in frames] == ["response", "event"]
        for attempt in range(3):
            call = {"type": "MakeCall", "callingDevice": "201", "calledDirectoryNumber": "202"}
            await ws.send(json.dumps({"op": "request", "id": 10 + attempt, "csta": call}))
            first = json.loads(await ws.recv())
            assert (first["op"], first.get("id")) == ("response", 10 + attempt), first
            assert first["csta"]["type"] == "MakeCallResponse"
            kinds: list[str] = []
            while not kinds or kinds[-1] != "DeliveredEvent":
                frame = json.loads(await ws.recv())
                assert frame["op"] == "event" and frame["call"] == first["call"]
                kinds.append(frame["csta"]["type"])
            assert kinds == ["ServiceInitiatedEvent", "OriginatedEvent", "DeliveredEvent"]
            conn = first["csta"]["callingDevice"]
            clear = {"type": "ClearConnection", "connectionToBeCleared": conn}
            await ws.send(json.dumps({"op": "request", "id": 20 + attempt, "csta": clear}))
            answer = json.loads(await ws.recv())
            assert (answer["op"], answer["id"]) == ("response", 20 + attempt), answer
            while json.loads(await ws.recv())["csta"]["type"] != "ConnectionClearedEvent":
                pass
