"""What an administrator sees of a working server: Prometheus metrics after
real phones registered and a client drove a call, health and readiness,
call-level log lines with the request's correlation ID, and the live trace
of one phone (API and CLI)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import CLIENT_LOGIN, CLIENT_PASSWORD, admin_url, eventually
from tests.integration.switching import Lab, http_url, until
from uacsta.csta import model as m
from uacsta.server import UacstaServer

pytestmark = pytest.mark.admin_ui
A, B = "sip:201@pbx.example", "sip:202@pbx.example"


async def scrape(api: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = await api.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def log_lines(server: UacstaServer) -> list[dict[str, str]]:
    text = server.log_file.read_text() if server.log_file.exists() else ""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def a_call(lab: Lab, server: UacstaServer) -> tuple[str, str]:
    """A calls B through the REST face, B answers, A clears: the request ID of
    the MakeCall and A's callID."""
    watcher = await lab.client()
    await watcher.monitor(A)
    at_b = await watcher.monitor(B)
    async with httpx.AsyncClient(
        base_url=http_url(server), auth=(CLIENT_LOGIN, CLIENT_PASSWORD)
    ) as rest:
        made = await rest.post("/api/v1/devices/201/calls", json={"to": "202"})
        assert made.status_code == 200, made.text
        rid = made.headers["x-request-id"]
        a_call = made.json()["callingDevice"]["callID"]
        ringing = await until(watcher, m.DeliveredEvent)
        while getattr(ringing.csta, "monitorCrossRefID", None) != at_b:
            ringing = await until(watcher, m.DeliveredEvent)
        assert isinstance(ringing.csta, m.DeliveredEvent)
        b_call = ringing.csta.connection.callID
        answered = await rest.post(f"/api/v1/devices/202/calls/{b_call}/answer")
        assert answered.status_code == 200, answered.text
        await until(watcher, m.EstablishedEvent)
        cleared = await rest.post(f"/api/v1/devices/201/calls/{a_call}/clear")
        assert cleared.status_code == 200, cleared.text
        await until(watcher, m.ConnectionClearedEvent)
    return rid, a_call


