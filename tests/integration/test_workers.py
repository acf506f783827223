"""``uacsta serve --workers 2``: the real command, two worker processes on
the same phone and client ports (SO_REUSEPORT) and a local nats-server the
supervisor starts.  Phones land on both workers; a client on either port
controls them all; a worker killed with SIGKILL is started again by the
supervisor and its phones come back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

from tests.conftest import CLIENT_LOGIN, CLIENT_PASSWORD, PHONE_PASSWORD, eventually
from tests.helpers.process import UacstaProcess
from tests.helpers.typed_client import CstaError, UacstaClient
from uacsta.sim.phone import SimPhone, SimPhoneConfig
from uacsta.sim.switch import SimSwitch

PHONES = 16


def status(node: UacstaProcess) -> dict[str, object]:
    result: dict[str, object] = json.loads(node.cli("status", "--json").stdout)
    return result


async def set_dnd_when_back(client: UacstaClient, device: str, on: bool) -> None:
    """Set DND once the device's phone is back (it may be registering with
    the worker that is left, or the client's session resuming there)."""
    async with asyncio.timeout(60):
        while True:
            try:
                await client.set_dnd(device, on)
                return
            except (CstaError, ConnectionError):
                await asyncio.sleep(0.2)


def children(parent: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                out.append(int(entry.name))
    return out


def worker_pid(supervisor: int, number: int) -> int:
    """The worker's process, by the node name its supervisor gave it; 0: none."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == supervisor and any(
            v.startswith(b"UACSTA_NODE_NAME=") and v.endswith(f"-{number}".encode())
            for v in environ
        ):
            return int(entry.name)
    return 0


def cluster_phones(node: UacstaProcess) -> dict[str, int]:
    """Phones with a dialog up on each live worker, as worker 1 sees it ({}:
    worker 1 not answering, while it is started again)."""
    try:
        cluster = status(node)["cluster"]
    except AssertionError:
        return {}
    assert isinstance(cluster, dict)
    return {n["name"]: n["phones"] for n in cluster["nodes"] if n["alive"]}


async def test_two_workers_share_the_ports_and_stand_in_for_each_other(tmp_path: Path) -> None:
    node = UacstaProcess(tmp_path / "data")
    node.env["UACSTA_NODE_NAME"] = "w"
    node.env["UACSTA_CLUSTER_DEAD_AFTER"] = "2"
    node.env["UACSTA_CONSOLE_LOG_LEVEL"] = "WARNING"
    await asyncio.to_thread(node.configure, PHONE_PASSWORD)
    await asyncio.to_thread(node.configure_clients, CLIENT_LOGIN, CLIENT_PASSWORD)
    await asyncio.to_thread(node.configure_cli, "settings", "set", "provisioning.http_port", "0")
    await asyncio.to_thread(node.start, "--workers", "2")
    assert node.proc is not None
    switch = SimSwitch()
    phones = [
        SimPhone(
            SimPhoneConfig(
                "snom",
                f"0004130003{i:02X}",
                [f"sip:3{i:02d}@pbx.example"],
                PHONE_PASSWORD,
                "127.0.0.1",
                node.tcp_port,
            )
        )
        for i in range(1, PHONES + 1)
    ]
    for phone in phones:
        switch.attach(phone)
    client: UacstaClient | None = None
    number = 0
    try:
        await eventually(
            lambda: asyncio.to_thread(lambda: len(cluster_phones(node)) == 2), timeout=30
        )
        await asyncio.gather(*(p.start() for p in phones))
        # Worker 1 (the admin UI's) knows every phone, on itself or on worker 2.
        await eventually(
            lambda: asyncio.to_thread(lambda: sum(cluster_phones(node).values()) == PHONES),
            timeout=30,
        )
        spread = await asyncio.to_thread(cluster_phones, node)
        assert set(spread) == {"w-1", "w-2"} and all(spread.values()), spread
        # The local nats-server's token is in a file of this user's alone, not on
        # its command line (every local user reads those).
        conf = node.data_dir / "nats" / "nats.conf"
        assert conf.stat().st_mode & 0o077 == 0 and "token" in conf.read_text()
        nats_cmdlines = [
            (Path("/proc") / str(pid) / "cmdline").read_bytes()
            for pid in children(node.proc.pid)
            if b"nats-server" in (Path("/proc") / str(pid) / "cmdline").read_bytes()
        ]
        assert len(nats_cmdlines) == 1 and b"auth" not in nats_cmdlines[0]
        client = UacstaClient(
            f"ws://127.0.0.1:{node.client_http_port}/api/v1/ws", CLIENT_LOGIN, CLIENT_PASSWORD
        )
        await client.connect()
        xrefs = {i: await client.monitor(f"3{i:02d}") for i in range(1, PHONES + 1)}
        seen: dict[str, list[str]] = {x: [] for x in xrefs.values()}
        seqs: list[int] = []

        async def read_until(done: Callable[[], bool]) -> None:
            assert client is not None
            while not done():
                event = await client.next_event()
                seqs.append(event.seq)
                xref = getattr(event.csta, "monitorCrossRefID", None)
                if xref in seen:
                    seen[xref].append(type(event.csta).__name__)

        # every monitor running (in its phone, through whichever worker owns it)
        async with asyncio.timeout(20):
            await read_until(lambda: all("BackInServiceEvent" in s for s in seen.values()))
        for i in xrefs:
            await client.set_dnd(f"3{i:02d}", True)
        async with asyncio.timeout(20):
            await read_until(lambda: all("DoNotDisturbEvent" in s for s in seen.values()))

        # SIGKILL the worker the client is not on: the supervisor starts it
        # again, and its phones come back.
        def clients_on() -> dict[str, int]:
            cluster = status(node)["cluster"]
            assert isinstance(cluster, dict)
            return {n["name"]: n["clients"] for n in cluster["nodes"]}

        # (the other worker's count comes with its next heartbeat)
        await eventually(
            lambda: asyncio.to_thread(lambda: sorted(clients_on().values()) == [0, 1]), timeout=10
        )
        on = await asyncio.to_thread(clients_on)
        number = 1 if on["w-1"] == 0 else 2
        lost = spread[f"w-{number}"]
        supervisor = node.proc.pid
        victim = worker_pid(supervisor, number)
        assert victim
        os.kill(victim, signal.SIGKILL)
        await eventually(lambda: worker_pid(supervisor, number) not in (0, victim), timeout=30)

        def recovered() -> bool:
            # every phone of the killed worker out of service, and every monitor back
            # (each began with a BackInService; one more after each OutOfService)
            hit = sum(1 for s in seen.values() if "OutOfServiceEvent" in s)
            return hit >= lost and all(
                s.count("OutOfServiceEvent") + 1 == s.count("BackInServiceEvent")
                for s in seen.values()
            )

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(60):
                await read_until(recovered)
        assert recovered(), seen
        await eventually(
            lambda: asyncio.to_thread(lambda: sum(cluster_phones(node).values()) == PHONES),
            timeout=30,
        )
        # Now the worker the client is on: its session resumes on the other
        # one (the same address: the kernel hands the new connection to the
        # worker that is left), every monitor with it; nothing lost or twice.
        session = client.link.session
        victim = worker_pid(supervisor, 3 - number)
        os.kill(victim, signal.SIGKILL)
        for i in xrefs:
            await set_dnd_when_back(client, f"3{i:02d}", False)
        async with asyncio.timeout(60):
            await read_until(lambda: all(s.count("DoNotDisturbEvent") >= 2 for s in seen.values()))
        assert all(s.count("DoNotDisturbEvent") == 2 for s in seen.values()), seen
        # the same session, its events numbered on by one across both kills
        assert client.link.session == session
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    finally:
        if client is not None:
            await client.close()
        for phone in phones:
            await phone.stop()
        await asyncio.to_thread(node.stop)
    out = node.output()
    assert f"worker {number} ended (exit code -9); starting it again" in out, out[-3000:]
    # one writer per log file: worker 1's is the admin UI's uacsta.log
    logs = node.data_dir / "logs"
    assert (logs / "uacsta.log").stat().st_size and (logs / "uacsta-w-2.log").stat().st_size
