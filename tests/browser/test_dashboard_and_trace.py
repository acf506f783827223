"""The dashboard's charts and the live trace in Chromium, against the real
server with simulated phones and a client driving a call."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Page, expect

from tests.browser.test_admin_ui import browser, log_in, page, shot  # noqa: F401 - fixtures
from tests.integration.switching import Lab
from tests.integration.test_observability import a_call
from uacsta.server import UacstaServer

pytestmark = pytest.mark.admin_ui


async def test_dashboard_charts_fill_live(page: Page, server: UacstaServer, lab: Lab) -> None:  # noqa: F811
    # points every 0.3 s instead of 10 s: the series fill while the test watches
    server.observe.history.restart({"hour": (0.3, 360), "day": (0.6, 288)})
    await log_in(page)
    await page.get_by_role("navigation").get_by_role("link", name="Dashboard").click()
    dashboard = page.locator("#dashboard")
    await expect(dashboard.locator(".plot .uplot")).to_have_count(4)  # uPlot drew each chart
    # redrawn as points come in, without reloading: the phones are there
    await expect(
        page.locator("#dashboard-now tr[data-series='registered'] td").nth(1)
    ).to_have_text("2")
    await expect(
        page.locator("#dashboard-now tr[data-series='controllable'] td").nth(1)
    ).to_have_text("2")
    drawn = int(await dashboard.get_attribute("data-drawn") or "0")
    await a_call(lab, server)
    await expect(dashboard).not_to_have_attribute("data-drawn", str(drawn))
    points = int(await page.locator(".plot").first.get_attribute("data-points") or "0")
    assert points >= 2
    await expect(
        page.locator("#dashboard-now tr[data-series='clients'] td").nth(1)
    ).not_to_have_text("\N{EN DASH}")
    await shot(page, "11-dashboard")
    await page.get_by_role("button", name="Last day").click()
    await expect(page.locator("button[data-range='day']")).to_have_attribute("aria-pressed", "true")
    await expect(dashboard).to_have_attribute("data-range", "day")


async def test_the_status_page_shows_the_last_50_log_lines(
    page: Page,  # noqa: F811
    server: UacstaServer,
) -> None:
    await log_in(page)
    heading = page.get_by_role("heading", name="Log since the last start")
    await expect(heading).to_contain_text("the last")
    assert await page.locator("table.log tbody tr").count() <= 50
    await expect(page.get_by_role("main").get_by_role("link", name="Diagnostics")).to_be_visible()


async def test_trace_a_device_as_a_ladder(page: Page, server: UacstaServer, lab: Lab) -> None:  # noqa: F811
    await log_in(page)
    await page.get_by_role("navigation").get_by_role("link", name="Trace").click()
    await page.get_by_label("Phone or device").fill("sip:999@nowhere")
    await page.get_by_role("button", name="Start").click()
    await expect(page.locator("#trace-state")).to_contain_text("refused: no phone or device")
    await page.get_by_label("Phone or device").fill("202")
    await page.get_by_role("button", name="Start").click()
    state = page.locator("#trace-state")
    await expect(state).to_have_attribute("data-live", lab.phones["yealink"].mac)
    await a_call(lab, server)
    ladder = page.locator("#trace tbody tr")
    delivered = ladder.filter(has_text="INFO (DeliveredEvent)").first
    await expect(delivered).to_be_visible()
    await expect(ladder.filter(has_text="AnswerCall").first).to_be_visible()
    await expect(
        page.locator("#trace tbody tr[data-kind='csta'][data-to^='client ']").first
    ).to_be_visible()
    await delivered.click()
    await expect(page.locator("#trace-raw")).to_contain_text("<DeliveredEvent")
    await expect(page.locator("#trace-decoded")).to_contain_text('"type": "DeliveredEvent"')
    await shot(page, "12-trace")
    await page.get_by_role("button", name="Stop").click()
    await expect(state).to_have_text("stopped")
    from tests.conftest import eventually
    from uacsta.trace import TRACER

    await eventually(lambda: not TRACER.watched)  # the stream closed: the trace stopped
    await asyncio.sleep(0)
