"""Monitoring over REST: Server-Sent Events of the devices asked for, with
sequence numbers, resumed after a dropped connection by Last-Event-ID (none
lost, none twice), while a call is driven through the REST face."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx

from tests.conftest import CLIENT_LOGIN, CLIENT_PASSWORD, eventually
from tests.integration.switching import Lab, http_url


class Sse:
    """A reader of one text/event-stream, parsing it as a browser would."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def next(self, timeout: float = 10.0) -> dict[str, str]:
        event: dict[str, str] = {}
        async with asyncio.timeout(timeout):
            async for line in self.lines:
                if not line:
                    if "data" in event:
                        return event
                    event = {}
                    continue
                if line.startswith(":"):
                    continue  # a comment: keep-alive
                name, _, value = line.partition(":")
                event[name] = value.removeprefix(" ")
        raise AssertionError("the stream ended")

    async def until(self, kind: str) -> dict[str, str]:
        while True:
            event = await self.next()
            if event.get("event") == "csta" and csta(event)["type"] == kind:
                return event


def csta(event: dict[str, str]) -> dict[str, Any]:
    """The CSTA message of an SSE event (data: {"seq", "call", "csta"})."""
    data = json.loads(event["data"])
    assert data["seq"] == int(event["id"].rpartition(".")[2])
    return cast(dict[str, Any], data["csta"])


def rest(lab: Lab) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=http_url(lab.server), auth=(CLIENT_LOGIN, CLIENT_PASSWORD), timeout=20
    )


@contextlib.asynccontextmanager
async def stream(
    http: httpx.AsyncClient, **kw: object
) -> AsyncIterator[tuple[httpx.Response, Sse]]:
    async with http.stream("GET", "/api/v1/events", **kw) as r:  # type: ignore[arg-type]
        yield r, Sse(r)


async def test_events_over_sse_and_a_resume_that_loses_none(lab: Lab) -> None:
    async with rest(lab) as http:
        async with stream(http, params={"devices": "201,202"}) as (r, sse):
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            welcome = await sse.next()
            assert welcome["event"] == "welcome"
            hello = json.loads(welcome["data"])
            session = hello["session"]
            assert set(hello["monitors"]) == {"sip:201@pbx.example", "sip:202@pbx.example"}
            made = await http.post("/api/v1/devices/201/calls", json={"to": "202"})
            assert made.status_code == 200, made.text
            reference = made.headers["X-Call-Reference"]
            a_call = made.json()["callingDevice"]["callID"]
            at_b = hello["monitors"]["sip:202@pbx.example"]
            delivered = await sse.until("DeliveredEvent")
            while csta(delivered)["monitorCrossRefID"] != at_b:
                delivered = await sse.until("DeliveredEvent")
            assert delivered["id"].startswith(session + ".")
            seen = int(delivered["id"].rpartition(".")[2])
        # The called phone numbers the call its own way; the server's call
        # reference is the one the caller's response named.
        b_call = csta(delivered)["connection"]["callID"]
        assert b_call != a_call
        assert json.loads(delivered["data"])["call"] == reference
        # the connection dropped after the DeliveredEvent; the call goes on,
        # answered at the called phone by the reference the caller saw
        answered = await http.post(f"/api/v1/devices/202/calls/{reference}/answer")
        assert answered.status_code == 200, answered.text
        headers = {"Last-Event-ID": delivered["id"]}
        async with stream(http, headers=headers) as (r, sse):
            assert r.status_code == 200
            welcome = await sse.next()
            assert json.loads(welcome["data"])["session"] == session
            after = [await sse.next()]
            while csta(after[-1])["type"] != "EstablishedEvent":
                after.append(await sse.next())
        # the events after the last one read, in order: none lost, none twice
        numbers = [int(e["id"].rpartition(".")[2]) for e in after]
        assert numbers == list(range(seen + 1, seen + 1 + len(after)))


async def test_sse_refusals_are_clear(lab: Lab) -> None:
    async with rest(lab) as http:
        nothing = await http.get("/api/v1/events")
        assert nothing.status_code == 422 and "devices=" in nothing.json()["detail"]
        unknown = await http.get("/api/v1/events", params={"devices": "201,999"})
        assert unknown.status_code == 404
        assert unknown.json()["error"]["value"] == "invalidDeviceID"
        stale = await http.get("/api/v1/events", headers={"Last-Event-ID": "nope.3"})
        assert stale.status_code == 409 and "cannot resume" in stale.json()["detail"]
    async with httpx.AsyncClient(base_url=http_url(lab.server)) as anonymous:
        assert (await anonymous.get("/api/v1/events?devices=201")).status_code == 401
    # the refused streams left no monitor behind
    sf = lab.server.switching
    await eventually(lambda: all(not p.subscribers for p in sf.monitors.points.values()))
