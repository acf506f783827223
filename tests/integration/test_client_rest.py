"""REST for scripts: devices, snapshots and the common call controls, with
HTTP Basic client logins; clear JSON errors; the OpenAPI document."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import jsonschema_rs
import pytest
from websockets.asyncio.client import connect

from tests.conftest import CLIENT_LOGIN, CLIENT_PASSWORD, client_tls
from tests.integration.switching import Lab, http_url, until, ws_url
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
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"type": "CSTAErrorCode", "category": "operation", "value": "invalidDeviceID"},
        "detail": "no device '999'",
    }


async def test_one_error_body_for_every_refusal_and_each_in_the_openapi(
    lab: Lab, http: httpx.AsyncClient
) -> None:
    """{"error": …, "detail": …} whatever refused: the login, the body's
    fields, the route, a phone; and the OpenAPI document describes them."""
    async with httpx.AsyncClient(base_url=http_url(lab.server)) as anonymous:
        nobody = await anonymous.get("/api/v1/devices")
    assert nobody.status_code == 401 and nobody.json()["error"] == "unauthorized"
    assert nobody.headers["www-authenticate"].startswith("Basic")
    bad = await http.post("/api/v1/devices/201/calls/1/digits", json={"digits": "12x"})
    assert bad.status_code == 422
    body = bad.json()
    assert body["error"] == "invalidRequest" and "body.digits" in body["detail"]
    assert [f["field"] for f in body["fields"]] == ["body.digits"]
    nowhere = await http.get("/api/v1/no-such-thing")
    assert nowhere.status_code == 404 and nowhere.json()["error"] == "notFound"
    wrong_method = await http.delete("/api/v1/devices")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "methodNotAllowed"
    doc = (await http.get("/api/v1/openapi.json")).json()
    responses = doc["paths"]["/api/v1/devices/{device}/calls"]["post"]["responses"]
    for status in ("401", "404", "409", "422", "501", "503"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}, status
    assert set(doc["components"]["schemas"]["ErrorBody"]["properties"]) == {
        "error",
        "detail",
        "fields",
    }


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


@pytest.mark.both_loops
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


def refs(doc: object) -> set[str]:
    if isinstance(doc, dict):
        found = {doc["$ref"]} if isinstance(doc.get("$ref"), str) else set()
        return found.union(*(refs(v) for v in doc.values()))
    if isinstance(doc, list):
        return set().union(*(refs(v) for v in doc))
    return set()


def resolves(doc: dict[str, object], ref: str) -> bool:
    node: object = doc
    for part in ref.removeprefix("#/").split("/"):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


async def test_the_openapi_and_asyncapi_documents_describe_what_is_sent(
    lab: Lab, http: httpx.AsyncClient
) -> None:
    """Every answer has its schema (generated from the CSTA model), every
    reference resolves, and what the server really sends validates against
    the documents: a REST answer, and WebSocket responses and events."""
    openapi = (await http.get("/api/v1/openapi.json")).json()
    assert {r for r in refs(openapi) if not resolves(openapi, r)} == set()
    for path, methods in openapi["paths"].items():
        for method, op in methods.items():
            code = next(c for c in ("200", "201", "204") if c in op["responses"])
            content = op["responses"][code].get("content", {})
            if code == "204" or "text/event-stream" in content:
                continue
            ok = content["application/json"]["schema"]
            assert ok != {}, (method, path)  # no empty answer schemas
    made = await http.post("/api/v1/devices/201/calls", json={"to": "202"})
    schema = openapi["paths"]["/api/v1/devices/{device}/calls"]["post"]["responses"]["200"]
    check = jsonschema_rs.validator_for(
        {**schema["content"]["application/json"]["schema"], "components": openapi["components"]}
    )
    assert check.is_valid(made.json()), list(check.iter_errors(made.json()))
    asyncapi = (await http.get("/api/v1/asyncapi.json")).json()
    assert asyncapi["asyncapi"] == "3.0.0"
    assert {r for r in refs(asyncapi) if not resolves(asyncapi, r)} == set()
    frames = asyncapi["components"]["messages"]

    def frame_check(name: str) -> jsonschema_rs.Validator:
        return jsonschema_rs.validator_for(
            {**frames[name]["payload"], "components": asyncapi["components"]}
        )

    async with connect(ws_url(lab.server)) as ws:
        await ws.send(
            json.dumps({"op": "login", "user": CLIENT_LOGIN, "password": CLIENT_PASSWORD})
        )
        assert frame_check("welcome").is_valid(json.loads(await ws.recv()))
        start = {"type": "MonitorStart", "monitorObject": {"deviceObject": "202"}}
        request = {"op": "request", "id": 1, "csta": start}
        assert frame_check("request").is_valid(request)
        await ws.send(json.dumps(request))
        received = [json.loads(await ws.recv()) for _ in range(2)]  # response, BackInService
        by_op = {f["op"]: f for f in received}
        assert frame_check("response").is_valid(by_op["response"]), by_op
        assert frame_check("event").is_valid(by_op["event"]), by_op
        refused = {"op": "request", "id": 2, "csta": {"type": "NoSuchThing"}}
        assert not frame_check("request").is_valid(refused)
