"""The telephone list in Chromium with 10,000 registered phones.

Starts ``uacsta serve`` with the admin web UI and, in this process, N
simulated phones of all six vendors (as ``scale.py``), logs in with Debian's
chromium driven by Playwright and opens *Telephones*.  It prints, each as
min / median / max over the samples:

- the first page (100 of N rows) after the link is clicked, and a filter;
- live updates: a phone on the page shown loses its connection, then comes
  back; the time from the server's change (its admin API showing the new
  status, polled every 10 ms) to the page showing it, and from the phone's
  action to the page;
- the same while all N phones register again after a power cut (every
  connection cut at once), the page refreshing under that churn;
- how long a Prometheus scrape of ``/metrics`` takes with N phones.

The limit is the issue's: at most 1 s from a change to the page.

    uv run python bench/telephone_list.py [--phones 10000] [--samples 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from playwright.async_api import Page, async_playwright, expect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from common import UacstaServer, against_server  # noqa: E402
from scale import wait_until  # noqa: E402

from uacsta.sim.phone import SimPhone  # noqa: E402
from uacsta.sim.runner import SimOptions, make_phones  # noqa: E402

PASSWORD = "bench-password-1"
ADMIN = "bench-admin-pw-1"
LIMIT = 1.0
TIMEOUT = 120.0


def spread(values: list[float]) -> str:
    return (
        f"{min(values) * 1e3:.0f} / {statistics.median(values) * 1e3:.0f} / "
        f"{max(values) * 1e3:.0f} ms"
    )


async def bring_up(phones: list[SimPhone]) -> float:
    began = time.monotonic()
    sem = asyncio.Semaphore(200)

    async def start(phone: SimPhone) -> None:
        async with sem:
            await phone.start()

    await asyncio.gather(*(start(p) for p in phones))
    await wait_until(lambda: all(p.dialog is not None for p in phones), 600)
    return time.monotonic() - began


async def status_seen(api: httpx.AsyncClient, mac: str, status: str) -> float:
    """When the server's admin API first shows ``status`` for ``mac``."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            r = await api.get(f"/api/phones/{mac}")
        except httpx.TransportError:
            # a kept-alive connection closed under a loaded server: ask again
            await asyncio.sleep(0.01)
            continue
        if r.status_code == 200 and r.json()["status"] == status:
            return time.monotonic()
        await asyncio.sleep(0.01)
    raise RuntimeError(f"{mac} never {status}")


async def status_is(api: httpx.AsyncClient, mac: str, status: str) -> bool:
    try:
        r = await api.get(f"/api/phones/{mac}")
    except httpx.TransportError:
        return True  # not known yet: ask again
    return r.status_code == 200 and r.json()["status"] == status


async def page_shows(page: Page, mac: str, status: str) -> float:
    cell = page.locator(f"tr[data-mac='{mac}'] td.status")
    await expect(cell).to_have_text(status, timeout=TIMEOUT * 1000)
    return time.monotonic()


async def update(
    page: Page, api: httpx.AsyncClient, mac: str, status: str, action: Callable[[], Awaitable[None]]
) -> tuple[float, float]:
    """(server → page, action → page) for one change of one phone."""
    began = time.monotonic()
    server = asyncio.create_task(status_seen(api, mac, status))
    shown = asyncio.create_task(page_shows(page, mac, status))
    await action()
    at_server, at_page = await server, await shown
    return max(0.0, at_page - at_server), at_page - began


