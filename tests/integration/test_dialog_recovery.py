"""A lapsed uaCSTA dialog comes back by itself: 300 simulated phones in a
process of their own stop answering for 17 s (SIGSTOP: a busy phone, a stalled
network) while keeping their TCP connections and registrations, then answer
again (SIGCONT).  Every phone must be controllable again within two keep-alive
intervals, and every watching client must have heard OutOfService and then
BackInService for each device."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import defaultdict

import pytest

from tests.conftest import CLIENT_LOGIN, CLIENT_PASSWORD, PHONE_PASSWORD, eventually
from tests.helpers.typed_client import UacstaClient
from tests.integration.switching import ws_url
from uacsta.phones.lifecycle import Phase
from uacsta.server import UacstaServer

PHONES = 300
KEEPALIVE = 10  # seconds, the shortest the settings allow
PAUSE = 17.0


@pytest.mark.advanced(keepalive=KEEPALIVE)
@pytest.mark.timeout(240)
async def test_300_phones_that_stop_answering_come_back_by_themselves(
    server: UacstaServer,
) -> None:
    assert server.phones is not None and server.sessions is not None
    sessions, sf = server.sessions, server.switching
    assert sf is not None
    sim = await asyncio.create_subprocess_exec(
        *[
            sys.executable,
            "-m",
            "uacsta",
            "sim",
            "--server",
            f"127.0.0.1:{server.phones.port('lan', 'TCP')}",
            "--phones",
            str(PHONES),
            "--password",
            PHONE_PASSWORD,
            "--ramp",
            "300",
            "--duration",
            "120",
        ],
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    client = UacstaClient(ws_url(server), CLIENT_LOGIN, CLIENT_PASSWORD)
    try:
        await eventually(lambda: sessions.dialogs_up == PHONES, timeout=60)
        await eventually(lambda: len(sf.devices) == PHONES, timeout=10)
        await client.connect()
        seen: dict[str, list[str]] = defaultdict(list)
        xrefs = [await client.monitor(d.key) for d in sf.devices.all()]

        async def read() -> None:
            async for event in client.events():
                xref = getattr(event.csta, "monitorCrossRefID", None)
                if isinstance(xref, str):
                    seen[xref].append(type(event.csta).__name__)

        reader = asyncio.get_running_loop().create_task(read())
        await eventually(lambda: all("BackInServiceEvent" in seen[x] for x in xrefs), timeout=30)
        os.kill(sim.pid, signal.SIGSTOP)
        stopped = time.monotonic()
        # the keep-alives go unanswered: every dialog lapses, the phones stay registered
        await eventually(lambda: sessions.dialogs_up == 0, timeout=KEEPALIVE + 10)
        assert len(server.registrar.bindings) == PHONES
        await asyncio.sleep(max(0.0, stopped + PAUSE - time.monotonic()))  # the stall lasts 17 s
        assert all(ln.phase in (Phase.RECOVERING, Phase.INVITING) for ln in sessions.lines.values())
        os.kill(sim.pid, signal.SIGCONT)
        resumed = time.monotonic()
        await eventually(lambda: sessions.dialogs_up == PHONES, timeout=2 * KEEPALIVE)
        took = time.monotonic() - resumed
        print(f"all {PHONES} phones controllable again {took:.1f} s after they answered")
        await eventually(
            lambda: all(
                seen[x][-1] == "BackInServiceEvent" and "OutOfServiceEvent" in seen[x]
                for x in xrefs
            ),
            timeout=2 * KEEPALIVE,
        )
        assert all((status := p.status) == "controllable" for p in server.directory.all()), status
        reader.cancel()
    finally:
        if sim.returncode is None:
            os.kill(sim.pid, signal.SIGCONT)
            sim.terminate()
            try:
                await asyncio.wait_for(sim.wait(), 10)
            except TimeoutError:
                sim.kill()
                await sim.wait()
        await client.close()
