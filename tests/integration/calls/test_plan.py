"""A resident's day plan: staff add an entry on the dashboard's apartment page, the
room screen shows it beside the scheduled routines, staff remove it; bad entries and
callers without the right are refused and nothing changes."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from typing import Any

from controller.store import engine

from ..harness import RunningController, start_controller, user_sessions
from .conftest import TIMEOUT_MS, open_kiosk, sign_in_dashboard


async def _entries(ctl: RunningController, apartment: str) -> list[dict[str, Any]]:
    status, body = await ctl.call("GET", f"/api/apartments/{apartment}/plan")
    assert status == 200, body
    return body["entries"]


async def test_staff_plan_entry_reaches_the_room_screen_and_goes_again(
    new_page, ctl: RunningController, kiosk
) -> None:
    dashboard = await sign_in_dashboard(new_page, ctl)
    await dashboard.goto(f"{ctl.controller.http_url}/#/apartment/213")
    section = dashboard.locator("#apt-plan[data-loaded]")
    await section.wait_for(timeout=TIMEOUT_MS)
    await dashboard.fill("#plan-form [name=at]", "10:30")
    await dashboard.fill("#plan-form [name=text]", "Sjukgymnast")
    await dashboard.click("#plan-form button[type=submit]")
    await dashboard.locator("#plan-entries li", has_text="Sjukgymnast").wait_for(timeout=TIMEOUT_MS)
    [entry] = await _entries(ctl, "213")
    assert (entry["at"], entry["text"], entry["created_by"]) == (
        "10:30",
        "Sjukgymnast",
        "test-staff",
    )

    screen = await kiosk("213")
    page = await open_kiosk(new_page, ctl, screen)
    item = page.locator("#plan li", has_text="Sjukgymnast")
    await item.wait_for(timeout=TIMEOUT_MS)
    assert "10.30" in await item.text_content()  # Swedish 24-hour time

    await dashboard.click(f'#plan-entries [data-delete="{entry["id"]}"]')
    await dashboard.locator("#plan-entries li", has_text="Sjukgymnast").wait_for(
        state="detached", timeout=TIMEOUT_MS
    )
    assert await _entries(ctl, "213") == []
    _status, activity = await ctl.call("GET", "/api/activity", params={"apartment": "213"})
    actions = [
        r["action"] for r in activity["activity"] if r["subject"] == f"plan entry {entry['id']}"
    ]
    assert sorted(actions) == ["plan_entry_added", "plan_entry_deleted"]


async def test_bad_plan_entries_and_wrong_callers_are_refused(ctl: RunningController) -> None:
    zone = ctl.controller.site.zone
    yesterday = (ctl.controller.clock.now().astimezone(zone) - timedelta(days=1)).date()
    for body, field in (
        ({"text": "Frisör", "at": "25:00"}, "at"),
        ({"text": ""}, "text"),
        ({"text": "Frisör", "day": yesterday.isoformat()}, "day"),
        ({"text": "Frisör", "colour": "red"}, "colour"),
    ):
        status, answer = await ctl.call("POST", "/api/apartments/212/plan", json=body)
        assert status == 400, (body, answer)
        assert field in str(answer["error"]), answer
    status, answer = await ctl.call("POST", "/api/apartments/999/plan", json={"text": "x"})
    assert (status, answer["error"]["code"]) == (404, "unknown_apartment")
    status, answer = await ctl.call("DELETE", "/api/apartments/212/plan/123456")
    assert (status, answer["error"]["code"]) == (404, "unknown_entry")
    assert await _entries(ctl, "212") == []

    async with user_sessions(ctl) as as_user:
        for username, roles, units in (
            ("plan-tech", ("technician",), ()),
            ("plan-c", ("staff",), ("C",)),
        ):
            other = await as_user(username, roles, units=units)
            async with other.post("/api/apartments/212/plan", json={"text": "x"}) as resp:
                assert resp.status == 403, username  # 212 is wing D; C's staff may not
            async with other.get("/api/apartments/212/plan") as resp:
                assert resp.status == 403, username
    assert await _entries(ctl, "212") == []


async def test_a_plan_entry_the_store_cannot_take_is_a_503_and_nothing_is_kept(
    mosquitto, tmp_path, monkeypatch
) -> None:
    """The errors middleware answers a store failure 503 ``store_unavailable``."""
    # the store waits this long for a lock another holds (10 s in service): 1 s here
    monkeypatch.setattr(engine, "SQLITE_BUSY_TIMEOUT_MS", 1_000)
    own = await start_controller(
        mosquitto.address,
        mosquitto.site,
        mosquitto.credentials,
        tmp_path / "plan.sqlite",
        client_id="test-plan-store-ctl",
    )
    holder = sqlite3.connect(tmp_path / "plan.sqlite", isolation_level=None, timeout=0)
    try:
        async with asyncio.timeout(20):
            while True:  # the daemon's own short writes may hold the lock a moment
                try:
                    holder.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError:
                    await asyncio.sleep(0.01)
        status, body = await own.call("POST", "/api/apartments/101/plan", json={"text": "x"})
        assert (status, body["error"]["code"]) == (503, "store_unavailable"), body
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    try:
        assert await _entries(own, "101") == []
    finally:
        await own.stop()
