"""Provisioning on loopback: simulated phones of every vendor, each with its
own 127.0.0.x address and web interface, provided with the uaCSTA account by
the real server, restarted, registered and controllable; then provisioning
deleted.  Discovery by broadcast and multicast runs in a network namespace
(``tests/netns``)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, CLIENT_LOGIN, CLIENT_PASSWORD, PHONE_PASSWORD, eventually
from tests.integration.switching import http_url
from uacsta.net.sip_service import ListenerError
from uacsta.provisioning.provisioner import Outcome, Target
from uacsta.server import UacstaServer
from uacsta.sim.device import DeviceSpec, SimDevices
from uacsta.store import repo

WEB_PASSWORD = "w3b-pass"
VENDORS = ["snom", "yealink", "mitel", "poly", "auerswald", "gigaset"]
OUI = {
    "snom": "000413",
    "yealink": "001565",
    "mitel": "00085D",
    "poly": "64167F",
    "auerswald": "000952",
    "gigaset": "7C2F8E",  # the N870 base's own MAC; its handsets get 58gEC6… IDs
}


def spec(i: int, vendor: str, **kw: object) -> DeviceSpec:
    fields: dict[str, object] = {
        "vendor": vendor,
        "mac": f"{OUI[vendor]}0000{i:02X}",
        "ip": f"127.0.0.{10 + i}",
        "web_port": 8480,
        "web_password": WEB_PASSWORD,
        "numbers": [f"30{i}", f"31{i}"] if vendor == "gigaset" else [f"30{i}"],
        "boot_seconds": 0.2,
    }
    return DeviceSpec(**{**fields, **kw})  # type: ignore[arg-type]


async def start_devices(specs: list[DeviceSpec]) -> SimDevices:
    devices = SimDevices(specs)
    try:
        await devices.start()
    except (ListenerError, OSError) as exc:
        await devices.stop()
        pytest.fail(f"simulated phones cannot listen on loopback: {exc}")
    return devices


@pytest.fixture
async def devices() -> AsyncIterator[SimDevices]:
    sims = await start_devices([spec(i, v) for i, v in enumerate(VENDORS)])
    try:
        yield sims
    finally:
        await sims.stop()


async def web_password(server: UacstaServer, password: str = WEB_PASSWORD) -> None:
    assert server.box is not None
    await repo.set_secret(server.db, server.box, repo.PHONE_WEB_PASSWORD, password)


def targets(sims: SimDevices) -> list[Target]:
    return [Target(d.spec.ip, d.vendor, d.mac, d.spec.web_port) for d in sims.devices]


def users(sims: SimDevices) -> list[str]:
    return [p.mac for p in sims.phones()]


async def test_push_restart_register_controllable_then_delete(
    server: UacstaServer, devices: SimDevices
) -> None:
    assert server.provisioner is not None and server.phones is not None
    await web_password(server)
    before = {d.mac: dict(d.settings) for d in devices.devices}
    assert devices.phones() == []  # nothing provided yet: no phone registers anywhere
    outcomes = await server.provisioner.push(targets(devices))
    assert [o.state for o in outcomes] == ["done"] * 6, outcomes
    slots = {o.vendor: o.slot for o in outcomes}
    # an unused slot, not the PBX line in the first one
    assert slots["snom"] == "identity 12" and slots["yealink"] == "account 16"
    assert slots["poly"] == "line 2" and slots["auerswald"] == "provider 2, account 2"
    assert slots["gigaset"] == "profile 1, 2 handsets"
    # each phone restarted and registered with the server; the N870 with both handsets
    await eventually(lambda: len(devices.phones()) == 7, timeout=10)
    macs = users(devices)
    assert sorted(m for m in macs if m.startswith("58gEC6")) == [
        "58gEC6000501",
        "58gEC6000502",
    ]

    def controllable() -> bool:
        return all(
            (p := server.directory.get(m)) is not None and p.status == "controllable" for m in macs
        )

    await eventually(controllable, timeout=15)
    port = server.phones.port("lan", "TCP")
    for d in devices.devices:
        for p in d.phones:
            assert (p.config.server_host, p.config.server_port) == ("127.0.0.1", port)
            assert p.config.local_address == d.spec.ip
    mitel = next(d for d in devices.devices if d.vendor == "mitel")
    assert mitel.loaded_config["csta"] == "1"
    assert mitel.loaded_config["csta password"] == PHONE_PASSWORD
    # startup.cfg holds the phone password: only where the phones were pointed
    folder = mitel.settings["http path"]
    assert folder.startswith("mitel/") and len(folder) > 30
    config = f"http://127.0.0.1:{mitel.settings['http port']}"
    async with httpx.AsyncClient(base_url=config) as http:
        assert (await http.get(f"/{folder}/startup.cfg")).status_code == 200
        assert (await http.get("/mitel/startup.cfg")).status_code == 404
        assert (await http.get("/mitel/0123456789abcdef/startup.cfg")).status_code == 404
    # a CTI client drives a provided phone: MakeCall from the snom to the Yealink
    snom = next(d for d in devices.devices if d.vendor == "snom").phones[0]
    yealink = next(d for d in devices.devices if d.vendor == "yealink").phones[0]
    assert server.switching is not None
    call = await switching_make_call(server, "300", "301")
    assert call is not None
    await eventually(lambda: yealink.calls() != [] and snom.calls() != [])

    # the record says what was written and what was there before
    record = await repo.get_provisioned(server.db, OUI["snom"] + "000000")
    assert record is not None and record.written["user_name12"] == OUI["snom"] + "000000"
    assert record.previous["csta_legacy_control"] == "1"
    # the phone password in the record is encrypted like the password itself
    assert record.written["user_pass12"].startswith("sealed:")
    assert PHONE_PASSWORD not in str(record.written)

    outcomes = await server.provisioner.delete(targets(devices))
    assert [o.state for o in outcomes] == ["done"] * 6, outcomes
    await eventually(lambda: all(d.boots == 3 for d in devices.devices), timeout=10)
    # exactly what we wrote is gone: every phone's settings are as before
    # (keys we added are left empty, as a phone shows a setting never set)
    for d in devices.devices:
        after = {k: v for k, v in d.settings.items() if v != "" or k in before[d.mac]}
        assert after == before[d.mac], d.vendor
    assert devices.phones() == []
    await eventually(
        lambda: all(server.directory.get(m).status == "offline" for m in macs),  # type: ignore[union-attr]
        timeout=10,
    )
    assert await repo.list_provisioned(server.db) == []


async def switching_make_call(server: UacstaServer, calling: str, called: str) -> object:
    """MakeCall through the server's REST face, as a CTI script does."""
    async with httpx.AsyncClient(
        base_url=http_url(server), auth=(CLIENT_LOGIN, CLIENT_PASSWORD)
    ) as http:
        r = await http.post(f"/api/v1/devices/{calling}/calls", json={"to": called})
        assert r.status_code == 200, r.text
        return r.json()


