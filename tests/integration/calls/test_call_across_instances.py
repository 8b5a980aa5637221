"""A relative's video call across instances (issue 16 item 3): two ``tryggbo serve`` on
one private PostgreSQL and a real Mosquitto; the relative's page on instance one, the
screen's kiosk page on instance two (which runs the screen's firmware). In real
Chromium with WebRTC, the call rings, is accepted, connects with media both ways and is
hung up from the screen; the next is declined, the one after hung up by the
relative: the call's messages go between the instances through the live relay
(controller/live_relay.py, controller/calls/signalling.py). When the instance that owns
the call dies, the resident's hang-up still ends it on the screen.
"""

from __future__ import annotations

import asyncio
import time as wall
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, time
from pathlib import Path
from typing import Any

from config.site import Site
from controller.auth.accounts import ensure_user, random_password
from controller.auth.tokens import create_user_token
from controller.store.sql import SqlStore
from devices.clock import SystemClock
from tests.faults.served import ServedController
from tests.faults.test_no_shared_subscription import two_instances
from tests.faults.test_survivor_dashboard import dashboard, relaying
from tests.integration.harness import live_message

from .conftest import TIMEOUT_MS
from .test_calls import FRAMES

APARTMENT = "214"


async def kiosk_token(store: SqlStore) -> str:
    """An API token of a ``screen`` user bound to the apartment (in the shared store)."""
    username = f"screen-{APARTMENT}"
    now = SystemClock().now()
    await ensure_user(store, username=username, password=random_password(username),
                      roles=("screen",), apartments=(APARTMENT,), now=now)  # fmt: skip
    token, _ = await create_user_token(store, username=username, name="kiosk", now=now)
    return token


@asynccontextmanager
async def pages_on_two_instances(
    site: Site, pg_url: str | None, directory: Path, new_page: Any
) -> AsyncIterator[tuple[list[ServedController], Any, Any]]:
    """Two instances; the relative's page on the first, the screen's kiosk page on the
    second, both ready to call."""
    async with two_instances(site, pg_url, directory) as (_broker, instances, store):
        one, two = instances
        await relaying(instances)
        status, body = await one.call("PUT", f"/api/calls/visiting-hours/{APARTMENT}",
                                      json={"windows": ["daily 00:00-24:00"]})  # fmt: skip
        assert status == 200, body
        status, invitation = await one.call("POST", "/api/calls/invitations",
                                            json={"apartment": APARTMENT,
                                                  "relative": "Anna Lindqvist"})  # fmt: skip
        assert status == 201, invitation
        link_token = invitation["link"].split("#t=", 1)[1]

        screen_page = await new_page(1280, 800)
        today = datetime.now(site.zone).date()  # a day view, whatever the hour
        await screen_page.clock.set_fixed_time(datetime.combine(today, time(10), tzinfo=site.zone))
        await screen_page.goto(f"{two.url}/ui/screen.html#token={await kiosk_token(store)}")
        await screen_page.wait_for_selector(f'body[data-apartment="{APARTMENT}"]',
                                            timeout=TIMEOUT_MS)  # fmt: skip
        relative = await new_page(1024, 768)
        await relative.goto(f"{one.url}/ui/call.html#t={link_token}")
        await relative.wait_for_selector('#visiting[data-open="true"]', timeout=TIMEOUT_MS)
        yield instances, relative, screen_page


async def ring_and_connect(relative: Any, screen_page: Any) -> tuple[float, float]:
    """Call, accept, until both pages decode the other's video; seconds to ringing on
    the screen, and from accept to media both ways."""
    started = wall.monotonic()
    await relative.click("#call")
    await screen_page.wait_for_selector("#incoming:not([hidden])", timeout=TIMEOUT_MS)
    assert await screen_page.text_content("#caller") == "Anna Lindqvist"
    rang = wall.monotonic()
    await screen_page.click("#accept")
    for page in (relative, screen_page):
        await page.wait_for_selector('#call-state[data-state="connected"]',
                                     state="attached", timeout=TIMEOUT_MS)  # fmt: skip
        await page.wait_for_function(FRAMES, timeout=TIMEOUT_MS, polling=200)
    return rang - started, wall.monotonic() - rang


async def test_a_call_from_a_page_on_one_instance_to_a_screen_on_the_other_connects(
    example_site: Site, pg_url: str | None, tmp_path: Path, new_page: Any
) -> None:
    async with pages_on_two_instances(example_site, pg_url, tmp_path, new_page) as (
        instances,
        relative,
        screen_page,
    ):
        one, _two = instances
        to_ring, to_media = await ring_and_connect(relative, screen_page)
        for served in instances:  # two heard it active before the screen's call_start
            status, active = await served.call("GET", "/api/calls/active")
            assert [(c["apartment"], c["state"]) for c in active["calls"]] == [
                (APARTMENT, "active")
            ]

        await screen_page.click("#hangup")  # on instance two; the call is one's
        await relative.wait_for_selector('#status[data-kind="ended"]', timeout=TIMEOUT_MS)
        await screen_page.wait_for_selector("#in-call", state="hidden", timeout=TIMEOUT_MS)
        status, active = await one.call("GET", "/api/calls/active")
        assert status == 200, active
        assert active["calls"] == []

        # the resident declines the next call; the relative hangs up the one after
        await relative.click("#call")
        await screen_page.wait_for_selector("#incoming:not([hidden])", timeout=TIMEOUT_MS)
        await screen_page.click("#decline")
        await relative.wait_for_selector('#status[data-kind="declined"]', timeout=TIMEOUT_MS)
        await screen_page.wait_for_selector("#incoming", state="hidden", timeout=TIMEOUT_MS)
        await relative.click("#call")
        await screen_page.wait_for_selector("#incoming:not([hidden])", timeout=TIMEOUT_MS)
        await screen_page.click("#accept")
        await screen_page.wait_for_function(FRAMES, timeout=TIMEOUT_MS, polling=200)
        await relative.click("#hangup")
        await screen_page.wait_for_selector("#in-call", state="hidden", timeout=TIMEOUT_MS)
        status, active = await one.call("GET", "/api/calls/active")
        assert status == 200, active
        assert active["calls"] == []
        print(
            f"call across instances: ringing on the screen {to_ring * 1000:.0f} ms after "
            f"the call, media both ways {to_media * 1000:.0f} ms after accept"
        )


def screen_idle(msg: dict[str, Any]) -> bool:
    """The screen itself no longer shows a call (its state, through the broker)."""
    data = msg.get("data") or {}
    return (
        msg["type"] == "twin"
        and data.get("id") == f"a{APARTMENT}-screen"
        and (data.get("state") or {}).get("call") == "idle"
    )


async def test_the_screens_instance_ends_a_call_whose_owner_died_when_the_resident_hangs_up(
    example_site: Site, pg_url: str | None, tmp_path: Path, new_page: Any
) -> None:
    async with pages_on_two_instances(example_site, pg_url, tmp_path, new_page) as (
        instances,
        relative,
        screen_page,
    ):
        one, two = instances
        await ring_and_connect(relative, screen_page)
        await asyncio.to_thread(one.kill)  # the call's owner
        async with dashboard(two) as ws:
            await screen_page.click("#hangup")  # the page clears itself at once
            await live_message(ws, screen_idle, timeout=TIMEOUT_MS / 1000)
        status, active = await two.call("GET", "/api/calls/active")
        assert status == 200, active
        assert active["calls"] == []
        assert "fell silent; ended on the screen" in two.log_text()
