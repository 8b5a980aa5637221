"""The room screen by night and by day in real Chromium against the real daemon: at
night only the time, "natt", a staff message and the call button, dimmed with
"Ring personalen" at 4.5:1 or more (measured from the computed colours); past plan
items marked, then hidden; a staff message's default end; a curtain press seen at
once. The page's clock is pinned (Playwright), the daemon's is the real one."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from controller.screen_messages import message_end

from ..harness import RunningController, wait_twin
from .conftest import CONTRAST, TIMEOUT_MS, home_time, open_kiosk


async def visible(page: Any, selector: str) -> bool:
    return bool(await page.is_visible(selector))


async def test_at_night_the_screen_shows_time_natt_and_the_call_button_at_full_contrast(
    ctl: RunningController, kiosk, new_page, artifacts: Path
) -> None:
    screen = await kiosk("205")
    status, body = await ctl.call(
        "POST", "/api/apartments/205/plan", json={"at": "12:00", "text": "Lunch serveras"}
    )
    assert status == 201, body
    for width, height in ((800, 480), (1280, 800)):
        page = await open_kiosk(new_page, ctl, screen, width, height, shown=home_time(ctl, 23, 10))
        await page.wait_for_selector("body.night-view.night", timeout=TIMEOUT_MS)
        assert await page.text_content("#clock") == "23.10"
        assert await page.text_content("#part-of-day") == "natt"
        assert await visible(page, "#call-staff")
        for hidden in ("#plan", "#date", "#curtains-open", "#curtains-close"):
            assert not await visible(page, hidden), hidden
        measured = await page.evaluate(CONTRAST, "#call-staff")
        assert measured["dimmed"] == [], measured
        assert measured["ratio"] >= 4.5, measured
        # dimmed: the button is darker than by day
        assert measured["background"] == "rgb(122, 0, 0)", measured
        await page.screenshot(path=str(artifacts / f"screen-night-{width}x{height}.png"))

        # by day the same page shows the plan and the curtains again, at full contrast
        await page.clock.set_fixed_time(home_time(ctl, 11, 0))
        await page.wait_for_selector("body:not(.night-view)", timeout=TIMEOUT_MS)
        assert await visible(page, "#curtains-open")
        await page.locator("#plan li", has_text="Lunch serveras").wait_for(timeout=TIMEOUT_MS)
        day = await page.evaluate(CONTRAST, "#call-staff")
        assert day["ratio"] >= 4.5, day
        await page.context.close()
    entries = (await ctl.call("GET", "/api/apartments/205/plan"))[1]["entries"]
    for entry in entries:
        await ctl.call("DELETE", f"/api/apartments/205/plan/{entry['id']}")


async def test_past_plan_items_are_marked_for_an_hour_then_hidden(
    ctl: RunningController, kiosk, new_page, artifacts: Path
) -> None:
    screen = await kiosk("206")
    added = []
    for at, text in (("08:00", "Frukost"), ("13:30", "Lunch serveras"), ("16:00", "Kaffe")):
        status, body = await ctl.call(
            "POST", "/api/apartments/206/plan", json={"at": at, "text": text}
        )
        assert status == 201, body
        added.append(body)
    page = await open_kiosk(new_page, ctl, screen, 800, 480, shown=home_time(ctl, 14, 0))
    coffee = page.locator("#plan li", has_text="Kaffe")
    await coffee.wait_for(timeout=TIMEOUT_MS)
    lunch = page.locator("#plan li", has_text="Lunch serveras")
    assert await lunch.get_attribute("class") == "past"
    assert "✓ klart" in (await lunch.text_content() or "")
    assert await coffee.get_attribute("class") in (None, "")
    assert await page.locator("#plan li", has_text="Frukost").count() == 0
    await page.screenshot(path=str(artifacts / "screen-day-plan-800x480.png"))

    # an hour after lunch it is gone too
    await page.clock.set_fixed_time(home_time(ctl, 14, 31))
    await lunch.wait_for(state="detached", timeout=TIMEOUT_MS)
    for entry in added:
        await ctl.call("DELETE", f"/api/apartments/206/plan/{entry['id']}")


async def test_a_staff_message_without_an_end_ends_when_the_night_begins(
    ctl: RunningController, kiosk, new_page
) -> None:
    screen = await kiosk("211")
    page = await open_kiosk(new_page, ctl, screen, 800, 480)
    sent_at = ctl.controller.clock.now()
    status, body = await ctl.command(
        screen.device, "show_message", args={"text": "Lunch serveras kl. 12", "from": "Anna"}
    )
    assert (status, body["outcome"]) == (200, "ok"), body
    twin = await wait_twin(
        ctl.controller,
        screen.device,
        lambda t: t.reported is not None and t.reported.message is not None,
    )
    assert twin.reported is not None
    until = twin.reported.message.until
    site = ctl.controller.site
    expected = message_end(site.zone, site.site.night_window, sent_at)
    assert until is not None
    assert abs(until - expected) < timedelta(minutes=1), (until, expected)

    await page.clock.set_fixed_time(until - timedelta(minutes=1))
    await page.wait_for_selector("#message:not([hidden])", timeout=TIMEOUT_MS)
    await page.clock.set_fixed_time(until + timedelta(minutes=1))
    await page.wait_for_selector("#message", state="hidden", timeout=TIMEOUT_MS)
    status, body = await ctl.command(screen.device, "clear_message")
    assert status == 200, body


async def test_a_curtain_press_shows_at_once_that_it_is_happening(
    ctl: RunningController, kiosk, new_page, artifacts: Path
) -> None:
    screen = await kiosk("212")
    page = await open_kiosk(new_page, ctl, screen, 800, 480)
    # what the resident sees in the same instant as the press, before any answer
    seen = await page.evaluate(
        """() => {
          document.getElementById("curtains-close").click();
          const box = document.getElementById("curtain-status");
          return { hidden: box.hidden, state: box.dataset.state, text: box.textContent,
                   busy: document.getElementById("curtains-close").getAttribute("aria-busy") };
        }"""
    )
    assert seen == {
        "hidden": False,
        "state": "pending",
        "text": "Gardinerna stängs …",
        "busy": "true",
    }
    await page.screenshot(path=str(artifacts / "screen-curtain-pressed-800x480.png"))
    await page.wait_for_selector('#curtain-status[data-state="moving"]', timeout=TIMEOUT_MS)
    assert await page.text_content("#curtain-status") == "Gardinerna går ner"
    assert await page.get_attribute("#curtains-close", "aria-busy") == "false"
    await wait_twin(
        ctl.controller,
        "a212-curtain",
        lambda t: t.reported is not None and 0 in (t.reported.target, t.reported.position),
    )
