"""The dashboard's pages in real Chromium send only queries and bodies the one parser
accepts: the query models refuse unknown parameters (controller/api/queries.py), so a
page asking with one (the log's CSV link once carried the list's ``limit``) would get
400 instead of its data."""

from __future__ import annotations

from typing import Any

import pytest

from .harness import TIMEOUT_MS, RunningController, sign_in

ROUTES = ["", "apartment/105", "schedules", "audit", "alarms"]
READY = {"apartment/105": "#apt-events li", "audit": "#audit-rows tr"}


async def _page(browser: Any) -> tuple[Any, list[str]]:
    """A signed-out page and the list its refused API requests go to."""
    context = await browser.new_context(viewport={"width": 1024, "height": 768})
    page = await context.new_page()
    refused: list[str] = []

    def seen(response: Any) -> None:
        if "/api/" in response.url and response.status == 400:
            refused.append(f"{response.request.method} {response.url}")

    page.on("response", seen)
    return page, refused


@pytest.mark.parametrize("route", ROUTES, ids=[r or "overview" for r in ROUTES])
async def test_no_page_asks_what_the_parsers_refuse(
    browser: Any, ctl: RunningController, route: str
) -> None:
    page, refused = await _page(browser)
    try:
        await sign_in(page, ctl)
        await page.goto(f"{ctl.controller.http_url}/#/{route}")
        if route in READY:
            await page.wait_for_selector(READY[route], timeout=TIMEOUT_MS)
        await page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
    finally:
        await page.context.close()
    assert refused == []


async def test_the_logs_filter_and_its_csv_link_are_answered(
    browser: Any, ctl: RunningController
) -> None:
    status, body = await ctl.command("a105-lock", "lock", reason="care visit: kvällsrunda")
    assert status == 200, body
    page, refused = await _page(browser)
    try:
        await sign_in(page, ctl)
        await page.goto(f"{ctl.controller.http_url}/#/audit")
        await page.wait_for_selector("#audit-rows tr", timeout=TIMEOUT_MS)
        await page.fill("#audit-filter [name=apartment]", "105")
        await page.fill("#audit-filter [name=since]", "2020-01-01T08:00")
        async with page.expect_response(lambda r: "/api/activity?" in r.url) as listed:
            await page.click("#audit-filter button[type=submit]")
        assert (await listed.value).status == 200
        # the link follows the filter once the page has drawn the answer: wait for it
        await page.wait_for_selector('#audit-csv[href*="apartment=105"]', timeout=TIMEOUT_MS)
        href = await page.get_attribute("#audit-csv", "href")
        assert href is not None
        exported = await page.request.get(f"{ctl.controller.http_url}{href}")
        assert exported.status == 200, await exported.text()
        assert exported.headers["content-type"].startswith("text/csv")
        assert "a105-lock" in await exported.text()
    finally:
        await page.context.close()
    assert refused == []