async def run(args: argparse.Namespace, server: UacstaServer) -> None:
    phones = make_phones(
        SimOptions(host="127.0.0.1", port=server.tcp, password=PASSWORD, phones=args.phones)
    )
    up = await bring_up(phones)
    print(f"{args.phones} phones registered with their uaCSTA dialogs after {up:.1f} s")
    chromium = os.environ.get("UACSTA_CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    base = f"http://127.0.0.1:{server.admin}"
    first_page = sorted(phones, key=lambda p: p.mac)[: args.samples]
    async with (
        async_playwright() as pw,
        httpx.AsyncClient(base_url=base, auth=("admin", ADMIN), timeout=TIMEOUT) as api,
    ):
        browser = await pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = await (await browser.new_context(base_url=base)).new_page()
        await page.goto("/login")
        await page.get_by_label("Name").fill("admin")
        await page.get_by_label("Password").fill(ADMIN)
        await page.get_by_role("button", name="Log in").click()
        await expect(page.get_by_role("heading", name="Server status")).to_be_visible()
        scrapes = []
        for _ in range(3):
            began = time.monotonic()
            scraped = await api.get("/metrics")
            scrapes.append(time.monotonic() - began)
            assert scraped.status_code == 200
        loads, filters = [], []
        pager = page.locator(".pager")
        for _ in range(3):
            began = time.monotonic()
            await page.get_by_role("link", name="Telephones").click()
            await expect(pager).to_contain_text(f"of {args.phones}", timeout=TIMEOUT * 1000)
            loads.append(time.monotonic() - began)
            began = time.monotonic()
            await page.get_by_label("Filter").fill("snom")
            await expect(pager).to_contain_text("matching", timeout=TIMEOUT * 1000)
            filters.append(time.monotonic() - began)
            await page.get_by_label("Filter").fill("")
            await expect(pager).not_to_contain_text("matching", timeout=TIMEOUT * 1000)
            await page.goto("/status")
        await page.get_by_role("link", name="Telephones").click()
        await expect(pager).to_contain_text(f"of {args.phones}", timeout=TIMEOUT * 1000)
        offline, online, offline_all, online_all = [], [], [], []
        for phone in first_page:
            lag, total = await update(page, api, phone.mac, "offline", phone.stop)
            offline.append(lag)
            offline_all.append(total)
            lag, total = await update(page, api, phone.mac, "controllable", phone.start)
            online.append(lag)
            online_all.append(total)
        # a power cut: every connection at once; the page follows a phone back
        before = {p.mac: id(p.dialog) for p in phones}
        watched = first_page[0]

        async def cut() -> None:
            for p in phones:
                if p._writer is not None:
                    p._writer.transport.abort()

        cut_at = time.monotonic()
        await cut()
        # the server notices the cut (the phone is not controllable for a while)...
        deadline = time.monotonic() + TIMEOUT
        while await status_is(api, watched.mac, "controllable"):
            if time.monotonic() > deadline:
                raise RuntimeError("the cut was never noticed")
            await asyncio.sleep(0.01)

        async def nothing() -> None:
            return None

        # ...and the page follows it back while all the others come back too
        churn_lag, churn_total = await update(page, api, watched.mac, "controllable", nothing)
        churn_total = time.monotonic() - cut_at
        await wait_until(
            lambda: all(p.dialog is not None and id(p.dialog) != before[p.mac] for p in phones),
            900,
        )
        back = time.monotonic() - cut_at
        await browser.close()
    worst = max(offline + online + [churn_lag])
    print(f"a Prometheus scrape of /metrics with {args.phones} phones: {spread(scrapes)}")
    print(f"first page of the telephone list (100 of {args.phones}): {spread(loads)}")
    print(f"a filter (server-side, {args.phones} rows, 300 ms typing pause): {spread(filters)}")
    print(
        f"a phone goes offline, server to page: {spread(offline)} "
        f"(from the cut: {spread(offline_all)})"
    )
    print(
        f"a phone comes back, server to page: {spread(online)} "
        f"(from its start: {spread(online_all)})"
    )
    print(
        f"power cut, all {args.phones} again: the watched phone server to page "
        f"{churn_lag * 1e3:.0f} ms (from the cut {churn_total:.1f} s); all back after {back:.1f} s"
    )
    print(f"worst change to page: {worst * 1e3:.0f} ms; limit {LIMIT * 1e3:.0f} ms")
    for phone in phones:
        await phone.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--phones", type=int, default=10000)
    ap.add_argument("--samples", type=int, default=10, help="phones taken offline and back")
    args = ap.parse_args()
    against_server(run, args, PASSWORD, admin_password=ADMIN)


if __name__ == "__main__":
    main()
