"""Shared set-up for the switching-function tests: simulated phones of all six
vendors on one simulated switch, registered with the real server, and JSON
clients logged in over a real WebSocket."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from tests.conftest import CLIENT_LOGIN, CLIENT_PASSWORD, PHONE_PASSWORD, eventually
from tests.helpers.typed_client import Event, UacstaClient
from uacsta.csta.model import CstaMessage
from uacsta.server import UacstaServer
from uacsta.sim.phone import SimPhone, SimPhoneConfig
from uacsta.sim.switch import SimSwitch

# vendor -> (MAC or handset ID, identity)
PHONES = {
    "snom": ("000413000201", "sip:201@pbx.example"),
    "yealink": ("001565000202", "sip:202@pbx.example"),
    "mitel": ("00085D000203", "sip:203@pbx.example"),
    "poly": ("0004F2000204", "sip:204@pbx.example"),
    "auerswald": ("000952000205", "sip:205@pbx.example"),
    "gigaset": ("58gEC6000206", "sip:206@pbx.example"),
}


def ws_url(server: UacstaServer) -> str:
    assert server.client_api is not None
    return f"ws://127.0.0.1:{server.client_api.port('lan', 'HTTP')}/api/v1/ws"


def http_url(server: UacstaServer) -> str:
    assert server.client_api is not None
    return f"http://127.0.0.1:{server.client_api.port('lan', 'HTTP')}"


class Lab:
    def __init__(self, server: UacstaServer, vendors: Iterable[str] = PHONES) -> None:
        assert server.phones is not None
        self.server = server
        self.switch = SimSwitch()
        port = server.phones.port("lan", "TCP")
        self.phones: dict[str, SimPhone] = {}
        for vendor in vendors:
            mac, identity = PHONES[vendor]
            phone = SimPhone(
                SimPhoneConfig(vendor, mac, [identity], PHONE_PASSWORD, "127.0.0.1", port)
            )
            self.switch.attach(phone)
            self.phones[vendor] = phone
        self.clients: list[UacstaClient] = []

    async def start(self) -> None:
        sessions = self.server.sessions
        assert sessions is not None
        await asyncio.gather(*(p.start() for p in self.phones.values()))
        await eventually(lambda: all(sessions.controllable(p.mac) for p in self.phones.values()))
        # identities learnt: every device is in the directory
        sf = self.server.switching
        assert sf is not None
        await eventually(lambda: len(sf.devices) == len(self.phones))

    async def client(
        self, user: str = CLIENT_LOGIN, password: str = CLIENT_PASSWORD, **kw: object
    ) -> UacstaClient:
        client = UacstaClient(ws_url(self.server), user, password, **kw)  # type: ignore[arg-type]
        await client.connect()
        self.clients.append(client)
        return client

    async def stop(self) -> None:
        for client in self.clients:
            await client.close()
        for phone in self.phones.values():
            await phone.stop()


async def events(client: UacstaClient, count: int, timeout: float = 5.0) -> list[Event]:
    out: list[Event] = []
    async with asyncio.timeout(timeout):
        while len(out) < count:
            out.append(await client.next_event())
    return out


async def until(client: UacstaClient, kind: type[CstaMessage], timeout: float = 5.0) -> Event:
    async with asyncio.timeout(timeout):
        while True:
            event = await client.next_event()
            if isinstance(event.csta, kind):
                return event


def names(evs: list[Event]) -> list[str]:
    return [type(e.csta).__name__ for e in evs]