async def test_each_phone_gets_its_own_result(server: UacstaServer) -> None:
    """Wrong web credentials, nobody at the address, a phone refusing the
    change: each a clear result, and the phones around them are provided."""
    sims = await start_devices(
        [
            spec(0, "snom"),
            spec(1, "yealink", web_password="other"),
            spec(2, "poly", fault="write"),
            spec(3, "auerswald", web_password="other"),
            spec(4, "gigaset", fault="write"),
        ]
    )
    try:
        assert server.provisioner is not None
        await web_password(server)
        nobody = Target("127.0.0.99", "snom", "", 8480)
        out: dict[str, Outcome] = {
            o.vendor + o.ip: o for o in await server.provisioner.push([*targets(sims), nobody])
        }
        assert out["snom127.0.0.10"].state == "done"
        assert out["snom127.0.0.99"].state == "failed"
        assert "cannot reach the web interface at 127.0.0.99" in out["snom127.0.0.99"].detail
        for key in ("yealink127.0.0.11", "auerswald127.0.0.13"):
            assert out[key].state == "failed"
            assert "refused the login" in out[key].detail
        assert out["poly127.0.0.12"].state == "failed"
        assert "4007" in out["poly127.0.0.12"].detail and "locked" in out["poly127.0.0.12"].detail
        assert out["gigaset127.0.0.14"].state == "failed"
        assert "locked by the administrator" in out["gigaset127.0.0.14"].detail
        # what failed was not written and not recorded
        assert [r.vendor for r in await repo.list_provisioned(server.db)] == ["snom"]
        await eventually(lambda: len(sims.phones()) == 1, timeout=10)
    finally:
        await sims.stop()


