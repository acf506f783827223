"""Webhooks: the events of a client login's devices posted to its URL.

A client subscribes with ``POST /api/v1/webhooks`` (a URL under one of the
administrator's ``webhook_targets``, and devices its login may use) and gets a
key once.  From then on the server keeps a client session with a monitor on
each device, as a WebSocket client would, and posts every event to the URL:

    POST <url>
    Content-Type: application/json
    X-Uacsta-Subscription: <id>
    X-Uacsta-Seq: 42
    X-Uacsta-Signature: sha256=<hex HMAC-SHA256 of the body with the key>

    {"subscription": "<id>", "seq": 42, "event": {"type": "DeliveredEvent", ...}}

Delivery is at least once and in order: an event is posted until the
receiver answers 2xx, with a growing pause between attempts (0.5 s doubling
to 60 s); after :data:`MAX_ATTEMPTS` it is counted as a dead letter and the
next one goes.  ``seq`` lets the receiver drop a repeat.  Subscriptions are
kept in the store and come back with the client service.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..core.client_session import ClientClosed, ClientSession, Sequenced
from ..core.devices import DeviceRights
from ..core.switching import SwitchingFunction
from ..csta import model as m
from ..csta.types import DeviceID
from ..secrets_box import SecretBox
from ..settings import ClientConnection
from ..store import repo
from ..store.db import Database
from .logins import ClientLogins

log = logging.getLogger("uacsta.webhooks")
MAX_ATTEMPTS = 8
FIRST_PAUSE, LONGEST_PAUSE = 0.5, 60.0
POST_TIMEOUT = 5.0
MONITOR_RETRY = 30.0  # a device whose phone is away: MonitorStart again after this
MAX_DEVICES = 500
MAX_PER_LOGIN = 20


class WebhookError(ValueError):
    """A subscription refused, with why (status: the HTTP status to answer)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def signature(key: str, body: bytes) -> str:
    """What ``X-Uacsta-Signature`` carries; a receiver computes the same."""
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    """One subscription at work: its session, its monitors, its figures."""

    id: str
    login: str
    url: str
    devices: list[str]
    key: str
    delivered: int = 0
    retries: int = 0
    dead_letters: int = 0
    last_error: str = ""
    monitored: list[str] = field(default_factory=list)
    client: ClientSession | None = None
    task: asyncio.Task[None] | None = None

    def as_json(self, *, key: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "login": self.login,
            "url": self.url,
            "devices": self.devices,
            "monitored": self.monitored,
            "delivered": self.delivered,
            "retries": self.retries,
            "dead_letters": self.dead_letters,
            "last_error": self.last_error,
        }
        if key:
            out["key"] = self.key
        return out


