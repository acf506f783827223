"""The phone lifecycle through the real server: what the phone receives when it
is disabled, enabled and removed, what clients see at each transition, device
ownership, the status column, and everything the server answers about itself."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, PHONE_PASSWORD, eventually
from tests.helpers.sipphone import SipPhone
from tests.helpers.typed_client import CstaError, UacstaClient
from tests.integration.switching import PHONES, Lab, until
from uacsta.csta import model as m
from uacsta.csta.types import DeviceID, SystemStatus
from uacsta.phones.lifecycle import Phase
from uacsta.server import UacstaServer
from uacsta.sim.phone import SimPhone, SimPhoneConfig
from uacsta.store import repo


@pytest.fixture
async def lab(server: UacstaServer) -> AsyncIterator[Lab]:
    lab = Lab(server, ["snom", "yealink", "mitel"])
    await lab.start()
    yield lab
    await lab.stop()


async def watch(client: UacstaClient, device: str) -> str:
    xref = await client.monitor(device)
    await until(client, m.BackInServiceEvent)
    return xref


async def stored(server: UacstaServer, mac: str) -> tuple[str, str]:
    await server.directory.flush()
    phone = await repo.get_phone(server.db, mac)
    assert phone is not None
    return phone.status, phone.note


def phase(server: UacstaServer, mac: str) -> Phase | None:
    assert server.sessions is not None
    line = server.sessions.line(mac)
    return line.phase if line is not None else None


async def test_disable_closes_the_dialog_properly_and_enable_brings_it_back(lab: Lab) -> None:
    server, snom = lab.server, lab.phones["snom"]
    client = await lab.client()
    xref = await watch(client, "201")
    assert snom.monitors  # the monitor runs in the phone
    await server.directory.flush()  # the telephone list is written behind
    await repo.set_enabled(server.db, snom.mac, False)
    await server.apply_telephone_list()
    await eventually(lambda: phase(server, snom.mac) is Phase.IDLE)
    # what the phone received, in order: MonitorStop, SystemRegisterCancel, then BYE
    kinds = [type(msg).__name__ for msg in snom.received]
    assert kinds[-2:] == ["MonitorStop", "SystemRegisterCancel"]
    assert snom.byes == 1 and snom.dialog is None and not snom.monitors
    out = await until(client, m.OutOfServiceEvent)
    assert out.csta.monitorCrossRefID == xref  # type: ignore[attr-defined]
    assert (await stored(server, snom.mac))[0] == "registered"
    # requests are refused clearly meanwhile
    with pytest.raises(CstaError, match="deviceOutOfService"):
        await client.request(m.GetDoNotDisturb(device=DeviceID("201")))
    await repo.set_enabled(server.db, snom.mac, True)
    await server.apply_telephone_list()
    back = await until(client, m.BackInServiceEvent)
    assert back.csta.monitorCrossRefID == xref  # type: ignore[attr-defined]
    assert (await stored(server, snom.mac))[0] == "controllable"


async def test_removed_phone_devices_disappear_and_watchers_hear_it(lab: Lab) -> None:
    server, mitel = lab.server, lab.phones["mitel"]
    client = await lab.client()
    await watch(client, "203")
    assert server.switching is not None and server.switching.devices.find("203") is not None
    await server.directory.flush()
    assert await repo.remove_phone(server.db, mitel.mac)
    await server.apply_telephone_list()
    await until(client, m.OutOfServiceEvent)
    assert server.switching.devices.find("203") is None
    await eventually(lambda: mitel.byes == 1)
    listed = await client.request(m.GetSwitchingFunctionDevices())
    assert isinstance(listed, m.GetSwitchingFunctionDevicesResponse)
    devices = await until(client, m.SwitchingFunctionDevices)
    names = {d.deviceID.value for d in devices.csta.deviceList}  # type: ignore[attr-defined]
    assert PHONES["mitel"][1] not in names and PHONES["snom"][1] in names


async def test_status_stays_controllable_after_refreshes(lab: Lab) -> None:
    server, yealink = lab.server, lab.phones["yealink"]
    for _ in range(3):
        assert (await yealink.register()).status == 200
        assert (await stored(server, yealink.mac))[0] == "controllable"
    assert phase(server, yealink.mac) is Phase.UP


@pytest.mark.admin_ui
async def test_a_second_phone_reporting_a_device_does_not_take_it(lab: Lab) -> None:
    server = lab.server
    assert server.phones is not None and server.switching is not None
    owner = lab.phones["snom"]
    intruder = SimPhone(
        SimPhoneConfig(
            "yealink",
            "001565009999",
            [PHONES["snom"][1], "sip:299@pbx.example"],  # 201 belongs to the snom
            PHONE_PASSWORD,
            "127.0.0.1",
            server.phones.port("lan", "TCP"),
        )
    )
    await intruder.start()
    try:
        await eventually(lambda: phase(server, intruder.mac) is Phase.UP)
        device = server.switching.devices.find("201")
        assert device is not None and device.mac == owner.mac
        assert server.switching.devices.find("299") is not None  # its own line it gets
        await eventually(lambda: "belongs to phone" in server.directory.get(intruder.mac).note)  # type: ignore[union-attr]
        assert "also reported by" in (server.directory.get(owner.mac).note or "")  # type: ignore[union-attr]
        # both phones are marked in the telephone list the admin sees
        assert server.admin_ui is not None
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.admin_ui.port('web UI', 'HTTP')}",
            auth=("admin", ADMIN_PASSWORD),
        ) as admin:
            listed = {p["mac"]: p for p in (await admin.get("/api/phones")).json()}
        assert "belongs to phone 000413000201" in listed[intruder.mac]["note"]
        assert "also reported by 001565009999" in listed[owner.mac]["note"]
        client = await lab.client()
        assert isinstance(
            await client.request(m.SetDoNotDisturb(device=DeviceID("201"), doNotDisturbOn=True)),
            m.SetDoNotDisturbResponse,
        )
        assert owner.dnd is True and intruder.dnd is False  # the request went to the owner
    finally:
        await intruder.stop()
    await eventually(lambda: phase(server, intruder.mac) is Phase.OFFLINE)
    client = await lab.client()
    answer = await client.request(m.GetDoNotDisturb(device=DeviceID("201")))
    assert isinstance(answer, m.GetDoNotDisturbResponse)  # not stuck: the owner answers


async def test_monitor_stop_from_the_phone_reaches_each_client(lab: Lab) -> None:
    server, snom = lab.server, lab.phones["snom"]
    alice, bob = await lab.client(), await lab.client()
    xa, xb = await watch(alice, "201"), await watch(bob, "201")
    (phone_xref,) = snom.monitors
    snom.end_monitor(phone_xref)
    stop_a = await until(alice, m.MonitorStop)
    stop_b = await until(bob, m.MonitorStop)
    assert stop_a.csta.monitorCrossRefID == xa  # type: ignore[attr-defined]
    assert stop_b.csta.monitorCrossRefID == xb  # type: ignore[attr-defined]
    assert server.switching is not None
    assert server.switching.status()["monitors"] == 0  # no longer counted as active
    # a client may start it again
    await watch(alice, "201")
    assert snom.monitors


async def test_system_register_clients_hear_of_device_changes_and_aborts(lab: Lab) -> None:
    server, yealink = lab.server, lab.phones["yealink"]
    client = await lab.client()
    reg = await client.request(
        m.SystemRegister(requestTypes=m.RequestTypes(switchingFunctionDevicesChanged=True))
    )
    assert isinstance(reg, m.SystemRegisterResponse)
    yealink.set_identities([PHONES["yealink"][1], "sip:212@pbx.example"])
    changed = await until(client, m.SwFunctionDevicesChanged)
    assert changed.csta.sysStatRegisterID == reg.sysStatRegisterID  # type: ignore[attr-defined]
    assert server.switching is not None
    await eventually(lambda: server.switching.devices.find("212") is not None)
    status = await client.request(m.RequestSystemStatus())
    assert isinstance(status, m.RequestSystemStatusResponse)
    assert status.systemStatus is SystemStatus.NORMAL
    await server.stop_phone_service()
    aborted = await until(client, m.SystemRegisterAbort)
    assert aborted.csta.sysStatRegisterID == reg.sysStatRegisterID  # type: ignore[attr-defined]
    status = await client.request(m.RequestSystemStatus())
    assert isinstance(status, m.RequestSystemStatusResponse)
    assert status.systemStatus is SystemStatus.DISABLED
    await server.start_phone_service()


async def test_the_phone_asks_the_servers_status_and_aborts_its_registration(lab: Lab) -> None:
    server, snom = lab.server, lab.phones["snom"]
    registers = sum(isinstance(x, m.SystemRegister) for x in snom.received)
    snom.abort_registration()
    await eventually(
        lambda: sum(isinstance(x, m.SystemRegister) for x in snom.received) == registers + 1
    )
    assert server.sessions is not None
    session = server.sessions.session(snom.mac)
    assert session is not None and session.sys_stat_register_id == "43"


async def test_device_information_is_the_phones_own(lab: Lab) -> None:
    client = await lab.client()
    info = await client.request(m.GetPhysicalDeviceInformation(device=DeviceID("201")))
    assert isinstance(info, m.GetPhysicalDeviceInformationResponse)
    assert info.deviceModelName == "snom D785 10.1.54.13"
    logical = await client.request(m.GetLogicalDeviceInformation(device=DeviceID("202")))
    assert isinstance(logical, m.GetLogicalDeviceInformationResponse)
    assert logical.deviceModelName == "Yealink SIP-T54W 96.85.0.5"


async def test_a_phone_that_refuses_its_identities_is_flagged(server: UacstaServer) -> None:
    assert server.phones is not None
    phone = SimPhone(
        SimPhoneConfig(
            "snom",
            "000413000777",
            ["sip:777@pbx.example"],
            PHONE_PASSWORD,
            "127.0.0.1",
            server.phones.port("lan", "TCP"),
            refuse=frozenset({"GetSwitchingFunctionDevices"}),
        )
    )
    await phone.start()
    try:
        await eventually(lambda: phase(server, phone.mac) is Phase.UP)
        status, note = await stored(server, phone.mac)
        assert status == "controllable"
        assert "no identities reported" in note and "000413000777" in note
    finally:
        await phone.stop()


async def test_two_handsets_on_one_connection_are_logged_apart(
    server: UacstaServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A Gigaset DECT base registers its handsets over one connection: each
    line of the log carries its own handset's ID."""
    assert server.phones is not None
    caplog.set_level(logging.DEBUG, logger="uacsta")
    base = SipPhone("58gEC6000001", user_agent="Gigaset N870 IP PRO/83.V2.39.0+build.a546b31")
    await base.connect(server.phones.port("lan", "TCP"))
    try:
        for handset in ("58gEC6000001", "58gEC6000002"):
            assert (await base.register(PHONE_PASSWORD, user=handset)).status == 200
        assert server.sessions is not None
        await eventually(lambda: len(base.requests) >= 2 or len(base.pending) >= 2)
    finally:
        await base.close()
    sent_invites = [
        r
        for r in caplog.records
        if r.getMessage().startswith("sent to") and "INVITE sip:" in r.getMessage()
    ]
    for record in sent_invites:
        target = record.getMessage().split("INVITE sip:", 1)[1][:12]
        assert record.tag == target  # type: ignore[attr-defined]
    assert {r.tag for r in sent_invites} == {"58gEC6000001", "58gEC6000002"}  # type: ignore[attr-defined]
