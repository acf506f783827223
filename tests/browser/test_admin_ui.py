"""The admin web UI in a real browser: Debian's chromium driven by Playwright
against the real server on loopback.  Screenshots of every screen are saved
under ``artifacts/screenshots/`` (see docs/admin.md)."""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Dialog, Page, async_playwright, expect

from tests.conftest import ADMIN_PASSWORD, PHONE_PASSWORD, client_tls, eventually
from uacsta.net import tls
from uacsta.server import UacstaServer
from uacsta.sim.phone import SimPhone, SimPhoneConfig

pytestmark = pytest.mark.admin_ui
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def chromium() -> str:
    path = os.environ.get("UACSTA_CHROMIUM") or shutil.which("chromium")
    if path is None:
        raise AssertionError(
            "chromium is not installed: .ci/run installs it (apt-get install chromium)"
        )
    return path


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def page(browser: Browser, server: UacstaServer) -> AsyncIterator[Page]:
    assert server.admin_ui is not None
    context = await browser.new_context(
        base_url=f"http://127.0.0.1:{server.admin_ui.port('web UI', 'HTTP')}",
        viewport={"width": 1280, "height": 860},
    )
    pg = await context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    await context.close()


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def log_in(page: Page) -> None:
    await page.goto("/status")
    await expect(page).to_have_url("/login")
    await shot(page, "01-login")
    await page.get_by_label("Name").fill("admin")
    await page.get_by_label("Password").fill(ADMIN_PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Server status")).to_be_visible()


def sim(server: UacstaServer, mac: str = "000413000201") -> SimPhone:
    assert server.phones is not None
    return SimPhone(
        SimPhoneConfig(
            "snom",
            mac,
            ["sip:201@pbx.example"],
            PHONE_PASSWORD,
            "127.0.0.1",
            server.phones.port("lan", "TCP"),
        )
    )


async def test_log_in_change_settings_and_log_out(page: Page, server: UacstaServer) -> None:
    await log_in(page)
    await shot(page, "02-server-status")
    await page.get_by_role("link", name="Advanced settings").click()
    await page.get_by_label("Keep connection alive time (s)").fill("120")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Saved.")
    from uacsta.store import repo

    assert (await repo.load_section(server.db, "advanced")).model_dump()["keepalive"] == 120
    # a value out of range: the reason, and nothing stored
    await page.get_by_label("SIP expiration time (s)").fill("5")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("alert")).to_contain_text("greater than or equal to 60")
    assert (await repo.load_section(server.db, "advanced")).model_dump()["sip_expiration"] == 300
    await shot(page, "03-advanced-settings")
    await page.get_by_role("link", name="Client connection").click()
    await page.get_by_label("Login", exact=True).fill("dialer")
    await (
        page.locator("#login-result ~ *, form[hx-post='/ui/clients']")
        .get_by_label("Password")
        .fill("dialer-pw-1")
    )
    await page.get_by_role("button", name="Add or change").click()
    await expect(page.locator("#login-result")).to_contain_text("Client login dialer saved.")
    assert await repo.get_client_login(server.db, "dialer") is not None
    await page.reload()
    await shot(page, "04-client-connection")
    await page.get_by_role("link", name="Information").click()
    await expect(page.get_by_text("Apache-2.0")).to_be_visible()
    await shot(page, "05-information")
    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url("/login")
    await page.goto("/telephones")
    await expect(page).to_have_url("/login")


async def test_telephone_list_is_live_and_enabled_takes_effect(
    page: Page, server: UacstaServer
) -> None:
    await log_in(page)
    await page.get_by_role("link", name="Telephones").click()
    await expect(page.get_by_text("No telephone has registered yet.")).to_be_visible()
    phone = sim(server)
    await phone.start()
    try:
        row = page.locator("tr[data-mac='000413000201']")
        await expect(row).to_be_visible()  # without reloading: server-sent events
        await expect(row.locator("td.status-controllable")).to_have_text("controllable")
        await shot(page, "06-telephones")
        await row.get_by_label("Enabled 000413000201").uncheck()
        assert server.sessions is not None
        await eventually(lambda: not server.sessions.controllable(phone.mac))
        await expect(row.locator("td.status")).to_have_text("registered")
        await page.get_by_label("Filter").fill("yealink")
        await expect(row).to_be_hidden()
        await page.get_by_label("Filter").fill("snom")
        await expect(page.locator("tr[data-mac='000413000201']")).to_be_visible()
        # a bulk restart asks first, then shows each phone's result: this one
        # has no web interface where it registered from, and says so
        await page.get_by_label("Select 000413000201").check()
        page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await page.locator(".bulk").get_by_role("button", name="Restart").click()
        result = page.locator("#bulk-result .results tr[data-ip='127.0.0.1']")
        await expect(result.locator("td.error")).to_have_text("failed", timeout=15000)
        await expect(result).to_contain_text("000413000201")
        await expect(page.locator("#bulk-result .progress")).to_contain_text(
            "Restarting 1 of 1 telephones done"
        )
    finally:
        await phone.stop()
    await expect(page.locator("tr[data-mac='000413000201'] td.status")).to_have_text("offline")


