"""The staff dashboard in real headless Chromium against the real daemon, Mosquitto
and simulated firmware: sign in, unlock with a reason, see it live, alarms, language."""

from __future__ import annotations

from pathlib import Path

from .harness import TIMEOUT_MS, RunningController, RunningHome, sign_in


async def test_staff_unlocks_with_a_reason_and_sees_it_live(
    page,
    ctl: RunningController,
    artifacts: Path,
) -> None:
    status, body = await ctl.command("a105-lock", "lock", reason="test setup")
    assert status == 200, body
    await sign_in(page, ctl)
    assert await page.locator("article.cell").count() == 24
    await page.screenshot(path=str(artifacts / "overview.png"), full_page=True)
    await page.click('[data-apartment="105"] .cell-link')
    await page.wait_for_selector("#btn-unlock", timeout=TIMEOUT_MS)
    await page.click("#btn-unlock")
    await page.select_option("#unlock-reason", "care visit")
    await page.fill("#unlock-text", "morning medication")
    await page.click("#unlock-confirm")
    await page.wait_for_selector('#outcome[data-outcome="ok"]', timeout=TIMEOUT_MS)
    await page.wait_for_selector('#apt-lock[data-lock="unlocked"]', timeout=TIMEOUT_MS)
    await page.click('a[href="#/"]')
    await page.wait_for_selector(
        '[data-apartment="105"] dd.lock[data-lock="unlocked"]', timeout=TIMEOUT_MS
    )
    status, audit = await ctl.call("GET", "/api/audit", params={"device": "a105-lock"})
    resolved = next(r for r in audit["audit"] if r["kind"] == "resolved")
    assert (resolved["actor"], resolved["action"], resolved["outcome"]) == (
        "test-staff",
        "unlock",
        "ok",
    )
    assert resolved["reason"] == "care visit: morning medication"


async def test_help_press_raises_an_alarm_on_the_open_dashboard(
    page,
    ctl: RunningController,
    home: RunningHome,
    artifacts: Path,
) -> None:
    await sign_in(page, ctl)
    home.home.devices["a106-screen"].press_help()
    alarm = page.locator('#alarm-panel [data-kind="help"][data-state="open"]')
    await alarm.first.wait_for(timeout=TIMEOUT_MS)
    await page.wait_for_selector('[data-apartment="106"].has-alarm', timeout=TIMEOUT_MS)
    await page.screenshot(path=str(artifacts / "alarm.png"), full_page=True)
    await alarm.first.locator('button[data-act="ack"]').click()  # one tap takes it
    await page.wait_for_selector(
        '#alarm-panel [data-kind="help"][data-state="acknowledged"]', timeout=TIMEOUT_MS
    )
    # the comment is optional, afterwards
    mine = page.locator('#alarm-panel [data-kind="help"]:has(a:text-is("106"))')
    await mine.locator('button[data-act="comment"]').click()
    await page.fill("#note-text", "on my way")
    await page.click("#note-confirm")
    await mine.locator(".comment").wait_for(timeout=TIMEOUT_MS)
    _status, body = await ctl.call("GET", "/api/alarms", params={"state": "active"})
    taken = [a for a in body["alarms"] if a["apartment"] == "106" and a["kind"] == "help"]
    assert taken[0]["ack_comment"] == "on my way"
    assert taken[0]["acked_by"] == "test-staff"
    await mine.locator('button[data-act="close"]').click()
    await page.fill("#close-note", "resident fine")
    await page.click("#close-confirm")
    await page.wait_for_selector("#close-dialog:not([open])", state="attached", timeout=TIMEOUT_MS)


async def test_switch_to_english_and_back(page, ctl: RunningController) -> None:
    await sign_in(page, ctl)
    nav = page.locator('header nav a[href="#/"]')
    assert await nav.text_content() == "Översikt"
    await page.click("#lang-toggle")
    await page.wait_for_selector('header nav a[href="#/"]:text-is("Overview")', timeout=TIMEOUT_MS)
    assert await page.get_attribute("html", "lang") == "en"
    await page.click("#lang-toggle")
    await page.wait_for_selector('header nav a[href="#/"]:text-is("Översikt")', timeout=TIMEOUT_MS)
    _status, me = await ctl.call("GET", "/api/auth/me")
    assert me["user"]["language"] == "sv"


async def test_a_reconnect_updates_devices_without_wiping_what_is_being_typed(
    page, ctl: RunningController
) -> None:
    sockets = []

    def through(ws) -> None:  # the page's live socket, passed through to the daemon
        ws.connect_to_server()
        sockets.append(ws)

    await page.route_web_socket("**/api/ws", through)
    await sign_in(page, ctl)
    await page.goto(f"{ctl.controller.http_url}/#/apartment/115")
    await page.wait_for_selector("#apt-plan[data-loaded]", timeout=TIMEOUT_MS)
    await page.fill("#plan-form [name=text]", "Halvskriven rad")
    before = len(sockets)
    await sockets[-1].close()  # the network drops the live socket
    await page.wait_for_selector('body[data-live="down"]', timeout=TIMEOUT_MS)
    await page.wait_for_selector('body[data-live="up"]', timeout=TIMEOUT_MS)
    assert len(sockets) == before + 1  # it reconnected, and got a new snapshot
    # a device change after the reconnect still reaches the open page
    status, body = await ctl.command("a115-lock", "unlock", reason="other: test setup")
    assert (status, body["outcome"]) == (200, "ok"), body
    await page.wait_for_selector('#apt-lock[data-lock="unlocked"]', timeout=TIMEOUT_MS)
    assert await page.input_value("#plan-form [name=text]") == "Halvskriven rad"
    status, body = await ctl.command("a115-lock", "lock", reason="test setup")
    assert (status, body["outcome"]) == (200, "ok"), body
