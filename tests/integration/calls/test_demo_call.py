"""The demo's printed links as a user follows them: `tryggbo demo` as a child process,
its room-screen link and its relative's link opened in two Chromium contexts, and the
call connects with nothing fighting the page for its screen (issue 14, item 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from config.site import EXAMPLE_SITE, load_site

from ..test_demo import DEMO_SCREEN_DEVICE, demo_process
from .conftest import TIMEOUT_MS
from .test_calls import FRAMES


async def test_the_printed_screen_and_relative_links_make_a_call(
    tmp_path: Path, new_page: Any
) -> None:
    async with demo_process(tmp_path) as demo:
        every = len(list(load_site(EXAMPLE_SITE).devices()))
        await demo.health(lambda body: body["devices"]["online"] == every - 1)
        screen = await new_page(1280, 800)
        await screen.goto(demo.printed_link("room screen"))
        await screen.wait_for_selector('body[data-apartment="101"]', timeout=TIMEOUT_MS)
        await demo.health(lambda body: body["devices"]["online"] == every)
        relative = await new_page(1024, 768)
        await relative.goto(demo.printed_link("relative's call"))
        await relative.wait_for_selector('#visiting[data-open="true"]', timeout=TIMEOUT_MS)

        await relative.click("#call")
        await screen.wait_for_selector("#incoming:not([hidden])", timeout=TIMEOUT_MS)
        await screen.click("#accept")
        for page in (relative, screen):  # connected, and each side decodes the other's video
            await page.wait_for_selector(
                '#call-state[data-state="connected"]', state="attached", timeout=TIMEOUT_MS
            )
            await page.wait_for_function(FRAMES, timeout=TIMEOUT_MS, polling=200)

        health = await demo.health()
        assert health["status"] == "ok", health
        assert health["taken_over_devices"] == {}, health
        headers = {"Authorization": f"Bearer {demo.token}"}
        async with (
            aiohttp.ClientSession(base_url=demo.url, headers=headers) as http,
            http.get(f"/api/devices/{DEMO_SCREEN_DEVICE}") as resp,
        ):
            twin = await resp.json()
        assert (twin["model"], twin["state"]["call"]) == ("kiosk-page", "active"), twin

        await screen.click("#hangup")  # the screen is the resident's again
        await relative.wait_for_selector('#status[data-kind="ended"]', timeout=TIMEOUT_MS)
        await screen.wait_for_selector("#in-call", state="hidden", timeout=TIMEOUT_MS)
        await screen.click("#call-staff", trial=True, timeout=TIMEOUT_MS)