async def test_metrics_after_phones_registered_and_a_call(
    server: UacstaServer, lab: Lab, api: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(base_url=admin_url(server)) as anonymous:
        assert (await anonymous.get("/metrics")).status_code == 401
    await a_call(lab, server)
    samples = await scrape(api)
    for vendor in ("snom", "yealink"):
        assert value(samples, "uacsta_phones_registered", vendor=vendor, transport="TCP") == 1
        assert value(samples, "uacsta_phones_controllable", vendor=vendor, transport="TCP") == 1
        assert value(samples, "uacsta_phones_known", vendor=vendor) == 1
    assert value(samples, "uacsta_phone_lifecycle", phase="up") == 2
    assert (
        value(
            samples,
            "uacsta_phone_lifecycle_transitions_total",
            from_phase="offline",
            to_phase="inviting",
            trigger="registered",
        )
        == 2
    )
    assert value(samples, "uacsta_monitors", state="active") == 2
    assert value(samples, "uacsta_client_sessions", face="json", state="attached") == 1
    # one histogram sample per request, by service and result
    for service, count in (("MonitorStart", 2), ("MakeCall", 1), ("AnswerCall", 1)):
        assert (
            value(
                samples, "uacsta_client_request_seconds_count", service=service, result="positive"
            )
            == count
        ), service
    assert (
        value(
            samples,
            "uacsta_client_request_seconds_count",
            service="ClearConnection",
            result="positive",
        )
        == 1
    )
    assert value(samples, "uacsta_phone_events_total", type="DeliveredEvent") >= 2
    assert value(samples, "uacsta_phone_events_total", type="EstablishedEvent") >= 2
    assert value(samples, "uacsta_sip_register_requests_total") >= 4  # challenge + answer each
    assert value(samples, "uacsta_service_up", service="phone") == 1
    assert value(samples, "process_resident_memory_bytes") > 0
    assert ("uacsta_build_info", (("version", server.status()["version"]),)) in samples
    # refusals and failed logins are counted by face
    async with httpx.AsyncClient(base_url=http_url(server), auth=(CLIENT_LOGIN, "wrong")) as bad:
        assert (await bad.get("/api/v1/devices")).status_code == 401
    samples = await scrape(api)
    assert (
        value(
            samples,
            "uacsta_failed_logins_total",
            face="rest",
            reason="wrong password or locked out",
        )
        == 1
    )


async def test_healthz_and_readyz_follow_the_phone_service(server: UacstaServer) -> None:
    async with httpx.AsyncClient(base_url=admin_url(server)) as anyone:
        assert (await anyone.get("/healthz")).json() == {"status": "alive"}
        ready = await anyone.get("/readyz")
        assert ready.status_code == 200 and ready.json()["store"] == "ok", ready.text
        await server.stop_phone_service()
        not_ready = await anyone.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["phone_service"] == "stopped"
        assert not not_ready.json()["ready"]
        await server.start_phone_service()
        assert (await anyone.get("/readyz")).status_code == 200


async def test_call_lines_and_the_request_id_in_the_log(server: UacstaServer, lab: Lab) -> None:
    rid, caller_call = await a_call(lab, server)
    assert re.fullmatch(r"[0-9a-f]{4}\.\d+", rid)
    snom, yealink = lab.phones["snom"].mac, lab.phones["yealink"].mac

    def calls() -> list[dict[str, str]]:
        return [r for r in log_lines(server) if r["logger"] == "uacsta.calls"]

    await eventually(lambda: sum("ended" in r["msg"] for r in calls()) >= 2)
    lines = calls()
    at_a = [r["msg"] for r in lines if r["tag"] == snom]
    at_b = [r["msg"] for r in lines if r["tag"] == yealink]
    assert any(f"call {caller_call} at {A} started (outgoing)" in msg for msg in at_a), at_a
    assert any("started (incoming)" in msg and "201" in msg for msg in at_b), at_b
    assert any("answered by" in msg for msg in at_b), at_b
    assert any(f"call {caller_call} at {A} ended after" in msg for msg in at_a), at_a
    # the MakeCall's ID follows its events: the call lines at the caller carry it
    assert any(r.get("req") == rid for r in lines if r["tag"] == snom), lines


async def trace_lines(
    api: httpx.AsyncClient, target: str, messages: int, started: asyncio.Event
) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    params: dict[str, str | int] = {"target": target, "seconds": 30, "messages": messages}
    async with api.stream("GET", "/api/trace", params=params, timeout=40) as r:
        assert r.status_code == 200
        async for line in r.aiter_lines():
            if not line:
                continue
            entry = json.loads(line)
            out.append(entry)
            if "tracing" in entry:
                started.set()
            if "end" in entry:
                break
    return out


async def test_trace_of_a_device_shows_sip_with_decoded_csta_and_client_csta(
    server: UacstaServer, lab: Lab, api: httpx.AsyncClient
) -> None:
    refused = await api.get("/api/trace", params={"target": "sip:999@nowhere"})
    assert refused.status_code == 404 and "no phone or device" in refused.json()["detail"]
    started = asyncio.Event()
    # named by its device: the trace follows the phone that has it
    task = asyncio.create_task(trace_lines(api, "202", 12, started))
    await asyncio.wait_for(started.wait(), 10)
    await a_call(lab, server)
    entries = await asyncio.wait_for(task, 30)
    head, *body, end = entries
    yealink = lab.phones["yealink"].mac
    assert head["tracing"] == yealink
    assert end == {"end": "message limit reached", "dropped": 0}
    assert len(body) == 12 and all(e["mac"] == yealink for e in body)
    infos = [e for e in body if e["kind"] == "sip" and e["from"] == "phone"]
    delivered = [e for e in infos if e["name"] == "INFO (DeliveredEvent)"]
    assert delivered, [e["name"] for e in body]
    assert "<DeliveredEvent" in str(delivered[0]["text"])  # the raw XML...
    assert isinstance(delivered[0]["csta"], dict)  # ...and decoded beside it
    sent = [e for e in body if e["kind"] == "sip" and e["to"] == "phone"]
    assert any(str(e["name"]).startswith("200 OK (INFO)") for e in sent)
    to_client = [e for e in body if e["kind"] == "csta" and str(e["to"]).startswith("client ")]
    assert any(e["name"] == "DeliveredEvent" for e in to_client)
    from_client = [e for e in body if e["kind"] == "csta" and str(e["from"]).startswith("client ")]
    assert any(e["name"] == "AnswerCall" for e in from_client)
    # nobody watches any more: nothing is recorded
    from uacsta.trace import TRACER

    await eventually(lambda: not TRACER.watched)


async def test_a_trace_stops_by_itself_after_its_time(
    server: UacstaServer, lab: Lab, api: httpx.AsyncClient
) -> None:
    params: dict[str, str | int] = {"target": lab.phones["snom"].mac, "seconds": 1}
    async with api.stream("GET", "/api/trace", params=params, timeout=20) as r:
        lines = [json.loads(line) async for line in r.aiter_lines() if line]
    assert lines[-1]["end"] == "time is up"
    for bad, why in ((0, "1 to 600 seconds"), (601, "1 to 600 seconds")):
        wrong = await api.get(
            "/api/trace", params={"target": lab.phones["snom"].mac, "seconds": bad}
        )
        assert wrong.status_code == 422 and why in wrong.json()["detail"], wrong.text


async def test_metrics_on_a_listener_of_their_own(tmp_path: Path) -> None:
    """``metrics_listen``: /metrics, /healthz and /readyz without a login,
    and nothing else of the admin UI there."""
    from tests.conftest import make_config, prepare_store

    data = tmp_path / "data"
    await prepare_store(data)
    config = make_config(data).model_copy(update={"metrics_listen": "127.0.0.1:0"})
    server = UacstaServer(config)
    await server.start()
    try:
        metrics = server.admin_web.metrics
        assert metrics is not None
        url = f"http://127.0.0.1:{metrics.port('metrics', 'HTTP')}"
        async with httpx.AsyncClient(base_url=url) as anyone:
            scraped = await anyone.get("/metrics")
            assert scraped.status_code == 200 and "uacsta_phones_known" in scraped.text
            assert (await anyone.get("/readyz")).json()["ready"] is True
            assert (await anyone.get("/healthz")).status_code == 200
            assert (await anyone.get("/api/status")).status_code == 404
            assert (await anyone.get("/status")).status_code == 404
    finally:
        await server.stop()


async def test_every_documented_metric_is_exposed(api: httpx.AsyncClient) -> None:
    """docs/metrics.md and the example Grafana dashboard name only metrics the
    server has, and the docs name every uacsta metric it has."""
    r = await api.get("/metrics")
    families = {f.name for f in text_string_to_metric_families(r.text)}
    docs = Path(__file__).resolve().parents[2] / "docs"
    documented = set(re.findall(r"`(uacsta_[a-z_]+)`", (docs / "metrics.md").read_text()))
    charted = set(re.findall(r"\b(uacsta_[a-z_]+)", (docs / "grafana-uacsta.json").read_text()))

    def family(name: str) -> str:
        for suffix in ("_bucket", "_count", "_sum", "_total", "_info"):
            if name.endswith(suffix) and name.removesuffix(suffix) in families:
                return name.removesuffix(suffix)
        return name

    assert {n for n in documented | charted if family(n) not in families} == set()
    ours = {f for f in families if f.startswith("uacsta_")}
    assert ours - {family(n) for n in documented} == set()
