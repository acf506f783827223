"""Floods against the real server on loopback: bounded in count and time."""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
import pytest

from tests.conftest import PHONE_PASSWORD, eventually
from tests.helpers.sipphone import SipPhone
from uacsta.server import UacstaServer
from uacsta.sip.message import Response


async def guess(phone: SipPhone, mac: str, password: str) -> Response:
    """One REGISTER with a digest answer for ``mac`` and ``password``."""
    return await phone.register(password, user=mac)


async def test_brute_force_by_rotating_the_mac_is_refused(server: UacstaServer) -> None:
    """Probe 1: 300 MACs x 9 guesses from one source ran at 1,392 guesses/s
    with no lock-out.  Now the source is refused after 20 wrong answers,
    whatever the user names, while a phone that works from the same address
    (many phones behind one NAT) keeps registering."""
    assert server.phones is not None
    port = server.phones.port("lan", "TCP")
    good = SipPhone("000413000100")
    await good.connect(port)
    assert (await good.register(PHONE_PASSWORD)).status == 200
    attacker = SipPhone("000413000101")
    await attacker.connect(port)
    statuses: list[int] = []
    try:
        for i in range(300):  # bounded: 300 user names, one guess each
            statuses.append((await guess(attacker, f"0004131{i:05X}", f"guess{i}")).status)
        assert statuses[:20].count(401) == 20  # each wrong answer challenged again...
        assert set(statuses[21:]) == {403}  # ...then the whole source is refused
        # the right password from the locked source, for a user never seen: refused too
        assert (await guess(attacker, "000413000FFF", PHONE_PASSWORD)).status == 403
        # the working phone refreshes through the lock
        assert (await good.register(PHONE_PASSWORD)).status == 200
    finally:
        await attacker.close()
        await good.close()


@pytest.mark.admin_ui
async def test_wrong_admin_passwords_do_not_slow_the_phones(server: UacstaServer) -> None:
    """Probe 7: argon2 on the event loop took SIP OPTIONS latency from 0.7 ms to
    a median of 321 ms under wrong admin logins from 20 addresses."""
    assert server.admin_ui is not None and server.phones is not None
    admin = f"http://127.0.0.1:{server.admin_ui.port('web UI', 'HTTP')}"
    phone = SipPhone("000413000200")
    await phone.connect(server.phones.port("lan", "TCP"))

    async def options_latency() -> float:
        req = phone.register_request()
        req.method, req.uri = "OPTIONS", "sip:uacsta.test"
        req.headers.set("CSeq", f"{phone.cseq} OPTIONS")
        began = time.perf_counter()
        await phone.send(req)
        await phone.response()
        return time.perf_counter() - began

    stop = asyncio.Event()
    answered = [0]  # wrong logins answered so far, all sources

    async def flood(source: int) -> int:
        sent = 0
        async with httpx.AsyncClient(timeout=10) as http:
            while not stop.is_set() and sent < 40:  # bounded per source
                await http.get(
                    f"{admin}/api/phones",
                    auth=(f"admin{source}", "wrong-password"),
                    headers={"x-forwarded-for": f"10.9.0.{source}"},
                )
                sent += 1
                answered[0] += 1
        return sent

    try:
        floods = [asyncio.get_running_loop().create_task(flood(i)) for i in range(20)]
        await eventually(lambda: answered[0] >= 20)  # the flood is under way
        latencies = [await options_latency() for _ in range(30)]
        stop.set()
        sent = sum(await asyncio.gather(*floods))
        median = statistics.median(latencies)
        print(
            f"OPTIONS median {median * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms "
            f"under {sent} wrong admin logins"
        )
        assert median < 0.050
    finally:
        await phone.close()
