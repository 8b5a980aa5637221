"""The dashboard's schedules page in real headless Chromium against the real daemon:
create a routine from the form and see its next firing, pause and resume it, see a
bad rule refused with the field named, schedule a one-off command, delete, take over
a schedule whose owner was disabled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.i18n_strings import strings

from .harness import TIMEOUT_MS, RunningController, sign_in, user_sessions


async def _open_schedules(page, ctl: RunningController) -> None:
    await sign_in(page, ctl)
    await page.click('header nav a[href="#/schedules"]')
    await page.wait_for_selector("#schedules[data-loaded]", timeout=TIMEOUT_MS)


def _row(page, name: str):
    return page.locator("#schedule-rows tr", has_text=name)


async def _schedule_id(ctl: RunningController, name: str) -> str:
    _status, body = await ctl.call("GET", "/api/schedules")
    return next(s["id"] for s in body["schedules"] if s["name"] == name)


async def test_create_pause_resume_and_delete_a_routine_from_the_page(
    page, ctl: RunningController, artifacts: Path
) -> None:
    await _open_schedules(page, ctl)
    form = page.locator("#schedule-form")
    await form.locator("[name=name]").fill("Kvällsgardiner B")
    await form.locator("[name=target_kind]").select_option("wing")
    await form.locator("[name=target_value]").select_option("B")
    await form.locator("[name=action]").select_option("close")
    await form.locator("[name=rule]").select_option("weekdays")
    await form.locator("[name=time]").fill("21:15")
    for day in ("mon", "wed", "fri"):
        await form.locator(f"[name=wd][value={day}]").check()
    await form.locator("button[type=submit]").click()

    row = _row(page, "Kvällsgardiner B")
    await row.wait_for(timeout=TIMEOUT_MS)
    schedule_id = await _schedule_id(ctl, "Kvällsgardiner B")
    try:
        _status, stored = await ctl.call("GET", f"/api/schedules/{schedule_id}")
        assert stored["rule"] == {
            "kind": "weekdays",
            "time": "21:15",
            "weekdays": ["mon", "wed", "fri"],
        }
        assert stored["target"] == {"kind": "wing", "value": "B"}
        # The page shows the server's next firing: 21:15 local on a Mon/Wed/Fri.
        shown = await row.locator(".next time").get_attribute("datetime")
        assert shown == stored["next_firing"]["at"]
        local = datetime.fromisoformat(stored["next_firing"]["local"])
        assert (local.hour, local.minute, local.weekday()) in {(21, 15, d) for d in (0, 2, 4)}
        await page.screenshot(path=str(artifacts / "schedules.png"), full_page=True)

        await row.locator('button[data-op="pause"]').click()
        await page.wait_for_selector(
            f'tr[data-schedule="{schedule_id}"][data-enabled="false"]', timeout=TIMEOUT_MS
        )
        _status, paused = await ctl.call("GET", f"/api/schedules/{schedule_id}")
        assert paused["enabled"] is False
        await _row(page, "Kvällsgardiner B").locator('button[data-op="resume"]').click()
        await page.wait_for_selector(
            f'tr[data-schedule="{schedule_id}"][data-enabled="true"]', timeout=TIMEOUT_MS
        )
    finally:
        page.once("dialog", lambda dialog: dialog.accept())
        await _row(page, "Kvällsgardiner B").locator('button[data-op="delete"]').click()
        await _row(page, "Kvällsgardiner B").wait_for(state="detached", timeout=TIMEOUT_MS)
    status, _body = await ctl.call("GET", f"/api/schedules/{schedule_id}")
    assert status == 404


async def test_a_bad_rule_is_refused_on_the_page_and_nothing_is_stored(
    page, ctl: RunningController
) -> None:
    await _open_schedules(page, ctl)
    _status, before = await ctl.call("GET", "/api/schedules")
    form = page.locator("#schedule-form")
    await form.locator("[name=name]").fill("Utan dagar")
    await form.locator("[name=target_kind]").select_option("apartment")
    await form.locator("[name=target_value]").select_option("101")
    await form.locator("[name=action]").select_option("lock")
    await form.locator("[name=rule]").select_option("weekdays")  # and no day ticked
    await form.locator("button[type=submit]").click()
    problem = page.locator('#schedule-errors li[data-field^="rule"]')
    await problem.first.wait_for(timeout=TIMEOUT_MS)
    _status, after = await ctl.call("GET", "/api/schedules")
    assert len(after["schedules"]) == len(before["schedules"])


async def test_a_one_off_remote_command_with_a_follow_up_is_listed(
    page, ctl: RunningController
) -> None:
    await _open_schedules(page, ctl)
    at = (datetime.now(ctl.controller.site.zone) + timedelta(hours=3)).strftime("%H:%M")
    form = page.locator("#remote-form")
    await form.locator("[name=target_kind]").select_option("apartment")
    await form.locator("[name=target_value]").select_option("103")
    await form.locator("[name=action]").select_option("unlock")
    await form.locator("[name=at]").fill(at)
    await form.locator("[name=then]").select_option("lock")
    await form.locator("[name=after]").fill("30")
    await form.locator("[name=name]").fill("sjukgymnast 103")
    await form.locator("button[type=submit]").click()
    await _row(page, "sjukgymnast 103").first.wait_for(timeout=TIMEOUT_MS)
    _status, body = await ctl.call("GET", "/api/schedules")
    made = [s for s in body["schedules"] if s["name"].startswith("sjukgymnast 103")]
    try:
        assert sorted(s["action"] for s in made) == ["lock", "unlock"]
        unlock = next(s for s in made if s["action"] == "unlock")
        relock = next(s for s in made if s["action"] == "lock")
        first = datetime.fromisoformat(unlock["next_firing"]["at"])
        then = datetime.fromisoformat(relock["next_firing"]["at"])
        assert then - first == timedelta(minutes=30)
        assert first.astimezone(ctl.controller.site.zone).strftime("%H:%M") == at
    finally:
        for s in made:
            await ctl.call("DELETE", f"/api/schedules/{s['id']}")


async def test_an_admin_takes_over_a_suspended_schedule_on_the_page(
    page, ctl: RunningController
) -> None:
    """Eve's schedule is shown suspended (with why) once she is disabled; the admin's
    "take over" button makes it the admin's, and it is no longer suspended."""
    body = {
        "name": "Eves gardiner",
        "target": "wing:A",
        "action": "close",
        "rule": {"kind": "daily", "time": "21:45"},
    }
    async with user_sessions(ctl) as make:
        eve = await make("eve-page", ("staff",), units=("A",))
        async with eve.post("/api/schedules", json=body) as resp:
            assert resp.status == 201, await resp.text()
            schedule_id = (await resp.json())["id"]
    try:
        status, _ = await ctl.call("PATCH", "/api/users/eve-page", json={"disabled": True})
        assert status == 200
        await _open_schedules(page, ctl)
        row = page.locator(f'tr[data-schedule="{schedule_id}"][data-suspended="true"]')
        await row.wait_for(timeout=TIMEOUT_MS)
        why = await row.locator(".suspended").inner_text()
        assert why == f"{strings('sv')['suspended']}: {strings('sv')['suspended_why']}", why
        await row.locator('button[data-op="take-over"]').click()
        taken = page.locator(f'tr[data-schedule="{schedule_id}"][data-suspended="false"]')
        await taken.wait_for(timeout=TIMEOUT_MS)
        assert await taken.locator(".owner").inner_text() == "test-staff"
        assert await taken.locator('button[data-op="take-over"]').count() == 0
        _status, stored = await ctl.call("GET", f"/api/schedules/{schedule_id}")
        assert (stored["owner"], stored["suspended"]) == ("test-staff", None)
    finally:
        await ctl.call("DELETE", f"/api/schedules/{schedule_id}")


