"""The switchboard in Chromium with 500 devices (50 phones of 10 lines).

Starts ``uacsta serve``, registers the simulated phones in this process,
opens ``/switchboard`` in Debian's chromium (Playwright), logs in and prints,
each as min / median / max over the rounds:

- login to all 500 tiles drawn, and to all 500 devices watched (a
  MonitorStart each, 32 at a time);
- a call made by another client through the JSON API: from its MakeCall to
  the called device's tile ringing on the page, and from the ringing event at
  that other client to the tile (the page's own delay);
- the page's JavaScript heap after the calls.

Limits: the page usable (every device watched) within 5 s of the login; an
event on its tile within 100 ms of the server sending it.

    uv run python bench/switchboard.py [--rounds 3] [--calls 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from playwright.async_api import Page, async_playwright, expect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from common import UacstaServer, against_server  # noqa: E402
from scale import wait_until  # noqa: E402
from uacsta_client import Client  # noqa: E402

from uacsta.sim.phone import SimPhone, SimPhoneConfig  # noqa: E402
from uacsta.sim.switch import SimSwitch  # noqa: E402

PASSWORD = "bench-password-1"
CLIENT = ("board", "bench-client-pw-1")
PHONES, LINES = 50, 10
LOGIN_LIMIT, EVENT_LIMIT = 5.0, 0.1
TIMEOUT = 60_000


def spread(values: list[float]) -> str:
    return (
        f"{min(values) * 1e3:.0f} / {statistics.median(values) * 1e3:.0f} / "
        f"{max(values) * 1e3:.0f} ms"
    )


async def log_in(page: Page, base: str) -> tuple[float, float]:
    await page.goto(f"{base}/switchboard/")
    await page.get_by_label("Client login").fill(CLIENT[0])
    await page.get_by_label("Password").fill(CLIENT[1])
    began = time.monotonic()
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator(".tile")).to_have_count(PHONES * LINES, timeout=TIMEOUT)
    drawn = time.monotonic() - began
    await expect(page.locator("body")).to_have_attribute(
        "data-monitored", str(PHONES * LINES), timeout=TIMEOUT
    )
    return drawn, time.monotonic() - began


async def one_call(page: Page, other: Client, caller: int, called: int) -> tuple[float, float]:
    """(MakeCall → tile ringing, ringing event at the other client → tile)."""
    xref = await other.monitor(str(called))
    while (await other.next_event()).kind != "BackInServiceEvent":
        pass
    tile = page.locator(f".tile[data-device='{called}']")
    began = time.monotonic()
    shown = asyncio.create_task(
        expect(tile).to_have_attribute("data-state", "ringing", timeout=TIMEOUT)
    )
    call = await other.make_call(str(caller), str(called))
    while True:
        event = await other.next_event()
        if event.kind == "DeliveredEvent" and event.monitor == xref:
            seen = time.monotonic()
            break
    await shown
    at_page = time.monotonic()
    await other.clear(str(caller), call)
    await expect(tile).to_have_attribute("data-state", "idle", timeout=TIMEOUT)
    await other.monitor_stop(xref)
    return at_page - began, max(0.0, at_page - seen)


async def run(args: argparse.Namespace, server: UacstaServer) -> None:
    switch = SimSwitch()
    phones = []
    for i in range(PHONES):
        lines = [f"sip:{201 + i * LINES + n}@pbx.example" for n in range(LINES)]
        phone = SimPhone(
            SimPhoneConfig("snom", f"000413{i:06X}", lines, PASSWORD, "127.0.0.1", server.tcp)
        )
        switch.attach(phone)
        phones.append(phone)
    began = time.monotonic()
    await asyncio.gather(*(p.start() for p in phones))
    await wait_until(lambda: all(p.dialog is not None for p in phones), 120)
    print(f"{PHONES} phones of {LINES} lines up after {time.monotonic() - began:.1f} s")
    chromium = os.environ.get("UACSTA_CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    base = f"http://127.0.0.1:{server.http}"
    url = f"ws://127.0.0.1:{server.http}/api/v1/ws"
    drawn, watched, to_tile, lag, heap = [], [], [], [], []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for _ in range(args.rounds):
            context = await browser.new_context(viewport={"width": 1400, "height": 900})
            page = await context.new_page()
            d, w = await log_in(page, base)
            drawn.append(d)
            watched.append(w)
            async with Client(url, *CLIENT) as other:
                for n in range(args.calls):
                    caller = 201 + (n * 37) % (PHONES * LINES)
                    called = 201 + (n * 53 + 250) % (PHONES * LINES)
                    if caller // LINES == called // LINES:
                        called = 201 + (called - 201 + LINES) % (PHONES * LINES)
                    total, own = await one_call(page, other, caller, called)
                    to_tile.append(total)
                    lag.append(own)
            used = await page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0")
            heap.append(float(used))
            await context.close()
        await browser.close()
    for phone in phones:
        await phone.stop()
    n = PHONES * LINES
    print(f"login to {n} tiles drawn: {spread(drawn)}")
    print(f"login to {n} devices watched: {spread(watched)}; limit {LOGIN_LIMIT:.0f} s")
    print(f"MakeCall to the called tile ringing: {spread(to_tile)}")
    limit = f"limit {EVENT_LIMIT * 1e3:.0f} ms"
    print(f"ringing event (at another client) to the tile: {spread(lag)}; {limit}")
    mib = [h / 2**20 for h in heap]
    low, mid, high = min(mib), statistics.median(mib), max(mib)
    print(f"page JavaScript heap: {low:.1f} / {mid:.1f} / {high:.1f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="logins (each with its calls)")
    ap.add_argument("--calls", type=int, default=10, help="calls per round")
    args = ap.parse_args()
    against_server(run, args, PASSWORD, client=CLIENT)


if __name__ == "__main__":
    main()