async def test_without_restart_the_phone_needs_one(server: UacstaServer) -> None:
    sims = await start_devices([spec(0, "yealink")])
    try:
        assert server.provisioner is not None
        await web_password(server)
        await repo.set_path(server.db, "provisioning.restart", "false")
        (outcome,) = await server.provisioner.push(targets(sims))
        assert outcome.state == "needs restart", outcome
        # the push is over (its web calls all answered): no reboot was asked
        assert sims.devices[0].restarts_asked == 0
        assert sims.phones() == [] and sims.devices[0].boots == 1
        assert sims.devices[0].settings["features.csta_control.enable"] == "1"
        await sims.devices[0].restart()  # the administrator restarts it by hand
        mac = sims.devices[0].mac
        await eventually(
            lambda: getattr(server.directory.get(mac), "status", "") == "controllable", timeout=10
        )
    finally:
        await sims.stop()


async def test_a_second_server_for_the_phones_that_take_one(server: UacstaServer) -> None:
    """The provisioning option *second server* (another node of a cluster)
    goes into Yealink's server 2 and Poly's; the simulated phones, reading
    their own settings, register there when the first does not answer.
    snom takes none (docs/scaling.md: DNS SRV).  Cleared again, it is gone."""
    sims = await start_devices([spec(0, "yealink"), spec(1, "poly"), spec(2, "snom")])
    try:
        assert server.provisioner is not None
        await web_password(server)
        await repo.set_path(server.db, "provisioning.second_server", "127.0.0.1:5999")
        outcomes = await server.provisioner.push(targets(sims))
        assert [o.state for o in outcomes] == ["done"] * 3, outcomes

        def backups() -> dict[str, tuple[tuple[str, int], ...]]:
            return {p.config.vendor: p.config.backup_servers for p in sims.phones()}

        second = (("127.0.0.1", 5999),)
        await eventually(lambda: len(backups()) == 3, timeout=10)
        assert backups() == {"yealink": second, "poly": second, "snom": ()}
        await repo.set_path(server.db, "provisioning.second_server", "")
        outcomes = await server.provisioner.push(targets(sims))
        assert [o.state for o in outcomes] == ["done"] * 3, outcomes
        await eventually(
            lambda: len(backups()) == 3 and all(b == () for b in backups().values()), timeout=10
        )
    finally:
        await sims.stop()


@pytest.mark.both_loops
async def test_tls_with_our_ca(server: UacstaServer) -> None:
    """Over TLS a Poly phone gets our CA in its settings, a Yealink loads it
    from the configuration server, and both check the server's certificate
    with it; the Gigaset cannot do TLS."""
    sims = await start_devices([spec(0, "poly"), spec(1, "gigaset"), spec(2, "yealink")])
    try:
        assert server.provisioner is not None and server.phones is not None
        await web_password(server)
        await repo.set_path(server.db, "provisioning.transport", "TLS")
        poly, gigaset, yealink = await server.provisioner.push(targets(sims))
        assert poly.state == "done", poly
        assert yealink.state == "done", yealink
        assert gigaset.state == "failed" and "TCP only" in gigaset.detail
        device = sims.devices[0]
        assert "BEGIN CERTIFICATE" in device.settings["device.sec.TLS.customCaCert1"]
        await eventually(lambda: len(device.phones) == 1, timeout=5)
        phone = device.phones[0]
        assert phone.config.tls is not None
        assert phone.config.tls.verify_mode == ssl.CERT_REQUIRED
        assert phone.config.server_port == server.phones.port("lan", "TLS")
        await eventually(
            lambda: getattr(server.directory.get(device.mac), "status", "") == "controllable",
            timeout=10,
        )
        ylink = sims.devices[2]
        assert ylink.settings["trusted_certificates.url"].endswith("/ca.pem")
        await eventually(lambda: len(ylink.phones) == 1, timeout=5)
        assert server.certificates.paths is not None and server.certificates.paths.ca is not None
        assert ylink.trusted_ca == server.certificates.paths.ca.read_text()
        tls = ylink.phones[0].config.tls
        assert tls is not None and tls.verify_mode == ssl.CERT_REQUIRED
        await eventually(
            lambda: getattr(server.directory.get(ylink.mac), "status", "") == "controllable",
            timeout=10,
        )
    finally:
        await sims.stop()


