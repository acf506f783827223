"""Every client face drives the same call between two simulated phones and
sees the same events: uaCSTA over SIP, CSTA XML over TCP, JSON over
WebSocket, REST with Server-Sent Events, and REST with webhooks.

201 calls 202, 202 answers, 201 holds and retrieves, 201 hangs up.  The
events each device's monitor must report are ECMA-269's for that flow, written
out here (not taken from the server): the caller's ServiceInitiated,
Originated, Delivered; the called device's Delivered; then Established, Held,
Retrieved and ConnectionCleared at both."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any, Protocol

import httpx
import pytest
from uacsta_client import Event

from tests.conftest import CLIENT_LOGIN, CLIENT_PASSWORD, eventually
from tests.helpers import cstatcp as x
from tests.helpers.cstatcp import CstaTcpClient
from tests.helpers.sipclient import SipCstaClient
from tests.helpers.typed_client import UacstaClient
from tests.integration.switching import Lab, http_url, ws_url
from tests.integration.test_webhooks import Receiver, allow, free_port
from uacsta.csta import model as m
from uacsta.csta.callstate import subject_connection
from uacsta.csta.types import ConnectionID, DeviceID
from uacsta.server import UacstaServer

pytestmark = pytest.mark.admin_ui  # the webhook face's settings are reloaded live

EXPECTED = {
    "201": [
        "ServiceInitiatedEvent",
        "OriginatedEvent",
        "DeliveredEvent",
        "EstablishedEvent",
        "HeldEvent",
        "RetrievedEvent",
        "ConnectionClearedEvent",
    ],
    "202": [
        "DeliveredEvent",
        "EstablishedEvent",
        "HeldEvent",
        "RetrievedEvent",
        "ConnectionClearedEvent",
    ],
}
# REST path verb -> (CSTA request, its ConnectionID field)
VERBS: dict[str, tuple[type[m.CstaMessage], str]] = {
    "answer": (m.AnswerCall, "callToBeAnswered"),
    "hold": (m.HoldCall, "callToBeHeld"),
    "retrieve": (m.RetrieveCall, "callToBeRetrieved"),
    "clear": (m.ClearConnection, "connectionToBeCleared"),
}


class Face(Protocol):
    async def open(self) -> None: ...
    async def make_call(self, a: str, b: str) -> str: ...
    async def act(self, verb: str, device: str, call_id: str) -> None: ...
    async def event(self) -> tuple[str, str, str | None]: ...
    async def close(self) -> None: ...


def typed_request(verb: str, device: str, call_id: str) -> m.CstaMessage:
    cls, name = VERBS[verb]
    fields: dict[str, Any] = {name: ConnectionID(call_id, DeviceID(device))}
    return cls(**fields)


def start(device: str) -> m.MonitorStart:
    return m.MonitorStart(monitorObject=m.MonitorObject(deviceObject=DeviceID(device)))


class WebSocketFace:
    def __init__(self, lab: Lab) -> None:
        self.client = UacstaClient(ws_url(lab.server), CLIENT_LOGIN, CLIENT_PASSWORD)
        self.xrefs: dict[str, str] = {}

    async def open(self) -> None:
        await self.client.connect()
        for device in EXPECTED:
            self.xrefs[await self.client.monitor(device)] = device
            await self.client.next_event()  # BackInService

    async def make_call(self, a: str, b: str) -> str:
        conn = await self.client.make_call(a, b)
        return conn.callID or ""

    async def act(self, verb: str, device: str, call_id: str) -> None:
        await self.client.request(typed_request(verb, device, call_id))

    async def event(self) -> tuple[str, str, str | None]:
        event = (await self.client.next_event()).csta
        conn = subject_connection(event)
        return self.xrefs[event.monitorCrossRefID], event.root(), conn.callID if conn else None  # type: ignore[attr-defined]

    async def close(self) -> None:
        await self.client.close()


class SipFace:
    def __init__(self, lab: Lab) -> None:
        assert lab.server.client_sip is not None
        port = lab.server.client_sip.port("lan", "TCP")
        self.client = SipCstaClient("127.0.0.1", port, CLIENT_LOGIN, CLIENT_PASSWORD)
        self.xrefs: dict[str, str] = {}

    async def _ask(self, msg: m.CstaMessage) -> m.CstaMessage:
        answer = await self.client.request(msg)
        assert isinstance(answer, m.CstaMessage), answer
        return answer

    async def open(self) -> None:
        assert (await self.client.connect()).status == 200
        for device in EXPECTED:
            answer = await self._ask(start(device))
            assert isinstance(answer, m.MonitorStartResponse)
            self.xrefs[answer.monitorCrossRefID] = device
            await self.client.next_event()

    async def make_call(self, a: str, b: str) -> str:
        answer = await self._ask(
            m.MakeCall(callingDevice=DeviceID(a), calledDirectoryNumber=DeviceID(b))
        )
        assert isinstance(answer, m.MakeCallResponse)
        return answer.callingDevice.callID or ""

    async def act(self, verb: str, device: str, call_id: str) -> None:
        await self._ask(typed_request(verb, device, call_id))

    async def event(self) -> tuple[str, str, str | None]:
        event = await self.client.next_event()
        assert isinstance(event, m.CstaMessage)
        conn = subject_connection(event)
        return self.xrefs[event.monitorCrossRefID], event.root(), conn.callID if conn else None  # type: ignore[attr-defined]

    async def close(self) -> None:
        await self.client.close()


def _first(root: ET.Element, name: str) -> str | None:
    for el in root.iter():
        if el.tag.rpartition("}")[2] == name:
            return (el.text or "").strip()
    return None


class CstaTcpFace:
    """Written as the independent client speaks: XML text out, ElementTree in."""

    def __init__(self, lab: Lab) -> None:
        self.port = lab.server.client_service.csta.port("lan", "TCP")
        self.client = CstaTcpClient()
        self.xrefs: dict[str, str] = {}

    async def open(self) -> None:
        await self.client.connect(self.port)
        started = await self.client.request(
            x.start_session(CLIENT_LOGIN, CLIENT_PASSWORD, [x.ED[4]])
        )
        assert started.name == "StartApplicationSessionPosResponse", started.xml
        for device in EXPECTED:
            answer = await self.client.request(x.monitor_start(4, device))
            self.xrefs[answer.text("monitorCrossRefID") or ""] = device
            await self.client.event("BackInServiceEvent")

    async def make_call(self, a: str, b: str) -> str:
        answer = await self.client.request(x.make_call(4, a, b))
        assert answer.name == "MakeCallResponse", answer.xml
        return answer.text("callingDevice", "callID") or ""

    async def act(self, verb: str, device: str, call_id: str) -> None:
        cls, name = VERBS[verb]
        answer = await self.client.request(
            x.csta(4, cls.root(), x.connection(name, call_id, device))
        )
        assert answer.name == f"{cls.root()}Response", answer.xml

    async def event(self) -> tuple[str, str, str | None]:
        if self.client.events:
            reply = self.client.events.pop(0)
        else:
            reply = await self.client.read()
            assert reply.invoke_id == x.EVENT
        assert reply.namespace == x.ED[4]
        xref = reply.text("monitorCrossRefID") or ""
        return self.xrefs[xref], reply.name, _first(reply.root, "callID")

    async def close(self) -> None:
        await self.client.close()


class RestFace:
    """REST requests; events from Server-Sent Events or from webhook posts."""

    def __init__(self, lab: Lab, receiver: Receiver | None = None) -> None:
        self.lab = lab
        self.http = httpx.AsyncClient(
            base_url=http_url(lab.server), auth=(CLIENT_LOGIN, CLIENT_PASSWORD), timeout=20
        )
        self.receiver = receiver
        self.xrefs: dict[str, str] = {}
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.taken = 0

    async def open(self) -> None:
        if self.receiver is None:
            self.task = asyncio.create_task(self._sse())
            await eventually(lambda: len(self.xrefs) == 2)
        else:
            await allow(self.lab.server, f"http://127.0.0.1:{self.receiver.port}/hooks/")
            made = await self.http.post(
                "/api/v1/webhooks", json={"url": self.receiver.url, "devices": list(EXPECTED)}
            )
            assert made.status_code == 201, made.text
            self.task = asyncio.create_task(self._posts())
        for _ in EXPECTED:  # BackInService of each monitor
            item = await self._next()
            assert item["type"] == "BackInServiceEvent"
            self.xrefs.setdefault(item["monitorCrossRefID"], str(item["device"])[4:7])

    async def _sse(self) -> None:
        async with self.http.stream("GET", "/api/v1/events", params={"devices": "201,202"}) as r:
            name = ""
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    name = line.partition(":")[2].strip()
                elif line.startswith("data:") and name == "welcome":
                    monitors = json.loads(line.partition(":")[2])["monitors"]
                    self.xrefs = {xref: d[4:7] for d, xref in monitors.items()}
                elif line.startswith("data:") and name == "csta":
                    self.queue.put_nowait(json.loads(line.partition(":")[2])["csta"])

    async def _posts(self) -> None:
        assert self.receiver is not None
        receiver = self.receiver
        while True:
            await eventually(lambda: len(receiver.posts) > self.taken, timeout=30)
            _headers, body = self.receiver.posts[self.taken]
            self.taken += 1
            self.queue.put_nowait(json.loads(body)["event"])

    async def _next(self) -> dict[str, Any]:
        async with asyncio.timeout(10):
            return await self.queue.get()

    async def make_call(self, a: str, b: str) -> str:
        made = await self.http.post(f"/api/v1/devices/{a}/calls", json={"to": b})
        assert made.status_code == 200, made.text
        return str(made.json()["callingDevice"]["callID"])

    async def act(self, verb: str, device: str, call_id: str) -> None:
        answer = await self.http.post(f"/api/v1/devices/{device}/calls/{call_id}/{verb}")
        assert answer.status_code == 200, answer.text

    async def event(self) -> tuple[str, str, str | None]:
        # read as the standalone client reads an event (its subject connection)
        event = Event(0, await self._next())
        return self.xrefs[event.monitor or ""], event.kind, event.call_id

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        await self.http.aclose()


@pytest.fixture
async def lab(server: UacstaServer) -> AsyncIterator[Lab]:
    lab = Lab(server, vendors=("snom", "yealink"))
    await lab.start()
    yield lab
    await lab.stop()


async def make_face(name: str, lab: Lab, receiver: Receiver) -> Face:
    if name == "websocket":
        return WebSocketFace(lab)
    if name == "uacsta-over-sip":
        return SipFace(lab)
    if name == "csta-over-tcp":
        return CstaTcpFace(lab)
    if name == "rest+sse":
        return RestFace(lab)
    lab.server.client_service.webhooks.first_pause = 0.05
    return RestFace(lab, receiver)


@pytest.mark.parametrize(
    "name", ["uacsta-over-sip", "csta-over-tcp", "websocket", "rest+sse", "rest+webhooks"]
)
async def test_every_face_drives_the_same_call(lab: Lab, name: str) -> None:
    receiver = Receiver(free_port())
    await receiver.start()
    face = await make_face(name, lab, receiver)
    seen: dict[str, list[str]] = {"201": [], "202": []}
    calls: dict[str, str | None] = {}

    async def until(device: str, kind: str) -> None:
        while kind not in seen[device]:
            at, what, call_id = await face.event()
            seen[at].append(what)
            if what == "DeliveredEvent" and at == "202":
                calls["202"] = call_id

    try:
        await face.open()
        a_call = await face.make_call("201", "202")
        await until("202", "DeliveredEvent")
        b_call = calls["202"]
        assert b_call, "the called phone's DeliveredEvent names its call"
        await face.act("answer", "202", b_call)
        await until("201", "EstablishedEvent")
        await until("202", "EstablishedEvent")
        await face.act("hold", "201", a_call)
        await until("201", "HeldEvent")
        await until("202", "HeldEvent")
        await face.act("retrieve", "201", a_call)
        await until("201", "RetrievedEvent")
        await until("202", "RetrievedEvent")
        await face.act("clear", "201", a_call)
        await until("201", "ConnectionClearedEvent")
        await until("202", "ConnectionClearedEvent")
        assert seen == EXPECTED
    finally:
        await face.close()
        await receiver.stop()
