"""The uaCSTA dialog with every phone: simulated phones of the six vendors
register with the real server, which INVITEs them, subscribes to changes where
the vendor can, learns their identities and keeps the dialog alive."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import PHONE_PASSWORD, client_tls, eventually
from uacsta.csta.errors import CSTAErrorCode
from uacsta.csta.model import (
    GetDoNotDisturbResponse,
    GetSwitchingFunctionDevices,
    RequestSystemStatus,
    SetDoNotDisturb,
    SetDoNotDisturbResponse,
    SystemRegister,
)
from uacsta.csta.types import DeviceID
from uacsta.dialog import State as SessionState
from uacsta.phones.lifecycle import Phase
from uacsta.phones.phone_session import PhoneSession, SessionSettings
from uacsta.server import UacstaServer
from uacsta.sim.phone import SimPhone, SimPhoneConfig
from uacsta.store import repo

MACS = {
    "snom": "000413000001",
    "yealink": "001565000002",
    "mitel": "00085D000003",
    "poly": "64167F000004",
    "auerswald": "000952000005",
    "gigaset": "58gEC6000006",
}


def sim(server: UacstaServer, vendor: str, *, tls: bool = False, **kw: object) -> SimPhone:
    assert server.phones is not None
    mac = MACS[vendor]
    config = SimPhoneConfig(
        vendor=vendor,
        mac=mac,
        identities=[f"sip:{200 + i}@pbx.example" for i in range(2)],
        password=PHONE_PASSWORD,
        server_host="127.0.0.1",
        server_port=server.phones.port("lan", "TLS" if tls else "TCP"),
        tls=client_tls(server) if tls else None,
        **kw,  # type: ignore[arg-type]
    )
    return SimPhone(config)


def session(server: UacstaServer, mac: str) -> PhoneSession | None:
    assert server.sessions is not None
    line = server.sessions.line(mac)
    return line.session if line is not None else None


def is_up(server: UacstaServer, mac: str) -> bool:
    assert server.sessions is not None
    return server.sessions.controllable(mac)


@pytest.mark.both_loops  # snom and Yealink over TLS
@pytest.mark.parametrize("vendor", sorted(MACS))
async def test_every_vendor_gets_a_uacsta_dialog(server: UacstaServer, vendor: str) -> None:
    phone = sim(server, vendor, tls=vendor in ("snom", "yealink"))
    assert (await phone.start()).status == 200
    await eventually(lambda: is_up(server, phone.mac))
    s = session(server, phone.mac)
    assert s is not None and s.dialog is not None and phone.dialog is not None
    assert [d.value for d in s.identities] == phone.config.identities
    kinds = [type(m) for m in phone.received]
    # SystemRegister only where the manual's table has it
    assert (SystemRegister in kinds) == (vendor in ("snom", "auerswald"))
    assert GetSwitchingFunctionDevices in kinds
    assert server.status()["dialogs_up"] == 1
    await phone.stop()
    await eventually(lambda: session(server, phone.mac) is None)


async def test_requests_and_vendor_refusals(server: UacstaServer) -> None:
    snom, poly = sim(server, "snom"), sim(server, "poly")
    for p in (snom, poly):
        await p.start()
        await eventually(lambda p=p: is_up(server, p.mac))
    s = session(server, snom.mac)
    assert s is not None
    device = DeviceID("sip:200@pbx.example")
    assert isinstance(
        await s.request(SetDoNotDisturb(device=device, doNotDisturbOn=True)),
        SetDoNotDisturbResponse,
    )
    assert snom.dnd is True
    from uacsta.csta.model import GetDoNotDisturb

    answer = await s.request(GetDoNotDisturb(device=device))
    assert isinstance(answer, GetDoNotDisturbResponse) and answer.doNotDisturbOn is True
    poly_session = session(server, poly.mac)
    assert poly_session is not None
    refused = await poly_session.request(SetDoNotDisturb(device=device, doNotDisturbOn=True))
    assert isinstance(refused, CSTAErrorCode) and str(refused) == "operation/serviceNotSupported"
    for phone in (snom, poly):
        await phone.stop()


@pytest.mark.parametrize("level", [1, 2])
async def test_snom_csta_challenge(server: UacstaServer, level: int) -> None:
    phone = sim(server, "snom", csta_challenge=level)
    await phone.start()
    await eventually(lambda: is_up(server, phone.mac))
    s = session(server, phone.mac)
    assert s is not None
    assert isinstance(await s.request(RequestSystemStatus()), object)
    await phone.stop()


async def test_keepalive_and_a_phone_that_stops_answering(server: UacstaServer) -> None:
    assert server.sessions is not None
    server.sessions.settings = lambda: SessionSettings(keepalive=0.2, request_timeout=0.5)
    phone = sim(server, "yealink")
    await phone.start()
    await eventually(lambda: is_up(server, phone.mac))
    await eventually(lambda: sum(isinstance(m, RequestSystemStatus) for m in phone.received) >= 3)
    s = session(server, phone.mac)
    assert s is not None
    phone.config.answer_requests = False  # the phone hangs
    await eventually(lambda: s.state is SessionState.ENDED, timeout=5)
    assert "no answer to RequestSystemStatus" in s.ended_because
    line = server.sessions.line(phone.mac)
    assert line is not None
    await eventually(lambda: line.phase in (Phase.RECOVERING, Phase.INVITING))
    assert await stored_status(server, phone.mac) in ("recovering", "registered")
    phone.config.answer_requests = True  # it answers again, on the same connection
    await eventually(lambda: is_up(server, phone.mac), timeout=10)
    assert session(server, phone.mac) is not s
    assert await stored_status(server, phone.mac) == "controllable"
    await phone.stop()


async def test_bye_and_a_new_registration_rebuild_the_dialog(server: UacstaServer) -> None:
    phone = sim(server, "auerswald")
    await phone.start()
    await eventually(lambda: is_up(server, phone.mac))
    first = session(server, phone.mac)
    await phone.stop(bye=True)
    await eventually(lambda: first is not None and first.state is SessionState.ENDED)
    again = sim(server, "auerswald")  # the phone reboots
    await again.start()
    await eventually(lambda: is_up(server, again.mac))
    assert session(server, again.mac) is not first
    await again.stop()


async def stored_status(server: UacstaServer, mac: str) -> str:
    await server.directory.flush()
    phones = {p.mac: p for p in await repo.list_phones(server.db)}
    return phones[mac].status


async def test_disabled_phone_gets_no_dialog_until_enabled(server: UacstaServer) -> None:
    """The telephone list says controllable only while the dialog is up."""
    phone = sim(server, "mitel")
    await phone.start()
    await eventually(lambda: is_up(server, phone.mac))
    assert await stored_status(server, phone.mac) == "controllable"
    await repo.set_enabled(server.db, phone.mac, False)
    await eventually(lambda: session(server, phone.mac) is None)
    assert not is_up(server, phone.mac)
    assert await stored_status(server, phone.mac) == "registered"
    await repo.set_enabled(server.db, phone.mac, True)
    await eventually(lambda: is_up(server, phone.mac))
    assert await stored_status(server, phone.mac) == "controllable"
    await phone.stop()
    await eventually(lambda: session(server, phone.mac) is None)
    assert await stored_status(server, phone.mac) == "offline"


async def test_many_phones_at_once(server: UacstaServer) -> None:
    assert server.phones is not None
    phones = [
        SimPhone(
            SimPhoneConfig(
                vendor="snom",
                mac=f"0004130100{i:02X}",
                identities=[f"sip:{300 + i}@pbx.example"],
                password=PHONE_PASSWORD,
                server_host="127.0.0.1",
                server_port=server.phones.port("lan", "TCP"),
            )
        )
        for i in range(40)
    ]
    await asyncio.gather(*(p.start() for p in phones))
    await eventually(lambda: server.status()["dialogs_up"] == 40, timeout=10)
    await asyncio.gather(*(p.stop() for p in phones))
    await eventually(lambda: server.status()["dialogs_up"] == 0)


async def test_simulated_phone_pings_its_connection(server: UacstaServer) -> None:
    """RFC 5626: CRLFCRLF keep-alives on the phone's connection, each answered."""
    phone = sim(server, "yealink")
    phone.config.keepalive = 0.1
    await phone.start()
    try:
        await eventually(lambda: phone.pongs >= 3)
        assert phone.pings >= phone.pongs
        assert is_up(server, phone.mac)  # pings disturb nothing
    finally:
        await phone.stop()
