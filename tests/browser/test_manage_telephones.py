"""The *Manage telephones* screen in a real browser, on a phone network of the
test's own (network namespace): find with live progress, provide the
selected telephones, watch them become controllable, delete provisioning."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.browser.test_admin_ui import browser, page, shot  # noqa: F401 - fixtures
from tests.conftest import ADMIN_PASSWORD, eventually, make_config, prepare_store
from tests.helpers.netns import PhoneNet
from tests.helpers.process import free_port
from tests.integration.test_provisioning_netns import (  # noqa: F401 - fixtures
    DEVICES,
    PNP_ONLY,
    WEB_PASSWORD,
    net,
    sim,
)
from uacsta.server import UacstaServer
from uacsta.store import repo


@pytest.fixture
async def server(sim: PhoneNet, tmp_path: Path) -> AsyncIterator[UacstaServer]:  # noqa: F811
    from uacsta.admin.auth import AdminAuth
    from uacsta.store.db import Database

    await prepare_store(tmp_path / "data")
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'uacsta.db'}")
    await repo.set_path(db, "phone_connection.lan.address", f'"{sim.host_ip}"')
    await repo.set_path(db, "phone_connection.lan.tcp_port", str(free_port()))
    await AdminAuth(db).set_password("admin", ADMIN_PASSWORD)
    await db.close()
    srv = UacstaServer(make_config(tmp_path / "data", admin=True))
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


async def test_find_provide_delete_with_progress(
    page: Page,  # noqa: F811
    server: UacstaServer,
    sim: PhoneNet,  # noqa: F811
) -> None:
    page.set_default_timeout(20_000)  # a search takes its seconds
    await page.goto("/login")
    await page.get_by_label("Name").fill("admin")
    await page.get_by_label("Password").fill(ADMIN_PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_role("link", name="Telephones").click()
    await page.get_by_role("link", name="Manage telephones").click()
    await expect(page.get_by_role("heading", name="Manage telephones")).to_be_visible()

    # options: the phones' web password, no restart wanted... then yes
    await page.get_by_label("Web interface password").fill(WEB_PASSWORD)
    await page.get_by_role("button", name="Set password").click()
    await expect(page.locator("#web-password-result")).to_contain_text("stored")
    await page.get_by_label("Registration period (s)").fill("10")
    await page.get_by_role("button", name="Save options").click()
    await expect(page.locator("#options-result")).to_contain_text("greater than or equal to 60")
    await page.get_by_label("Registration period (s)").fill("120")
    await page.get_by_role("button", name="Save options").click()
    await expect(page.locator("#options-result")).to_contain_text("Saved.")
    options = (await repo.load_section(server.db, "provisioning")).model_dump()
    assert options["expiry"] == 120 and options["restart"] is True

    # find: the search runs with its progress shown, then lists every phone
    await page.get_by_label("Search from").select_option(sim.host_ip)
    await page.get_by_label("Search time (s)").fill("3")
    await page.get_by_role("button", name="Find telephones").click()
    job = page.locator("#find-job .job")
    await expect(job).to_have_attribute("data-done", "no")
    await expect(job.locator(".progress")).to_contain_text("found so far")
    await shot(page, "20-manage-telephones-searching")
    await expect(job).to_have_attribute("data-done", "yes", timeout=30_000)
    rows = job.locator("tbody tr")
    # every phone but the one that answers no OPTIONS (found only when it boots)
    await expect(rows).to_have_count(len(DEVICES) - 1)
    for i, device in enumerate(DEVICES[:6]):
        row = job.locator(f"tr[data-ip='{sim.phone_ip(i)}']")
        await expect(row).to_contain_text(device["mac"])
        await expect(row).to_contain_text(device["vendor"])
    await shot(page, "21-manage-telephones-found")

    # provide the first three (the others unselected)
    for i in range(3, len(DEVICES)):
        if i != PNP_ONLY:
            await job.get_by_label(f"Select {sim.phone_ip(i)}", exact=True).uncheck()
    await page.get_by_role("button", name="Provide selected telephones").click()
    results = page.locator("#provide-job .job")
    await expect(results).to_have_attribute("data-done", "yes", timeout=30_000)
    await expect(results.locator(".progress")).to_contain_text("3 of 3 telephones done")
    await expect(results.locator("td.ok")).to_have_count(3)
    await expect(page.locator("#provided tbody tr")).to_have_count(3)
    await shot(page, "22-manage-telephones-provided")
    macs = [d["mac"] for d in DEVICES[:3]]

    def status(mac: str) -> str:
        phone = server.directory.get(mac)
        return phone.status if phone is not None else "unknown"

    await eventually(lambda: all(status(m) == "controllable" for m in macs), timeout=20)
    # the telephone list shows them, and the records list them
    await page.goto("/telephones")
    for mac in macs:
        await expect(page.locator(f"tr[data-mac='{mac}'] td.status-controllable")).to_be_visible()
    await page.goto("/telephones/manage")
    await expect(page.locator("#provided tbody tr")).to_have_count(3)

    # delete provisioning of the same three
    await page.get_by_label("Search from").select_option("")
    await page.get_by_label("Add by IP address").fill(
        f"{sim.phone_ip(0)}-{sim.phone_ip(2).rsplit('.', 1)[1]}"
    )
    await page.get_by_role("button", name="Find telephones").click()
    await expect(page.locator("#find-job .job")).to_have_attribute(
        "data-done", "yes", timeout=30_000
    )
    await expect(page.locator("#find-job tbody tr")).to_have_count(3)
    # the search shows where each was provided
    await expect(page.locator(f"#find-job tr[data-ip='{sim.phone_ip(0)}']")).to_contain_text(
        "identity 12"
    )
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Delete provisioning").click()
    results = page.locator("#provide-job .job")
    await expect(results).to_have_attribute("data-done", "yes", timeout=30_000)
    await expect(results.locator("td.ok")).to_have_count(3)
    # the list of provided telephones follows without a reload
    await expect(page.locator("#provided")).to_contain_text("No telephone provided from here yet")
    await shot(page, "23-manage-telephones-deleted")
    await eventually(lambda: all(status(m) == "offline" for m in macs), timeout=20)
    assert await repo.list_provisioned(server.db) == []
