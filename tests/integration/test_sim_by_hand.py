"""Simulated phones driven by hand through the simulator's control interface
(JSON over HTTP on loopback), watched by a CTI client through the server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.integration.switching import Lab, until
from uacsta.csta import model as m
from uacsta.csta.types import EventCause
from uacsta.net.http import HttpService
from uacsta.server import UacstaServer
from uacsta.sim.control import create_control_app


@pytest.fixture
async def lab(server: UacstaServer) -> AsyncIterator[Lab]:
    lab = Lab(server, ["snom", "yealink", "mitel"])
    await lab.start()
    yield lab
    await lab.stop()


@pytest.fixture
async def hand(lab: Lab) -> AsyncIterator[httpx.AsyncClient]:
    service = HttpService("sim control", create_control_app(list(lab.phones.values())))
    await service.listen("local", "HTTP", "127.0.0.1", 0, None)
    base = f"http://127.0.0.1:{service.port('local', 'HTTP')}"
    async with httpx.AsyncClient(base_url=base) as client:
        yield client
    await service.stop()


async def test_a_call_by_hand_seen_by_a_client(lab: Lab, hand: httpx.AsyncClient) -> None:
    client = await lab.client()
    await client.monitor("201")
    await until(client, m.BackInServiceEvent)
    await client.monitor("202")
    await until(client, m.BackInServiceEvent)
    listed = (await hand.get("/phones")).json()
    assert {p["mac"] for p in listed} == {p.mac for p in lab.phones.values()}
    assert all(p["registered"] and p["dialog"] for p in listed)
    r = await hand.post("/phones/000413000201/dial", json={"to": "202"})
    assert r.status_code == 200, r.text
    started = await until(client, m.ServiceInitiatedEvent)
    assert started.csta.cause == EventCause.NEW_CALL  # type: ignore[attr-defined]  # dialled, not CTI
    await until(client, m.DeliveredEvent)
    # nothing rings at 203
    assert (await hand.post("/phones/00085D000203/answer")).status_code == 409
    assert (await hand.post("/phones/001565000202/answer")).status_code == 200
    await until(client, m.EstablishedEvent)
    assert (await hand.post("/phones/000413000201/hold")).status_code == 200
    await until(client, m.HeldEvent)
    assert (await hand.post("/phones/000413000201/retrieve")).status_code == 200
    await until(client, m.RetrievedEvent)
    calls = (await hand.get("/phones/000413000201")).json()["calls"]
    assert [c["state"] for c in calls] == ["connected"]
    assert (await hand.post("/phones/001565000202/hang-up")).status_code == 200
    await until(client, m.ConnectionClearedEvent)
    assert (await hand.get("/phones/000413000201")).json()["calls"] == []
    assert (await hand.post("/phones/nope/dial", json={"to": "202"})).status_code == 404


async def test_dnd_forwarding_and_mwi_by_hand(lab: Lab, hand: httpx.AsyncClient) -> None:
    client = await lab.client()
    await client.monitor("203")
    await until(client, m.BackInServiceEvent)
    r = await hand.put("/phones/00085D000203/dnd", json={"on": True})
    assert r.json()["dnd"] is True
    dnd = await until(client, m.DoNotDisturbEvent)
    assert dnd.csta.doNotDisturbOn is True  # type: ignore[attr-defined]
    assert await client.get_dnd("203") is True
    r = await hand.put("/phones/00085D000203/forwarding", json={"type": "forwardBusy", "to": "201"})
    assert r.json()["forwarding"] == {"forwardBusy": "201"}
    fwd = await until(client, m.ForwardingEvent)
    assert isinstance(fwd.csta, m.ForwardingEvent) and fwd.csta.forwardTo is not None
    assert fwd.csta.forwardTo.value == "201"
    await hand.put("/phones/00085D000203/mwi", json={"on": True})
    assert (await until(client, m.MessageWaitingEvent)).csta.messageWaitingOn is True  # type: ignore[attr-defined]
