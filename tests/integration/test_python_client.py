"""The standalone Python client (clients/python, the uacsta-client
distribution) against the real server: async and blocking, REST and
Server-Sent Events, resuming after a dropped connection, and its examples
run as a user runs them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from uacsta_client import Client, CstaError, Event, Rest, RestError, SyncClient

from tests.conftest import CLIENT_LOGIN, CLIENT_PASSWORD, eventually
from tests.integration.switching import Lab, http_url, ws_url
from uacsta.server import UacstaServer

EXAMPLES = Path(__file__).parents[2] / "clients" / "python" / "examples"


@pytest.fixture
async def lab(server: UacstaServer) -> AsyncIterator[Lab]:
    lab = Lab(server, vendors=("snom", "yealink"))
    await lab.start()
    yield lab
    await lab.stop()


async def until(client: Client, kind: str, monitor: str | None = None) -> Event:
    """The next event of ``kind`` (from the monitor ``monitor`` when given)."""
    async with asyncio.timeout(5):
        while True:
            event = await client.next_event()
            if event.kind == kind and monitor in (None, event.monitor):
                return event


def alerting(event: Event) -> bool:
    """A DeliveredEvent at the called phone (the caller's names the same connection)."""
    return event.kind == "DeliveredEvent" and event.csta.get("localConnectionInfo") == "alerting"


async def test_a_call_with_the_async_client_across_a_dropped_connection(lab: Lab) -> None:
    async with Client(ws_url(lab.server), CLIENT_LOGIN, CLIENT_PASSWORD) as client:
        await client.monitor("201")
        at_b = await client.monitor("202")
        back = await until(client, "BackInServiceEvent")
        assert back.call is None and back.device is not None
        call = await client.make_call("201", "202")
        assert call.reference and call.call_id and call.device == "sip:201@pbx.example"
        ringing = await until(client, "DeliveredEvent", at_b)
        assert ringing.call == call.reference and ringing.call_id != call.call_id
        assert ringing.caller == "sip:201@pbx.example"
        line = f"{ringing.seq} DeliveredEvent sip:202@pbx.example call {call.reference}"
        assert str(ringing) == f"{line} ({ringing.cause})"
        # the connection drops; the session resumes by itself, no event lost
        await client.drop()
        await client.answer("202", ringing.call)
        talking = await until(client, "EstablishedEvent")
        assert talking.call == call.reference
        await client.hold("201", call)
        assert (await until(client, "HeldEvent")).device == "sip:201@pbx.example"
        await client.clear("201", call)
        await until(client, "ConnectionClearedEvent")
        with pytest.raises(CstaError) as refused:
            await client.answer("201", "no-such-call")
        assert refused.value.category  # the phone's refusal, as a CSTAErrorCode


def _blocking_call(url: str) -> list[str]:
    with SyncClient(url, CLIENT_LOGIN, CLIENT_PASSWORD) as client:
        client.monitor("201")
        assert client.next_event(timeout=5).kind == "BackInServiceEvent"
        client.set_dnd("201", True)
        assert client.get_dnd("201") is True
        client.set_dnd("201", False)
        call = client.make_call("201", "0301234")
        kinds = []
        for event in client.events(timeout=5):
            if event.call == call.reference:
                kinds.append(event.kind)
            if event.kind == "DeliveredEvent":
                break
        client.clear("201", call)
        return kinds


async def test_the_blocking_client(lab: Lab) -> None:
    kinds = await asyncio.to_thread(_blocking_call, ws_url(lab.server))
    assert kinds == ["ServiceInitiatedEvent", "OriginatedEvent", "DeliveredEvent"]


def _rest_and_sse(base: str) -> list[str]:
    with Rest(base, CLIENT_LOGIN, CLIENT_PASSWORD) as rest:
        assert {d["number"] for d in rest.devices()} == {"201", "202"}
        seen: list[str] = []
        call = None
        with pytest.raises(RestError) as refused:
            rest.answer("201", "no-such-call")
        assert refused.value.status == 409 and refused.value.csta is not None
        for event in rest.events(["201", "202"], idle=5):
            if event.kind == "BackInServiceEvent" and call is None and len(seen) == 0:
                seen.append("back")
                continue
            if event.kind == "BackInServiceEvent":
                call = rest.make_call("201", "202")
                continue
            if call is not None and event.call == call.reference:
                seen.append(f"{event.kind}@{event.device}")
                if alerting(event):
                    rest.answer("202", call)  # by the reference, at the called phone
                # the answering connection, reported at both phones
                if event.kind == "EstablishedEvent" and seen.count(seen[-1]) == 2:
                    rest.clear("201", call)
                if event.kind == "ConnectionClearedEvent":
                    return seen
        return seen


async def test_rest_and_server_sent_events(lab: Lab) -> None:
    seen = await asyncio.to_thread(_rest_and_sse, http_url(lab.server))
    assert "DeliveredEvent@sip:202@pbx.example" in seen
    assert seen.count("EstablishedEvent@sip:202@pbx.example") == 2
    assert seen[-1].startswith("ConnectionClearedEvent")


def _example(name: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(EXAMPLES / name), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = await asyncio.to_thread(proc.communicate, timeout=30)
    return proc.returncode, out


async def test_the_examples_run_as_users_run_them(lab: Lab) -> None:
    url, base = ws_url(lab.server), http_url(lab.server)
    sf = lab.server.switching
    assert sf is not None
    pop = _example("screen_pop.py", url, CLIENT_LOGIN, CLIENT_PASSWORD, "202", "1")
    logger = _example("call_logger.py", base, CLIENT_LOGIN, CLIENT_PASSWORD, "201,202", "1")
    # both watch before the call is made
    await eventually(lambda: len(sf.clients) >= 2, timeout=20)
    await eventually(
        lambda: sum(len(p.subscribers) for p in sf.monitors.points.values()) >= 3, timeout=20
    )
    dial = _example("click_to_dial.py", url, CLIENT_LOGIN, CLIENT_PASSWORD, "201", "202")
    async with Client(url, CLIENT_LOGIN, CLIENT_PASSWORD) as client:
        at_b = await client.monitor("202")
        ringing = await until(client, "DeliveredEvent", at_b)
        await client.answer("202", ringing.call or "")
        code, out = await _finish(dial)
        assert code == 0, out
        assert "EstablishedEvent" in out and f"call {ringing.call}" in out
        code, out = await _finish(pop)
        assert code == 0 and "ringing at 202: sip:201@pbx.example" in out, out
        await client.clear("202", ringing.call or "")
        code, out = await _finish(logger)
        assert code == 0 and f"call {ringing.call} at" in out and "from sip:201" in out, out