@pytest.mark.advanced(auto_enable=False)
async def test_provided_phones_are_put_into_operation(server: UacstaServer) -> None:
    """With automatic operation off, a phone the administrator provided is
    enabled all the same (a phone registering by itself is not)."""
    sims = await start_devices([spec(0, "snom")])
    try:
        assert server.provisioner is not None
        await web_password(server)
        await server.provisioner.push(targets(sims))
        mac = sims.devices[0].mac
        await eventually(
            lambda: getattr(server.directory.get(mac), "status", "") == "controllable", timeout=10
        )
        phone = server.directory.get(mac)
        assert phone is not None and phone.enabled
    finally:
        await sims.stop()


async def test_a_vendor_of_its_own_login(server: UacstaServer) -> None:
    """Poly phones with their own web login beside the common one; the
    command line's --web-password is one login for every phone."""
    sims = await start_devices([spec(0, "snom"), spec(1, "poly", web_password="456")])
    try:
        assert server.provisioner is not None
        await web_password(server)
        admin = server.admin
        await admin.set_vendor_login("poly", "admin", "456")
        outcomes = await server.provisioner.push(targets(sims))
        assert [o.state for o in outcomes] == ["done", "done"], outcomes
        # removed: the common login applies to Poly again, and it is refused
        await admin.set_vendor_login("poly", "", "")
        (poly,) = await server.provisioner.push(targets(sims)[1:])
        assert poly.state == "failed" and "refused the login" in poly.detail
        # one login for all, given for one run
        (poly,) = await server.provisioner.push(
            targets(sims)[1:], overrides={"web_password": "456"}
        )
        assert poly.state == "done", poly
    finally:
        await sims.stop()


@pytest.mark.admin_ui
async def test_restart_the_selected_phones_from_the_telephone_list(server: UacstaServer) -> None:
    """Bulk restart: each selected phone at the address it registered from,
    on the web port it was provided on; a Gigaset base once for both its
    handsets; a phone not selected is left alone; each comes back
    controllable."""
    sims = await start_devices([spec(0, "snom"), spec(1, "yealink"), spec(2, "gigaset")])
    try:
        assert server.provisioner is not None and server.admin_ui is not None
        await web_password(server)
        outcomes = await server.provisioner.push(targets(sims))
        assert [o.state for o in outcomes] == ["done"] * 3, outcomes
        await eventually(lambda: len(sims.phones()) == 4, timeout=10)
        macs = users(sims)

        def controllable() -> bool:
            return all(
                getattr(server.directory.get(m), "status", "") == "controllable" for m in macs
            )

        await eventually(controllable, timeout=15)
        boots = [d.boots for d in sims.devices]
        snom, _, gigaset = sims.devices
        chosen = [snom.mac] + [p.mac for p in gigaset.phones]  # not the Yealink
        url = f"http://127.0.0.1:{server.admin_ui.port('web UI', 'HTTP')}"
        async with httpx.AsyncClient(base_url=url, auth=("admin", ADMIN_PASSWORD)) as api:
            refused = await api.post("/api/phones/restart", json={"macs": ["000413FFFFFF"]})
            assert refused.status_code == 404 and "no telephone" in refused.text
            started = await api.post("/api/phones/restart", json={"macs": chosen})
            assert started.status_code == 202, started.text
            job = started.json()
            assert job["kind"] == "restart" and job["total"] == 2  # the base once

            async def finished() -> bool:
                r = await api.get(f"/api/provisioning/jobs/{job['id']}")
                return bool(r.json()["done"])

            await eventually(finished, timeout=10)
            results = (await api.get(f"/api/provisioning/jobs/{job['id']}")).json()["results"]
        assert sorted((r["ip"], r["state"]) for r in results) == [
            (snom.spec.ip, "done"),
            (gigaset.spec.ip, "done"),
        ]
        await eventually(lambda: snom.boots == boots[0] + 1 and gigaset.boots == boots[2] + 1)
        assert sims.devices[1].boots == boots[1] and sims.devices[1].restarts_asked == 1
        await eventually(lambda: len(sims.phones()) == 4, timeout=10)
        await eventually(controllable, timeout=15)
    finally:
        await sims.stop()