class Webhooks:
    def __init__(
        self,
        sf: SwitchingFunction,
        logins: ClientLogins,
        db: Database,
        box: SecretBox,
        settings: Callable[[], ClientConnection],
        session: Callable[[str, DeviceRights, str], ClientSession],
    ) -> None:
        self.sf, self.logins, self.db, self.box = sf, logins, db, box
        # the JSON faces' sessions (json_api.json_session: login, rights, peer)
        self.settings, self.session = settings, session
        self.deliveries: dict[str, Delivery] = {}
        self._http: httpx.AsyncClient | None = None
        # the retry policy (instance values: a test shortens them)
        self.max_attempts, self.first_pause, self.longest_pause = (
            MAX_ATTEMPTS,
            FIRST_PAUSE,
            LONGEST_PAUSE,
        )

    # -- what clients ask -----------------------------------------------------------------

    def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2048:
            raise WebhookError("the webhook URL must be an http:// or https:// URL")
        if parts.username or parts.password:
            raise WebhookError("no credentials in the webhook URL (the body is signed)")
        targets = self.settings().webhook_targets
        if not targets:
            raise WebhookError(
                "webhooks are off on this server (client connection: webhook targets)", 403
            )
        if not any(url.startswith(prefix) for prefix in targets):
            raise WebhookError("the URL is not under one of the server's webhook targets", 403)

    async def subscribe(self, client: ClientSession, url: str, devices: list[str]) -> Delivery:
        self.check_url(url)
        if not devices or len(devices) > MAX_DEVICES:
            raise WebhookError(f"name 1 to {MAX_DEVICES} devices")
        mine = [d for d in self.deliveries.values() if d.login == client.login]
        if len(mine) >= MAX_PER_LOGIN:
            raise WebhookError(f"at most {MAX_PER_LOGIN} webhooks a login", 409)
        found = []
        for spelling in devices:
            device = self.sf.find_device(spelling, client)
            if device is None:
                raise WebhookError(f"no device {spelling!r}", 404)
            found.append(device.id.value)
        hook_id, key = secrets.token_hex(8), secrets.token_urlsafe(32)
        await repo.add_webhook(self.db, self.box, hook_id, client.login, url, found, key)
        delivery = Delivery(hook_id, client.login, url, found, key)
        self._start(delivery)
        log.info("webhook %s of %s: %d devices to %s", hook_id, client.login, len(found), url)
        return delivery

    def of(self, login: str) -> list[Delivery]:
        return [d for d in self.deliveries.values() if d.login == login]

    async def remove(self, login: str, hook_id: str) -> bool:
        delivery = self.deliveries.get(hook_id)
        if delivery is None or delivery.login != login:
            return False
        await repo.remove_webhook(self.db, hook_id, login)
        await self._stop(delivery, "webhook removed")
        del self.deliveries[hook_id]
        log.info("webhook %s of %s removed", hook_id, login)
        return True

    # -- running --------------------------------------------------------------------------

    async def start(self) -> None:
        """With the client service: every stored subscription at work again."""
        self._http = httpx.AsyncClient(timeout=POST_TIMEOUT, follow_redirects=False)
        for row in await repo.list_webhooks(self.db):
            delivery = Delivery(row.id, row.login, row.url, list(row.devices), "")
            delivery.key = self.box.decrypt(row.secret)
            self._start(delivery)

    async def stop(self) -> None:
        for delivery in list(self.deliveries.values()):
            await self._stop(delivery, "client service stopped")
        self.deliveries.clear()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def _start(self, delivery: Delivery) -> None:
        self.deliveries[delivery.id] = delivery
        delivery.task = asyncio.get_running_loop().create_task(self._run(delivery))

    async def _stop(self, delivery: Delivery, why: str) -> None:
        if delivery.task is not None:
            delivery.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await delivery.task
        if delivery.client is not None:
            self.sf.logout(delivery.client, why)
            delivery.client = None

    async def _run(self, delivery: Delivery) -> None:
        """Monitor the devices, post each event; a session closed (too slow a
        receiver: its queue passed max_queued_events) starts again."""
        while True:
            login = self.logins.get(delivery.login)
            if login is None:
                delivery.last_error = "the client login is gone"
                await asyncio.sleep(MONITOR_RETRY)
                continue
            client = delivery.client = self.session(
                delivery.login, login.rights, f"webhook {delivery.id}"
            )
            monitors = asyncio.get_running_loop().create_task(self._monitor(delivery, client))
            try:
                async for item in client.events():
                    await self._post(delivery, item)
            except ClientClosed as exc:
                delivery.last_error = f"session closed: {exc}; events lost"
                log.warning("webhook %s: %s", delivery.id, delivery.last_error)
            finally:
                monitors.cancel()
                self.sf.logout(client, "webhook session ended")
                delivery.client = None

    async def _monitor(self, delivery: Delivery, client: ClientSession) -> None:
        """A monitor on each device; those refused (the phone away) are asked
        again every :data:`MONITOR_RETRY` seconds while the events of the
        others are posted."""
        delivery.monitored = []
        missing = list(delivery.devices)
        while True:
            for device in list(missing):
                start = m.MonitorStart(monitorObject=m.MonitorObject(deviceObject=DeviceID(device)))
                answer = await self.sf.request(client, start)
                if isinstance(answer, m.MonitorStartResponse):
                    delivery.monitored.append(device)
                    missing.remove(device)
                else:
                    delivery.last_error = f"cannot monitor {device} yet: {answer}"
            if not missing:
                return
            await asyncio.sleep(MONITOR_RETRY)

    async def _post(self, delivery: Delivery, item: Sequenced) -> None:
        body = (
            f'{{"subscription":"{delivery.id}","seq":{item.seq},'
            f'{item.call_member()}"event":{item.payload!s}}}'
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Uacsta-Subscription": delivery.id,
            "X-Uacsta-Seq": str(item.seq),
            "X-Uacsta-Signature": signature(delivery.key, body),
        }
        pause = self.first_pause
        for attempt in range(1, self.max_attempts + 1):
            assert self._http is not None
            try:
                r = await self._http.post(delivery.url, content=body, headers=headers)
                if 200 <= r.status_code < 300:
                    delivery.delivered += 1
                    return
                delivery.last_error = f"event {item.seq}: the receiver answered {r.status_code}"
            except httpx.HTTPError as exc:
                delivery.last_error = f"event {item.seq}: {type(exc).__name__}: {exc}"
            if attempt == self.max_attempts:
                break
            delivery.retries += 1
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.longest_pause)
        delivery.dead_letters += 1
        log.warning(
            "webhook %s: event %d given up after %d attempts (%s)",
            delivery.id,
            item.seq,
            self.max_attempts,
            delivery.last_error,
        )

    def stats(self) -> list[dict[str, Any]]:
        return [d.as_json() for d in self.deliveries.values()]
