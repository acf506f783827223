"""`uacsta sim`'s run with call traffic: phones calling each other at a rate,
the load for event throughput, seen by a CTI client through the server."""

from __future__ import annotations

import asyncio

from tests.conftest import CLIENT_LOGIN, CLIENT_PASSWORD, PHONE_PASSWORD, eventually
from tests.helpers.typed_client import UacstaClient
from tests.integration.switching import ws_url
from uacsta.csta import model as m
from uacsta.server import UacstaServer
from uacsta.sim.runner import SimOptions, run


async def test_phones_call_each_other_at_a_rate(server: UacstaServer) -> None:
    assert server.phones is not None and server.switching is not None
    sf = server.switching
    opts = SimOptions(
        host="127.0.0.1",
        port=server.phones.port("lan", "TCP"),
        password=PHONE_PASSWORD,
        phones=6,
        ramp=0,
        duration=4.0,
        calls_per_second=8,
        call_seconds=0.3,
    )
    simulation = asyncio.create_task(run(opts))
    await eventually(lambda: len(sf.devices) == 6)
    established = 0
    async with UacstaClient(ws_url(server), CLIENT_LOGIN, CLIENT_PASSWORD) as client:
        for device in sf.devices.all():
            await client.monitor(device.id.value)
        try:
            async with asyncio.timeout(3.5):
                async for event in client.events():
                    if isinstance(event.csta, m.EstablishedEvent):
                        established += 1
        except TimeoutError:
            pass
    report = await simulation
    assert report.registered == 6 and report.dialogs == 6
    assert report.calls_made >= 5
    assert report.events_sent > 0
    assert established >= 2  # each answered call: Established at both ends
    assert "calls made" in report.line()
