"""The relatives' video link in two real Chromium contexts (fake camera) against the
real daemon and Mosquitto: invite, visiting hours, ring, accept/decline, WebRTC media
both ways, hang up from either side."""

from __future__ import annotations

from typing import Any

from ..harness import RunningController, wait_twin
from .conftest import TIMEOUT_MS, open_kiosk

FRAMES = "async () => window.tryggboCall && (await window.tryggboCall.framesDecoded()) > 0"


async def invite(ctl: RunningController, apartment: str, **body: Any) -> dict[str, Any]:
    status, data = await ctl.call(
        "POST",
        "/api/calls/invitations",
        json={"apartment": apartment, "relative": "Anna Lindqvist", **body},
    )
    assert status == 201, data
    return data


async def set_hours(ctl: RunningController, apartment: str, windows: list[str] | None) -> None:
    status, data = await ctl.call(
        "PUT", f"/api/calls/visiting-hours/{apartment}", json={"windows": windows}
    )
    assert status == 200, data


async def _ring_and_accept(ctl: RunningController, relative, screen_page, device: str) -> None:
    await relative.click("#call")
    await screen_page.wait_for_selector("#incoming:not([hidden])", timeout=TIMEOUT_MS)
    assert await screen_page.text_content("#caller") == "Anna Lindqvist"
    await screen_page.click("#accept")
    for page in (relative, screen_page):
        await page.wait_for_selector(
            '#call-state[data-state="connected"]', state="attached", timeout=TIMEOUT_MS
        )
        await page.wait_for_function(FRAMES, timeout=TIMEOUT_MS, polling=200)
    twin = await wait_twin(
        ctl.controller, device, lambda t: t.reported is not None and t.reported.call == "active"
    )
    assert twin.reported is not None


async def test_video_call_connects_both_ways_and_either_side_hangs_up(
    ctl: RunningController, kiosk, new_page
) -> None:
    screen = await kiosk("214")
    await set_hours(ctl, "214", ["daily 00:00-24:00"])
    link = (await invite(ctl, "214"))["link"]
    screen_page = await open_kiosk(new_page, ctl, screen)
    relative = await new_page(1024, 768)
    await relative.goto(link)
    await relative.wait_for_selector('#visiting[data-open="true"]', timeout=TIMEOUT_MS)

    # the relative hangs up
    await _ring_and_accept(ctl, relative, screen_page, screen.device)
    status, active = await ctl.call("GET", "/api/calls/active")
    assert status == 200 and [c["apartment"] for c in active["calls"]] == ["214"]
    await relative.click("#hangup")
    await screen_page.wait_for_selector("#in-call", state="hidden", timeout=TIMEOUT_MS)
    await wait_twin(ctl.controller, screen.device, lambda t: t.reported.call == "idle")

    # the resident hangs up
    await _ring_and_accept(ctl, relative, screen_page, screen.device)
    await screen_page.click("#hangup")
    await relative.wait_for_selector('#status[data-kind="ended"]', timeout=TIMEOUT_MS)
    await relative.wait_for_selector("#in-call", state="hidden", timeout=TIMEOUT_MS)
    await wait_twin(ctl.controller, screen.device, lambda t: t.reported.call == "idle")
    status, active = await ctl.call("GET", "/api/calls/active")
    assert active["calls"] == []