async def test_log_filtered_by_mac_live(page: Page, server: UacstaServer) -> None:
    await log_in(page)
    await page.get_by_role("navigation").get_by_role("link", name="Diagnostics").click()
    await page.get_by_label("Only these MAC addresses").fill("00:04:13:00:02:02")
    await page.get_by_role("button", name="Follow").click()
    await expect(page.locator("#tail[data-live]")).to_have_count(1)
    one, two = sim(server, "000413000201"), sim(server, "000413000202")
    await one.start()
    await two.start()
    try:
        await expect(page.locator("#tail")).to_contain_text("000413000202")
        tags = await page.locator("#tail td:nth-child(3)").all_inner_texts()
        assert set(tags) == {"000413000202"}
        await shot(page, "07-diagnostics")
    finally:
        await one.stop()
        await two.stop()


async def test_changed_tls_port_accepts_tls_after_a_service_restart(
    page: Page, server: UacstaServer
) -> None:
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    new_port = holder.getsockname()[1]
    holder.close()
    await log_in(page)
    await page.get_by_role("link", name="Phone connection").click()
    await page.locator("input[name='lan.tls_port']").fill(str(new_port))
    await page.get_by_role("button", name="Save").first.click()
    await expect(page.locator("#phone-result")).to_contain_text("Saved.")
    await shot(page, "08-phone-connection")
    await page.get_by_role("link", name="Server status").click()
    await (
        page.locator("#status-counts tr", has_text="Phone service")
        .get_by_role("button", name="Restart")
        .click()
    )
    await expect(page.get_by_role("status")).to_contain_text("phone service: restart done")
    await expect(page.locator("#status-counts")).to_contain_text(f"127.0.0.1:{new_port}")
    _reader, writer = await asyncio.open_connection(
        "127.0.0.1", new_port, ssl=client_tls(server), server_hostname="localhost"
    )
    assert isinstance(writer.get_extra_info("ssl_object"), ssl.SSLObject)
    writer.close()


async def test_certificate_panel_shows_the_certificate_and_gives_the_ca(
    page: Page, server: UacstaServer
) -> None:
    paths = server.certificates.paths
    assert paths is not None and paths.ca is not None
    await log_in(page)
    for screen in ("Phone connection", "Client connection"):
        await page.get_by_role("link", name=screen).click()
        panel = page.locator("dl", has_text="SHA-256 fingerprint")
        await expect(panel).to_contain_text(tls.info(paths.cert).sha256)
        async with page.expect_download() as download:
            await page.get_by_role("link", name="Download the local CA").click()
        saved = await (await download.value).path()
        assert Path(saved).read_text() == paths.ca.read_text()
    await shot(page, "09-certificate")


