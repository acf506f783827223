"""The switchboard (receptionist console) in Chromium against the real server
with 500 simulated devices (50 phones of 10 lines): log in with a client
login, watch every device, answer, hold, retrieve, blind and attended
transfer from the receptionist's phone, DND and search on the tiles.  The
other parties act through the standalone Python client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect
from uacsta_client import Client, Event

from tests.browser.test_admin_ui import browser, shot  # noqa: F401 - fixtures
from tests.conftest import CLIENT_LOGIN, CLIENT_PASSWORD, PHONE_PASSWORD, eventually
from tests.integration.switching import http_url, ws_url
from uacsta.server import UacstaServer
from uacsta.sim.phone import SimPhone, SimPhoneConfig
from uacsta.sim.switch import SimSwitch

PHONES, LINES = 50, 10  # 500 devices: 201 ... 700


@pytest.fixture
async def phones(server: UacstaServer) -> AsyncIterator[list[SimPhone]]:
    assert server.phones is not None and server.switching is not None
    switch = SimSwitch()
    port = server.phones.port("lan", "TCP")
    made = []
    for i in range(PHONES):
        lines = [f"sip:{201 + i * LINES + n}@pbx.example" for n in range(LINES)]
        phone = SimPhone(
            SimPhoneConfig("snom", f"000413{i:06X}", lines, PHONE_PASSWORD, "127.0.0.1", port)
        )
        switch.attach(phone)
        made.append(phone)
    for phone in made:
        await phone.start()
    sf = server.switching
    await eventually(lambda: len(sf.devices) == PHONES * LINES, timeout=60)
    yield made
    for phone in made:
        await phone.stop()


@pytest.fixture
async def board(browser: Browser, server: UacstaServer) -> AsyncIterator[Page]:  # noqa: F811
    context = await browser.new_context(
        base_url=http_url(server), viewport={"width": 1400, "height": 900}
    )
    page = await context.new_page()
    page.set_default_timeout(15_000)
    yield page
    await context.close()


async def ringing_at(client: Client, xref: str) -> Event:
    while True:
        event = await client.next_event()
        alerting = event.csta.get("localConnectionInfo") == "alerting"
        if event.kind == "DeliveredEvent" and event.monitor == xref and alerting:
            return event


def tile(page: Page, number: int) -> object:
    return page.locator(f".tile[data-device='{number}']")


async def test_a_receptionist_works_500_devices(
    board: Page, server: UacstaServer, phones: list[SimPhone]
) -> None:
    page = board
    await page.goto("/switchboard")
    await expect(page).to_have_url(f"{http_url(server)}/switchboard/")
    await page.get_by_label("Client login").fill(CLIENT_LOGIN)
    await page.get_by_label("Password").fill("wrong")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#login-error")).to_contain_text("Login refused")
    await shot(page, "21-switchboard-login")
    await page.get_by_label("Password").fill(CLIENT_PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    # every device gets its tile and its monitor
    await expect(page.locator(".tile")).to_have_count(500)
    await expect(page.locator("body")).to_have_attribute("data-monitored", "500", timeout=60_000)
    await expect(page.locator("#summary")).to_have_text("500 devices, 500 watched")
    sf = server.switching
    assert sf is not None
    await eventually(lambda: sum(1 for p in sf.monitors.points.values() if p.subscribers) == 500)
    await page.get_by_label("My phone").select_option("201")
    me = page.locator(".tile[data-device='201']")
    await expect(me).to_have_attribute("data-me", "yes")

    async with Client(ws_url(server), CLIENT_LOGIN, CLIENT_PASSWORD) as others:
        xrefs = {n: await others.monitor(str(n)) for n in (210, 220)}
        # a call comes in from 305: the tile rings with the caller, answered on the board
        await others.make_call("305", "201")
        await expect(me).to_have_attribute("data-state", "ringing")
        await expect(me.locator(".peer")).to_have_text("305")
        await expect(page.locator(".tile[data-device='305']")).to_have_attribute(
            "data-state", "calling"
        )
        await page.get_by_role("button", name="Answer").click()
        await expect(me).to_have_attribute("data-state", "talking")
        await expect(page.locator(".tile[data-device='305']")).to_have_attribute(
            "data-state", "talking"
        )
        await shot(page, "22-switchboard-500-devices")
        await page.get_by_role("button", name="Hold").click()
        await expect(me).to_have_attribute("data-state", "held")
        # held by 201: 305's own connection is still up
        await expect(page.locator(".tile[data-device='305']")).to_have_attribute(
            "data-state", "talking"
        )
        await page.get_by_role("button", name="Retrieve").click()
        await expect(me).to_have_attribute("data-state", "talking")
        # blind transfer to 210: the call rings there, 201 is free
        await page.get_by_role("button", name="Blind transfer").click()
        await expect(page.locator("#message")).to_have_text("Pick the device to transfer to")
        await page.locator(".tile[data-device='210']").click()
        await expect(me).to_have_attribute("data-state", "idle")
        at_210 = page.locator(".tile[data-device='210']")
        await expect(at_210).to_have_attribute("data-state", "ringing")
        await expect(at_210.locator(".peer")).to_have_text("305")
        ringing = await ringing_at(others, xrefs[210])
        await others.answer("210", ringing.call or "")
        await expect(at_210).to_have_attribute("data-state", "talking")

        # attended: 306 calls, the receptionist consults 220, then completes
        await others.make_call("306", "201")
        await expect(me).to_have_attribute("data-state", "ringing")
        await page.get_by_role("button", name="Answer").click()
        await expect(me).to_have_attribute("data-state", "talking")
        await page.get_by_role("button", name="Consult").click()
        await page.locator(".tile[data-device='220']").click()
        at_220 = page.locator(".tile[data-device='220']")
        await expect(at_220).to_have_attribute("data-state", "ringing")
        await expect(at_220.locator(".peer")).to_have_text("201")
        ringing = await ringing_at(others, xrefs[220])
        await others.answer("220", ringing.call or "")
        await expect(at_220).to_have_attribute("data-state", "talking")
        await expect(page.get_by_role("button", name="Complete transfer")).to_be_enabled()
        await shot(page, "23-switchboard-consultation")
        await page.get_by_role("button", name="Complete transfer").click()
        await expect(me).to_have_attribute("data-state", "idle")
        await expect(at_220).to_have_attribute("data-state", "talking")
        await expect(at_220.locator(".peer")).to_have_text("306")

        # a click on a tile calls it from my phone
        await page.locator(".tile[data-device='230']").click()
        await expect(page.locator(".tile[data-device='230']")).to_have_attribute(
            "data-state", "ringing"
        )
        await expect(me).to_have_attribute("data-state", "calling")
        await page.get_by_role("button", name="Hang up").click()
        await expect(me).to_have_attribute("data-state", "idle")
        await expect(page.locator(".tile[data-device='230']")).to_have_attribute(
            "data-state", "idle"
        )
        # DND shows on its tile
        await others.set_dnd("240", True)
        await expect(page.locator(".tile[data-device='240']")).to_have_attribute("data-dnd", "on")
    # finding a device among 500
    await page.get_by_label("Find a device").fill("55")
    visible = page.locator("#tiles li:not([hidden])")
    await expect(visible).to_have_count(len([n for n in range(201, 701) if "55" in str(n)]))
    await shot(page, "24-switchboard-find")
