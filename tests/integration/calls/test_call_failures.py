"""A call that fails never leaves the room screen covered: the "in call" or "incoming"
overlay goes when the ring's ack is lost (the screen may ring all the same), when the
resident answered a ring whose ack was lost, and when the screen shows a call the daemon
has not got. Real daemon, Mosquitto and two Chromium contexts (issue 14, item 6)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from controller.calls.signalling import STALE_CALL_ACTOR

from ..harness import RunningController
from .conftest import TIMEOUT_MS, KioskScreen, open_kiosk
from .test_calls import invite, set_hours


@asynccontextmanager
async def acks_lost(
    ctl: RunningController, screen: KioskScreen, wait_s: float
) -> AsyncIterator[None]:
    """The screen carries out its commands but its acks are lost; the controller waits
    ``wait_s`` for one."""
    firmware = ctl.controller.screens.device(screen.device)
    assert firmware is not None
    commands = ctl.controller.commands
    waited = commands.timeout_s
    firmware.faults.drop_acks, commands.timeout_s = True, wait_s
    try:
        yield
    finally:
        firmware.faults.drop_acks, commands.timeout_s = False, waited


async def _pages(
    ctl: RunningController, kiosk: Callable[[str], Any], new_page: Any, apartment: str
) -> tuple[KioskScreen, Any, Any]:
    """The apartment's kiosk page and a relative's page, visiting hours open."""
    screen = await kiosk(apartment)
    await set_hours(ctl, apartment, ["daily 00:00-24:00"])
    screen_page = await open_kiosk(new_page, ctl, screen)
    relative = await new_page(1024, 768)
    await relative.goto((await invite(ctl, apartment))["link"])
    await relative.wait_for_selector('#visiting[data-open="true"]', timeout=TIMEOUT_MS)
    return screen, screen_page, relative


async def _screen_is_the_residents(ctl: RunningController, screen: KioskScreen, page: Any) -> None:
    """No overlay left: "Ring personalen" takes a tap, the screen and daemon are idle."""
    await page.wait_for_selector("#incoming", state="hidden", timeout=TIMEOUT_MS)
    await page.wait_for_selector("#in-call", state="hidden", timeout=TIMEOUT_MS)
    await page.click("#call-staff", trial=True, timeout=TIMEOUT_MS)  # nothing covers it
    await ctl.wait_twin(screen.device, lambda t: t.reported.call == "idle")
    _status, active = await ctl.call("GET", "/api/calls/active")
    assert active["calls"] == []


async def test_a_ring_whose_ack_is_lost_leaves_no_screen_ringing(
    ctl: RunningController, kiosk, new_page
) -> None:
    screen, screen_page, relative = await _pages(ctl, kiosk, new_page, "205")
    async with acks_lost(ctl, screen, wait_s=2.0):
        await relative.click("#call")
        await screen_page.wait_for_selector("#incoming:not([hidden])", timeout=TIMEOUT_MS)
        await relative.wait_for_selector('#status[data-kind="refused"]', timeout=TIMEOUT_MS)
        await _screen_is_the_residents(ctl, screen, screen_page)


async def test_an_answer_to_a_ring_whose_ack_was_lost_ends_on_both_sides(
    ctl: RunningController, kiosk, new_page
) -> None:
    screen, screen_page, relative = await _pages(ctl, kiosk, new_page, "206")
    async with acks_lost(ctl, screen, wait_s=6.0):
        await relative.click("#call")
        await screen_page.wait_for_selector("#incoming:not([hidden])", timeout=TIMEOUT_MS)
        await screen_page.click("#accept")  # answered before the ring's ack is missed
        await relative.wait_for_selector("#in-call:not([hidden])", timeout=TIMEOUT_MS)
        await relative.wait_for_selector('#status[data-kind="refused"]', timeout=TIMEOUT_MS)
        await relative.wait_for_selector("#in-call", state="hidden", timeout=TIMEOUT_MS)
        await _screen_is_the_residents(ctl, screen, screen_page)


async def test_a_call_the_daemon_has_not_got_is_ended_on_the_screen(
    ctl: RunningController, kiosk, new_page
) -> None:
    """As after a daemon restart: the screen rings for a call nobody is on."""
    screen = await kiosk("204")
    screen_page = await open_kiosk(new_page, ctl, screen)
    status, body = await ctl.command(
        screen.device, "ring", args={"call_id": "0123456789abcdef", "caller": "Ingen"}
    )
    assert (status, body["outcome"]) == (200, "ok"), body
    await _screen_is_the_residents(ctl, screen, screen_page)
    _status, audit = await ctl.call("GET", "/api/audit", params={"device": screen.device})
    assert ("end_call", STALE_CALL_ACTOR) in {(r["action"], r["actor"]) for r in audit["audit"]}