async def test_stopping_a_service_asks_first(page: Page, server: UacstaServer) -> None:
    await log_in(page)
    stop = page.locator("#status-counts tr", has_text="Phone service").get_by_role(
        "button", name="Stop"
    )
    asked: list[str] = []

    async def dismiss(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.dismiss()

    page.once("dialog", dismiss)
    await stop.click()
    await eventually(lambda: len(asked) == 1)
    assert "loses its uaCSTA dialog" in asked[0]
    assert server.phones.running  # dismissed: nothing stopped

    async def accept(dialog: Dialog) -> None:
        await dialog.accept()

    page.once("dialog", accept)
    await stop.click()
    await expect(page.locator("#status-counts tr", has_text="Phone service")).to_contain_text(
        "stopped"
    )
    assert not server.phones.running


async def test_a_telephone_list_of_10000_is_paged_sorted_and_live(
    browser: Browser, tmp_path: Path
) -> None:
    """10,000 telephones in the list (as the store holds them after they
    registered once), one real phone registering: the page shows 100 at a time,
    filters and sorts on the server, follows the phone live, and acts on a
    selection."""
    from datetime import UTC, datetime

    from tests.conftest import make_config, prepare_store
    from uacsta.admin.auth import AdminAuth
    from uacsta.store import repo
    from uacsta.store.db import Database
    from uacsta.store.models import Phone

    data = tmp_path / "data"
    await prepare_store(data)
    db = Database(f"sqlite+aiosqlite:///{data / 'uacsta.db'}")
    at = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    phones = [
        Phone(
            mac=f"001565{i:06X}",
            vendor="yealink",
            model="SIP-T54W",
            firmware=f"96.85.0.{i % 7}",
            last_ip=f"10.1.{i // 250}.{i % 250}",
            last_identity=f"sip:{20000 + i}@pbx.example",
            last_login=at,
            status="offline",
            enabled=True,
        )
        for i in range(10_000)
    ]
    phones += [
        Phone(mac=f"58gEC6B00A{h:02X}", vendor="gigaset", model="R650H", status="offline")
        for h in (1, 2)
    ]
    await repo.save_phones(db, phones)
    await AdminAuth(db).set_password("admin", ADMIN_PASSWORD)
    await db.close()
    server = UacstaServer(make_config(data, admin=True))
    await server.start()
    assert server.admin_ui is not None
    context = await browser.new_context(
        base_url=f"http://127.0.0.1:{server.admin_ui.port('web UI', 'HTTP')}"
    )
    page = await context.new_page()
    try:
        await log_in(page)
        began = time.monotonic()
        await page.get_by_role("link", name="Telephones").click()
        await expect(page.locator(".pager")).to_contain_text("Telephones 1\N{EN DASH}100 of 10002")
        loaded = time.monotonic() - began
        assert await page.locator("#phone-table tbody tr").count() == 100
        # the handsets sort under their base
        await page.get_by_label("Filter").fill("58gEC6")
        await expect(page.locator(".pager")).to_contain_text("Telephones 1\N{EN DASH}2 of 2")
        await expect(page.locator("tr[data-mac='58gEC6B00A01']")).to_contain_text("base …B00A")
        # sorted on the server, by number, descending: the last one first
        await page.get_by_label("Filter").fill("")
        first = page.locator("#phone-table tbody tr").first
        await page.get_by_role("link", name="Number").click()
        # ascending first: the handsets (no number) lead
        await expect(first).to_have_attribute("data-mac", "58gEC6B00A01")
        await page.get_by_role("link", name="Number").click()
        await expect(first).to_have_attribute("data-mac", f"001565{9999:06X}")
        await page.get_by_role("button", name="Next").click()
        pager = page.locator(".pager")
        await expect(pager).to_contain_text("Telephones 101\N{EN DASH}200 of 10002")
        # live: a real phone registers and the page shown follows it within a second
        await page.get_by_label("Filter").fill("snom")
        await expect(page.locator(".pager")).to_contain_text("No telephones")
        phone = sim(server, "000413000201")
        await phone.start()
        try:
            row = page.locator("tr[data-mac='000413000201']")
            await expect(row).to_be_visible(timeout=5000)
            await eventually(lambda: server.sessions.controllable(phone.mac))
            up = time.monotonic()
            await expect(row.locator("td.status-controllable")).to_have_text(
                "controllable", timeout=5000
            )
            followed = time.monotonic() - up
        finally:
            await phone.stop()
        # figures, not limits (timings belong in bench/, not in asserts)
        print(
            f"10,002 telephones: first page {loaded:.2f} s; the page showed the phone's "
            f"dialog {followed:.2f} s after the server had it up"
        )
        # a selection: the page's telephones disabled at once (a live refresh
        # meanwhile, the phone going offline, keeps the selection)
        await expect(page.locator("tr[data-mac='000413000201'] td.status")).to_have_text("offline")
        await page.get_by_label("Filter").fill("96.85.0.3")
        await expect(page.locator(".pager")).to_contain_text("of 1429")
        await page.locator("#select-all").check()
        await page.locator(".bulk").get_by_role("button", name="Disable").click()
        await expect(page.locator("#bulk-result")).to_contain_text("100 telephones disabled")
        await shot(page, "10-telephones-10000")
        disabled = [p for p in server.directory.all() if not p.enabled]
        assert len(disabled) == 100 and all(p.firmware == "96.85.0.3" for p in disabled)
    finally:
        await context.close()
        await server.stop()