async def test_weekday_boxes_only_for_the_weekday_rule_and_summaries_in_the_site_zone(
    page, ctl: RunningController, artifacts: Path
) -> None:
    """Issue 17 item 7: the weekday boxes are hidden for 'Varje dag' (they were shown for
    every rule, and ticking lör+sön there silently made a daily rule); a rule on lör+sön
    is summarised in Swedish; a one-off's time is shown in the site's zone, not UTC."""
    await _open_schedules(page, ctl)
    form = page.locator("#schedule-form")
    boxes = form.locator("fieldset.weekdays")
    await form.locator("[name=rule]").select_option("daily")
    assert not await boxes.is_visible()
    await form.locator("[name=rule]").select_option("weekdays")
    assert await boxes.is_visible()
    await form.locator("[name=name]").fill("Helggardiner 102")
    await form.locator("[name=target_kind]").select_option("apartment")
    await form.locator("[name=target_value]").select_option("102")
    await form.locator("[name=action]").select_option("open")
    await form.locator("[name=time]").fill("10:00")
    for day in ("sat", "sun"):
        await form.locator(f"[name=wd][value={day}]").check()
    await form.locator("button[type=submit]").click()
    weekend = _row(page, "Helggardiner 102")
    await weekend.wait_for(timeout=TIMEOUT_MS)
    once_at = (datetime.now().astimezone() + timedelta(days=30)).replace(
        hour=20, minute=5, second=0, microsecond=0
    )
    status, once = await ctl.call(
        "POST",
        "/api/schedules",
        json={
            "name": "Engångs 103",
            "target": "apartment:103",
            "action": "close",
            "rule": {"kind": "once", "at": once_at.astimezone(UTC).isoformat()},
        },
    )
    assert status in (200, 201), once
    try:
        _status, stored = await ctl.call(
            "GET", f"/api/schedules/{await _schedule_id(ctl, 'Helggardiner 102')}"
        )
        assert stored["rule"]["kind"] == "weekdays"
        assert stored["rule"]["weekdays"] == ["sat", "sun"]
        summary = await weekend.locator("td").nth(1).inner_text()
        assert summary == "Gardin: Öppna · Lägenhet 102 · lör, sön kl. 10:00", summary
        await page.click('header nav a[href="#/"]')
        await page.click('header nav a[href="#/schedules"]')
        once_row = _row(page, "Engångs 103")
        await once_row.wait_for(timeout=TIMEOUT_MS)
        local = once_at.astimezone(ZoneInfo(ctl.controller.site.site.timezone))
        once_summary = await once_row.locator("td").nth(1).inner_text()
        assert f"{local:%Y-%m-%d %H:%M}" in once_summary, once_summary
        await page.screenshot(path=str(artifacts / "schedules-summaries.png"), full_page=True)
    finally:
        for name in ("Helggardiner 102", "Engångs 103"):
            status, _ = await ctl.call("DELETE", f"/api/schedules/{await _schedule_id(ctl, name)}")
            assert status in (200, 204)


async def test_an_action_s_value_is_picked_not_typed(page, ctl: RunningController) -> None:
    """Night mode on or off is chosen from På / Av (it was typed, 'nej', 'off'...)."""
    await _open_schedules(page, ctl)
    form = page.locator("#schedule-form")
    await form.locator("[name=action]").select_option("set_night_mode")
    picker = form.locator("select[name=arg]")
    await picker.wait_for(timeout=TIMEOUT_MS)
    assert await picker.locator("option").all_inner_texts() == ["På", "Av"]
    await form.locator("[name=name]").fill("Nattläge 104")
    await form.locator("[name=target_kind]").select_option("apartment")
    await form.locator("[name=target_value]").select_option("104")
    await picker.select_option("false")
    await form.locator("button[type=submit]").click()
    await _row(page, "Nattläge 104").wait_for(timeout=TIMEOUT_MS)
    schedule_id = await _schedule_id(ctl, "Nattläge 104")
    _status, stored = await ctl.call("GET", f"/api/schedules/{schedule_id}")
    assert stored["args"] == {"on": False}
    status, _ = await ctl.call("DELETE", f"/api/schedules/{schedule_id}")
    assert status in (200, 204)
