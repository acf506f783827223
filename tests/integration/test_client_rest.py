"""REST for scripts: devices, snapshots and the common call controls, with
HTTP Basic client logins; clear JSON errors; the OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import CLIENT_LOGIN, CLIENT_PASSWORD, client_tls
from tests.integration.switching import Lab, http_url, until
from uacsta.csta import model as m
from uacsta.server import UacstaServer


@pytest.fixture
async def lab(server: UacstaServer) -> AsyncIterator[Lab]:
    lab = Lab(server, ["snom", "yealink", "poly"])
    await lab.start()
    yield lab
    await lab.stop()


@pytest.fixture
async def http(lab: Lab) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=http_url(lab.server), auth=(CLIENT_LOGIN, CLIENT_PASSWORD)
    ) as client:
        yield client


async def test_devices_listed_with_controllable_state(lab: Lab, http: httpx.AsyncClient) -> None:
    r = await http.get("/api/v1/devices")
    assert r.status_code == 200
    devices = {d["number"]: d for d in r.json()}
    assert set(devices) == {"201", "202", "204"}
    assert devices["201"] == {
        "device": "sip:201@pbx.example",
        "number": "201",
        "mac": "000413000201",
        "vendor": "snom",
        "online": True,
        "monitored": False,
    }
    assert (await http.get("/api/v1/devices/sip:202@pbx.example")).json()["vendor"] == "yealink"
    missing = await http.get("/api/v1/devices/999")
    assert missing.status_code == 404 and "999" in missing.json()["detail"]


async def test_call_controls_by_rest_with_events_on_the_websocket(
    lab: Lab, http: httpx.AsyncClient
) -> None:
    watcher = await lab.client()
    await watcher.monitor("202")
    await until(watcher, m.BackInServiceEvent)
    r = await http.post("/api/v1/devices/201/calls", json={"to": "202"})
    assert r.status_code == 200, r.text
    made = r.json()
    assert made["type"] == "MakeCallResponse"
    a_call = made["callingDevice"]["callID"]
    ringing = await until(watcher, m.DeliveredEvent)
    b_call = ringing.csta.connection.callID  # type: ignore[attr-defined]
    r = await http.post(f"/api/v1/devices/202/calls/{b_call}/answer")
    assert r.json() == {"type": "AnswerCallResponse"}
    await until(watcher, m.EstablishedEvent)
    snap = (await http.get("/api/v1/devices/201/snapshot")).json()
    assert snap["type"] == "SnapshotDeviceResponse"
    assert (await http.post(f"/api/v1/devices/201/calls/{a_call}/hold")).status_code == 200
    await until(watcher, m.HeldEvent)
    assert (await http.post(f"/api/v1/devices/201/calls/{a_call}/retrieve")).status_code == 200
    await until(watcher, m.RetrievedEvent)
    assert (await http.post(f"/api/v1/devices/201/calls/{a_call}/clear")).status_code == 200
    await until(watcher, m.ConnectionClearedEvent)


async def test_features_by_rest(lab: Lab, http: httpx.AsyncClient) -> None:
    assert (await http.put("/api/v1/devices/201/dnd", json={"on": True})).status_code == 200
    assert (await http.get("/api/v1/devices/201/dnd")).json() == {
        "type": "GetDoNotDisturbResponse",
        "doNotDisturbOn": True,
    }
    r = await http.put(
        "/api/v1/devices/202/forwarding",
        json={"type": "forwardBusy", "on": True, "to": "201"},
    )
    assert r.status_code == 200, r.text
    listed = (await http.get("/api/v1/devices/202/forwarding")).json()["forwardingList"]
    assert listed == [{"forwardingType": "forwardBusy", "forwardStatus": True, "forwardDN": "201"}]
    assert (await http.put("/api/v1/devices/201/mwi", json={"on": True})).status_code == 200
    assert lab.phones["snom"].message_waiting is True


async def test_errors_are_clear_and_change_nothing(lab: Lab, http: httpx.AsyncClient) -> None:
    # Poly has no DND (the manual's table): refused without asking the phone
    before = len(lab.phones["poly"].received)
    r = await http.put("/api/v1/devices/204/dnd", json={"on": True})
    assert r.status_code == 501
    assert r.json()["error"] == {
        "type": "CSTAErrorCode",
        "category": "operation",
        "value": "serviceNotSupported",
    }
    assert len(lab.phones["poly"].received) == before
    bad = await http.put("/api/v1/devices/201/forwarding", json={"on": True})
    assert bad.status_code == 422 and "destination" in bad.json()["detail"]
    bad = await http.post("/api/v1/devices/201/calls/1/digits", json={"digits": "12x"})
    assert bad.status_code == 422
    bad = await http.post("/api/v1/csta", json={"type": "MakeCall", "callingDevice": "201"})
    assert bad.status_code == 422 and "calledDirectoryNumber" in bad.json()["detail"]
    bad = await http.post(
        "/api/v1/csta", json={"type": "MonitorStart", "monitorObject": {"deviceObject": "201"}}
    )
    assert bad.status_code == 400 and "WebSocket" in bad.json()["detail"]
    r = await http.post("/api/v1/csta", json={"type": "GetDoNotDisturb", "device": "201"})
    assert r.status_code == 200 and r.json()["type"] == "GetDoNotDisturbResponse"
    assert lab.phones["snom"].dnd is False


async def test_login_required_and_rights_apply(lab: Lab) -> None:
    base = http_url(lab.server)
    async with httpx.AsyncClient(base_url=base) as anonymous:
        r = await anonymous.get("/api/v1/devices")
        assert r.status_code == 401
    async with httpx.AsyncClient(base_url=base, auth=(CLIENT_LOGIN, "wrong")) as wrong:
        r = await wrong.get("/api/v1/devices")
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    async with httpx.AsyncClient(base_url=base, auth=("limited", CLIENT_PASSWORD)) as limited:
        numbers = [d["number"] for d in (await limited.get("/api/v1/devices")).json()]
        assert numbers == ["201"]
        r = await limited.post("/api/v1/devices/202/calls", json={"to": "201"})
        assert r.status_code == 404


async def test_openapi_document_and_https(lab: Lab) -> None:
    assert lab.server.client_api is not None
    port = lab.server.client_api.port("lan", "HTTPS")
    async with httpx.AsyncClient(
        base_url=f"https://localhost:{port}", verify=client_tls(lab.server)
    ) as https:
        doc = (await https.get("/api/v1/openapi.json")).json()
    paths = doc["paths"]
    assert "/api/v1/devices/{device}/calls" in paths
    assert "/api/v1/csta" in paths
    assert doc["info"]["title"] == "uacsta client API"
