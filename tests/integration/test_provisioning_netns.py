"""Find, provide and delete on a phone network of the test's own (a network
namespace behind a veth pair and a bridge): the simulator's phones of every
vendor answer the OPTIONS broadcast and multicast, a booting one sends its
plug-and-play SUBSCRIBE, and the server finds, provides and releases them all.
The server runs here; the simulator inside the namespace."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import eventually, make_config, prepare_store
from tests.helpers.netns import PhoneNet, phone_network
from tests.helpers.process import free_port
from uacsta.provisioning.discovery import Sighting
from uacsta.provisioning.provisioner import Target
from uacsta.server import UacstaServer
from uacsta.store import repo

WEB_PASSWORD = "w3b-pass"
DEVICES: list[dict[str, Any]] = [
    {"vendor": "snom", "mac": "000413A00001"},
    {"vendor": "yealink", "mac": "805EC0A00002"},
    {"vendor": "mitel", "mac": "00085DA00003"},
    {"vendor": "poly", "mac": "0004F2A00004"},
    {"vendor": "auerswald", "mac": "000952A00005"},
    {"vendor": "gigaset", "mac": "7C2F8EA00006", "handsets": 3},
    # answers no OPTIONS: found only by the SUBSCRIBE it sends when it boots
    {"vendor": "yealink", "mac": "001565A00007", "answers_options": False},
    # refuses every change, in Poly's way (a status other than 2000)
    {"vendor": "poly", "mac": "64167FA00008", "fault": "write"},
    # another web password than the options' one
    {"vendor": "snom", "mac": "000413A00009", "web_password": "not-ours"},
]
PNP_ONLY, REFUSES_CHANGES, OTHER_PASSWORD = 6, 7, 8
GOOD = [i for i in range(len(DEVICES)) if i not in (REFUSES_CHANGES, OTHER_PASSWORD)]
MODELS = {
    "snom": "D785",
    "yealink": "SIP-T54W",
    "mitel": "6869i",
    "poly": "VVX 411",
    "auerswald": "COMfortel 2600 IP",
    "gigaset": "N870 IP PRO",
}


SIM_LOG: dict[str, Path] = {}  # the simulator's log: what its phones did


def booted_without_account(mac: str) -> bool:
    """The simulated device has booted since and found no uaCSTA account."""
    return f"{mac}: started, 0 uaCSTA accounts" in SIM_LOG["path"].read_text()


@pytest.fixture(scope="module")
def net() -> Iterator[PhoneNet]:
    with phone_network(len(DEVICES)) as created:
        yield created


@pytest.fixture(scope="module")
def sim(net: PhoneNet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhoneNet]:
    folder = tmp_path_factory.mktemp("sim")
    devices = [
        {
            "ip": net.phone_ip(i),
            "web_password": WEB_PASSWORD,
            "numbers": [f"4{i}0", f"4{i}1", f"4{i}2"],
            "boot_seconds": 0.3,
            **d,
        }
        for i, d in enumerate(DEVICES)
    ]
    proc = net.sim(devices, folder)
    SIM_LOG["path"] = folder / "sim.log"
    try:
        # up when every web interface answers
        for i in range(len(DEVICES)):
            _wait_port(net.phone_ip(i), 80, proc, folder)
        yield net
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        sys.stderr.write((folder / "sim.log").read_text()[-4000:])


def _wait_port(ip: str, port: int, proc: subprocess.Popen[bytes], folder: Path) -> None:
    import socket
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the simulator stopped: {(folder / 'sim.log').read_text()}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex((ip, port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"simulated phone {ip} not up")


@pytest.fixture
async def server(sim: PhoneNet, tmp_path: Path) -> AsyncIterator[UacstaServer]:
    await prepare_store(tmp_path / "data")
    from uacsta.store.db import Database

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'uacsta.db'}")
    # the phone connection on the test network's host side
    await repo.set_path(db, "phone_connection.lan.address", f'"{sim.host_ip}"')
    # fixed ports: the CLI, another process, provides phones with them
    await repo.set_path(db, "phone_connection.lan.tcp_port", str(free_port()))
    await repo.set_path(db, "provisioning.http_port", str(free_port()))
    await db.close()
    srv = UacstaServer(make_config(tmp_path / "data"))
    await srv.start()
    assert srv.box is not None
    await repo.set_secret(srv.db, srv.box, repo.PHONE_WEB_PASSWORD, WEB_PASSWORD)
    try:
        yield srv
    finally:
        await srv.stop()


async def reboot_by_web(ip: str) -> None:
    """Press the reboot button of a Yealink phone's web interface."""
    async with httpx.AsyncClient(base_url=f"http://{ip}", trust_env=False) as http:
        r = await http.post(
            "/servlet",
            params={"m": "mod_listener", "p": "login", "q": "loginForm"},
            data={"username": "admin", "pwd": WEB_PASSWORD},
        )
        assert r.status_code == 200 and http.cookies.get("JSESSIONID")
        r = await http.post(
            "/servlet", params={"m": "mod_data", "p": "settings-upgrade", "q": "reboot"}
        )
        assert r.json() == {"ret": "ok"}


