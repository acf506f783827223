"""Webhooks against a real HTTP receiver on loopback: events posted signed and
in order, kept through a receiver that is down for a while (none lost), given
up after the attempts as dead letters that the admin sees, and clear
refusals for addresses the administrator did not allow."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import CLIENT_LOGIN, CLIENT_PASSWORD, eventually
from tests.integration.switching import Lab, http_url
from uacsta.server import UacstaServer
from uacsta.store import repo

pytestmark = pytest.mark.admin_ui


@dataclass
class Receiver:
    """A CRM's webhook endpoint: records every post; answers ``status``."""

    port: int
    status: int = 200
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    server: uvicorn.Server | None = None
    task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/crm"

    async def start(self) -> None:
        async def hook(request: Request) -> Response:
            self.posts.append((dict(request.headers), await request.body()))
            return Response(status_code=self.status)

        app = Starlette(routes=[Route("/hooks/crm", hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.task = asyncio.create_task(self.server.serve())
        await eventually(lambda: self.server is not None and self.server.started)

    async def stop(self) -> None:
        if self.server is not None and self.task is not None:
            self.server.should_exit = True
            await self.task
            self.server = None

    def events(self) -> list[tuple[int, dict[str, object]]]:
        out = []
        for _headers, body in self.posts:
            doc = json.loads(body)
            out.append((int(doc["seq"]), doc["event"]))
        return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver(free_port())
    await r.start()
    yield r
    await r.stop()


async def allow(server: UacstaServer, *prefixes: str) -> None:
    await repo.set_path(server.db, "client_connection.webhook_targets", json.dumps(list(prefixes)))
    await server.live.reload()


def rest(lab: Lab) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=http_url(lab.server), auth=(CLIENT_LOGIN, CLIENT_PASSWORD))


async def test_events_posted_signed_in_order_and_kept_while_the_receiver_is_down(
    lab: Lab, receiver: Receiver
) -> None:
    server = lab.server
    hooks = server.client_service.webhooks
    hooks.first_pause, hooks.longest_pause = 0.05, 0.2  # the policy, shortened for the test
    hooks.max_attempts = 1000  # nothing given up here
    await allow(server, f"http://127.0.0.1:{receiver.port}/hooks/")
    async with rest(lab) as http:
        made = await http.post("/api/v1/webhooks", json={"url": receiver.url, "devices": ["202"]})
        assert made.status_code == 201, made.text
        hook = made.json()
        key = hook["key"]
        assert hook["devices"] == ["sip:202@pbx.example"]
        await eventually(lambda: receiver.events() != [])  # BackInService of the monitor
        call = await http.post("/api/v1/devices/201/calls", json={"to": "202"})
        assert call.status_code == 200, call.text

        def kinds() -> list[object]:
            return [e["type"] for _seq, e in receiver.events()]

        await eventually(lambda: "DeliveredEvent" in kinds())
        # each post is signed with the key, and says which event it carries
        for headers, body in receiver.posts:
            expected = "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
            assert headers["x-uacsta-signature"] == expected
            assert headers["x-uacsta-subscription"] == hook["id"]
            assert headers["x-uacsta-seq"] == str(json.loads(body)["seq"])
        b_call = next(e for _s, e in receiver.events() if e["type"] == "DeliveredEvent")
        b_call_id = b_call["connection"]["callID"]  # type: ignore[index]
        # the receiver goes down; the call is answered and cleared meanwhile
        await receiver.stop()
        before = len(receiver.posts)
        assert (await http.post(f"/api/v1/devices/202/calls/{b_call_id}/answer")).status_code == 200
        assert (await http.post(f"/api/v1/devices/202/calls/{b_call_id}/clear")).status_code == 200
        await eventually(lambda: hooks.deliveries[hook["id"]].retries > 0)
        await receiver.start()  # back on the same port
        await eventually(lambda: "ConnectionClearedEvent" in kinds(), timeout=10)
        assert len(receiver.posts) > before
        seqs = sorted({seq for seq, _e in receiver.events()})
        assert seqs == list(range(seqs[0], seqs[-1] + 1))  # none lost
        listed = (await http.get("/api/v1/webhooks")).json()
        assert [h["id"] for h in listed] == [hook["id"]] and "key" not in listed[0]
        assert listed[0]["dead_letters"] == 0 and listed[0]["delivered"] >= len(seqs)
        assert (await http.delete(f"/api/v1/webhooks/{hook['id']}")).status_code == 204
        assert (await http.get("/api/v1/webhooks")).json() == []


async def test_events_given_up_are_dead_letters_the_admin_sees(
    lab: Lab, receiver: Receiver, api: httpx.AsyncClient
) -> None:
    server = lab.server
    hooks = server.client_service.webhooks
    hooks.first_pause, hooks.max_attempts = 0.01, 2
    receiver.status = 500  # a receiver that refuses everything
    await allow(server, receiver.url)
    async with rest(lab) as http:
        made = await http.post("/api/v1/webhooks", json={"url": receiver.url, "devices": ["201"]})
        assert made.status_code == 201, made.text
        await eventually(lambda: hooks.deliveries[made.json()["id"]].dead_letters >= 1)
    status = (await api.get("/api/status")).json()
    (shown,) = status["webhooks"]
    assert shown["dead_letters"] >= 1 and "answered 500" in shown["last_error"]
    page = await api.get("/status")
    assert page.status_code == 200 and 'id="webhooks"' in page.text
    metrics = (await api.get("/metrics")).text
    assert f'uacsta_webhook_posts_total{{login="{CLIENT_LOGIN}",result="dead_letter"}}' in metrics


async def test_addresses_the_administrator_did_not_allow_are_refused(
    lab: Lab, receiver: Receiver
) -> None:
    async with rest(lab) as http:
        off = await http.post("/api/v1/webhooks", json={"url": receiver.url, "devices": ["201"]})
        assert off.status_code == 403 and "webhooks are off" in off.json()["detail"]
        await allow(lab.server, "https://crm.example/hooks/")
        elsewhere = await http.post(
            "/api/v1/webhooks", json={"url": receiver.url, "devices": ["201"]}
        )
        assert elsewhere.status_code == 403 and "not under" in elsewhere.json()["detail"]
        await allow(lab.server, f"http://127.0.0.1:{receiver.port}/")
        unknown = await http.post(
            "/api/v1/webhooks", json={"url": receiver.url, "devices": ["999"]}
        )
        assert unknown.status_code == 404 and "999" in unknown.json()["detail"]
        sneaky = await http.post(
            "/api/v1/webhooks",
            json={"url": f"http://u:p@127.0.0.1:{receiver.port}/x", "devices": ["201"]},
        )
        assert sneaky.status_code == 422 and "credentials" in sneaky.json()["detail"]
        assert (await http.get("/api/v1/webhooks")).json() == []
    assert receiver.posts == []
    # the setting itself refuses what is not a URL prefix
    with pytest.raises(repo.SettingsError, match="not an http"):
        await repo.set_path(lab.server.db, "client_connection.webhook_targets", '["ftp://x/"]')