async def test_find_provide_delete(server: UacstaServer, sim: PhoneNet) -> None:
    assert server.provisioner is not None
    progress: list[str] = []
    live: list[Sighting] = []

    def report(kind: str, payload: object) -> None:
        if kind == "progress":
            progress.append(str(payload))
        elif kind == "found":
            assert isinstance(payload, Sighting)
            live.append(payload)

    pnp_only = sim.phone_ip(PNP_ONLY)
    unreachable = sim.prefix + "99"  # on the network, nobody there
    search = asyncio.create_task(
        server.provisioner.find(sim.host_ip, [unreachable], duration=4.0, report=report)
    )
    # the search listens (and has sent its OPTIONS) before the phone boots
    await eventually(lambda: any("listening" in line for line in progress))
    await reboot_by_web(pnp_only)  # boots while we search: its SUBSCRIBE is heard
    found = {s.ip: s for s in await search}

    for i, device in enumerate(DEVICES):
        seen = found.get(sim.phone_ip(i))
        assert seen is not None, (i, sorted(found))
        expected = "PnP SUBSCRIBE" if i == PNP_ONLY else "OPTIONS"
        assert seen.source.startswith(expected), seen
        # vendor, model and firmware from the SIP answer; the web interface confirms
        assert (seen.vendor, seen.model) == (device["vendor"], MODELS[device["vendor"]]), seen
        assert seen.firmware
        if i == OTHER_PASSWORD:  # its MAC stays unknown, and the list says why
            assert seen.mac == "" and "refused the login" in seen.source, seen
        else:
            assert seen.mac == device["mac"] and "web interface" in seen.source, seen
    assert found[unreachable].mac == "" and "web interface" in found[unreachable].source
    assert {s.ip for s in live} == set(found)  # each reported as it came
    assert any("OPTIONS to" in p for p in progress) and progress[-1].startswith("search finished")

    targets = [Target(s.ip, s.vendor, s.mac) for s in found.values()]
    outcomes = {o.ip: o for o in await server.provisioner.push(targets)}
    # each fault its own clear result; every other phone provided
    assert outcomes[unreachable].state == "failed"
    assert f"cannot reach the web interface at {unreachable}" in outcomes[unreachable].detail
    refusing = outcomes[sim.phone_ip(REFUSES_CHANGES)]
    assert refusing.state == "failed" and refusing.mac == "64167FA00008"
    assert "status 4007" in refusing.detail and "locked" in refusing.detail
    other = outcomes[sim.phone_ip(OTHER_PASSWORD)]
    assert other.state == "failed" and "refused the login" in other.detail
    assert [outcomes[sim.phone_ip(i)].state for i in GOOD] == ["done"] * len(GOOD)

    # 6 phones + 3 handsets, each registered from its own address and controllable
    users = [DEVICES[i]["mac"] for i in GOOD if DEVICES[i]["vendor"] != "gigaset"]
    users += [f"58gEC60006{h:02X}" for h in (1, 2, 3)]

    def status(mac: str) -> str:
        phone = server.directory.get(mac)
        return phone.status if phone is not None else "unknown"

    await eventually(lambda: all(status(m) == "controllable" for m in users), timeout=20)
    for i in GOOD:
        if DEVICES[i]["vendor"] != "gigaset":
            phone = server.directory.get(DEVICES[i]["mac"])
            assert phone is not None and phone.last_ip == sim.phone_ip(i)
    assert server.directory.get("64167FA00008") is None  # never provided, never registered

    provided = [t for t in targets if t.ip in {sim.phone_ip(i) for i in GOOD}]
    outcomes = {o.ip: o for o in await server.provisioner.delete(provided)}
    assert all(o.state == "done" for o in outcomes.values()), outcomes
    await eventually(lambda: all(status(m) == "offline" for m in users), timeout=20)
    # and after their restart they stay away: each has booted with no account left
    macs = [DEVICES[i]["mac"] for i in GOOD]
    await eventually(lambda: all(booted_without_account(m) for m in macs), timeout=20)
    assert all(status(m) == "offline" for m in users)


async def test_cli_find_push_delete(server: UacstaServer, sim: PhoneNet, tmp_path: Path) -> None:
    """``uacsta provision`` for scripted roll-outs, against the same store."""
    env = {"UACSTA_DATA_DIR": str(tmp_path / "data"), "UACSTA_ADMIN_LISTEN": ""}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        import os

        return subprocess.run(
            [sys.executable, "-m", "uacsta", "provision", *args],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=90,
        )

    found = await asyncio.to_thread(
        cli, "find", "--interface", sim.host_ip, "--duration", "2", "--json"
    )
    assert found.returncode == 0, found.stderr
    listed = {s["ip"]: s for s in json.loads(found.stdout)}
    assert listed[sim.phone_ip(0)]["mac"] == "000413A00001"
    assert listed[sim.phone_ip(3)]["vendor"] == "poly"
    assert "search finished" in found.stderr

    bad = await asyncio.to_thread(cli, "find", "--interface", "192.0.2.1")
    assert bad.returncode == 2 and "not an address of this host" in bad.stderr

    two = [sim.phone_ip(0), sim.phone_ip(3)]
    pushed = await asyncio.to_thread(cli, "push", *two, "--no-restart")
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    lines = pushed.stdout.splitlines()
    assert len(lines) == 2 and all("needs restart" in line for line in lines), lines
    wrong = await asyncio.to_thread(cli, "push", sim.phone_ip(1), "--web-password", "nope")
    assert wrong.returncode == 1 and "refused the login" in wrong.stdout
    deleted = await asyncio.to_thread(cli, "delete", *two, "--no-restart", "--json")
    assert deleted.returncode == 0, deleted.stderr
    assert [o["state"] for o in json.loads(deleted.stdout)] == ["needs restart"] * 2
    assert await repo.list_provisioned(server.db) == []
