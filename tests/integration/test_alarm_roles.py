"""Issue 17 item 8: a technician closes the technical alarm they fixed; staff act on
alarms of their own wings only; every alarm answered carries ``may``, the actions the
caller may take on it now (the page draws those buttons and no others)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from controller.auth.accounts import ensure_user, random_password
from controller.bus_messages import AlarmChanged
from devices.clock import SystemClock
from devices.firmware.lock import SimulatedLock
from devices.firmware.screen import SimulatedScreen

from .harness import TIMEOUT_MS, RunningController, RunningHome, live_message, user_sessions


async def _active(ctl: RunningController, kind: str, device: str) -> dict[str, Any]:
    """The active alarm of ``kind`` on ``device``, once raised."""
    with ctl.controller.bus.subscribe(AlarmChanged) as pushed:
        async with asyncio.timeout(15):
            while True:
                _status, body = await ctl.call("GET", "/api/alarms")
                found = [a for a in body["alarms"] if (a["kind"], a["device"]) == (kind, device)]
                if found:
                    return found[0]
                await pushed.get()


async def _close_open(ctl: RunningController, kind: str, device: str) -> None:
    """Close an alarm of ``kind`` on ``device`` that an earlier test left open (the
    session's controller is shared; one active alarm per kind and device, so a new
    press would join it instead of raising one of this test's own)."""
    _status, body = await ctl.call("GET", "/api/alarms", params={"state": "active"})
    for alarm in body["alarms"]:
        if (alarm["kind"], alarm["device"]) != (kind, device):
            continue
        path = f"/api/alarms/{alarm['id']}"
        status, closed = await ctl.call("POST", f"{path}/close", json={"note": "test setup"})
        if status == 409 and closed["error"]["code"] == "door_unlocked":
            decision = {"action": "leave_unlocked", "reason": "test setup"}
            assert (await ctl.call("POST", f"{path}/door", json=decision))[0] == 200
            status, closed = await ctl.call("POST", f"{path}/close", json={"note": "test setup"})
        assert status == 200, closed


async def _json(session: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> Any:
    async with session.request(method, path, **kw) as resp:
        return resp.status, await resp.json()


async def test_a_technician_closes_the_battery_alarm_they_fixed(
    ctl: RunningController, home: RunningHome
) -> None:
    lock = home.home.devices["a214-lock"]
    assert isinstance(lock, SimulatedLock)
    async with user_sessions(ctl) as make:
        tech = await make("tech-battery", ("technician",))
        async with tech.ws_connect("/api/ws") as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
            lock.set_battery(8)
            pushed = await live_message(
                ws,
                lambda m: (
                    m["type"] == "alarm"
                    and (m["data"]["kind"], m["data"]["device"]) == ("battery_low", "a214-lock")
                ),
            )
        assert pushed["data"]["may"] == ["ack", "on_site", "close"]
        alarm = await _active(ctl, "battery_low", "a214-lock")
        status, seen = await _json(tech, "GET", f"/api/alarms/{alarm['id']}")
        assert (status, seen["may"]) == (200, ["ack", "on_site", "close"])
        lock.set_battery(100)
        await ctl.wait_twin("a214-lock", lambda t: t.reported.battery == 100)
        status, closed = await _json(
            tech, "POST", f"/api/alarms/{alarm['id']}/close", json={"note": "nytt batteri"}
        )
        assert (status, closed["state"], closed["closed_by"]) == (200, "closed", "tech-battery")
        assert closed["may"] == []
    log = await ctl.controller.store.activity(limit=20)
    assert ("tech-battery", "alarm_close", "nytt batteri", "ok") in [
        (a.actor, a.action, a.reason, a.outcome) for a in log if a.subject == str(alarm["id"])
    ]


async def test_staff_act_on_their_wings_alarms_only_and_are_told_so(
    ctl: RunningController, home: RunningHome
) -> None:
    mine, theirs = home.home.devices["a103-screen"], home.home.devices["a203-screen"]
    assert isinstance(mine, SimulatedScreen)
    assert isinstance(theirs, SimulatedScreen)
    async with user_sessions(ctl) as make:
        anna = await make("anna-ab", ("staff",), units=("A", "B"))
        tech = await make("tech-help", ("technician",))
        await _close_open(ctl, "help", "a103-screen")
        await _close_open(ctl, "help", "a203-screen")
        mine.press_help()
        theirs.press_help()
        own = await _active(ctl, "help", "a103-screen")
        other = await _active(ctl, "help", "a203-screen")
        status, body = await _json(anna, "GET", "/api/alarms")
        may = {a["id"]: a["may"] for a in body["alarms"]}
        assert (status, may[own["id"]], may[other["id"]]) == (200, ["ack", "on_site", "close"], [])
        status, refused = await _json(anna, "POST", f"/api/alarms/{other['id']}/ack", json={})
        assert (status, refused["error"]["code"]) == (403, "forbidden")
        assert refused["error"]["details"] == {
            "refusal": "alarm",
            "kind": "help",
            "apartment": "203",
        }
        # a technician does not even see a resident's alarm, let alone close it
        status, _body = await _json(
            tech, "POST", f"/api/alarms/{own['id']}/close", json={"note": "x"}
        )
        assert status == 403
        status, body = await _json(anna, "POST", f"/api/alarms/{own['id']}/ack", json={})
        assert (status, body["state"], body["may"]) == (200, "acknowledged", ["on_site", "close"])
    # closed as any left open (a door an earlier test left unlocked is asked about first)
    await _close_open(ctl, "help", "a103-screen")
    await _close_open(ctl, "help", "a203-screen")


async def _browser_sign_in(
    browser: Any,
    ctl: RunningController,
    username: str,
    roles: tuple[str, ...],
    units: tuple[str, ...] = (),
) -> Any:
    password = random_password(username)
    await ensure_user(
        ctl.controller.store,
        username=username,
        password=password,
        roles=roles,
        units=units,
        now=SystemClock().now(),
    )
    context = await browser.new_context(viewport={"width": 768, "height": 1024}, locale="sv-SE")
    page = await context.new_page()
    await page.goto(f"{ctl.controller.http_url}/")
    await page.wait_for_url("**/ui/login.html", timeout=TIMEOUT_MS)
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-button")
    await page.wait_for_selector('body[data-live="up"]', timeout=TIMEOUT_MS)
    return page


async def test_the_dashboard_offers_each_person_only_the_alarm_buttons_they_may_use(
    browser: Any, ctl: RunningController, home: RunningHome, artifacts: Path
) -> None:
    """A technician gets Kvittera / Avsluta on a battery alarm and no Lås upp; Anna
    (wings A and B) gets nothing to press on a help alarm in wing C."""
    lock = home.home.devices["a215-lock"]
    screen = home.home.devices["a204-screen"]
    assert isinstance(lock, SimulatedLock)
    assert isinstance(screen, SimulatedScreen)
    lock.set_battery(7)
    screen.press_help()
    battery = await _active(ctl, "battery_low", "a215-lock")
    helped = await _active(ctl, "help", "a204-screen")
    tech = await _browser_sign_in(browser, ctl, "tech-ui", ("technician",))
    anna = await _browser_sign_in(browser, ctl, "anna-ui", ("staff",), ("A", "B"))
    try:
        card = tech.locator(f'#alarm-panel [data-alarm="{battery["id"]}"]')
        await card.locator('button[data-act="close"]').wait_for(timeout=TIMEOUT_MS)
        assert await card.locator('button[data-act="ack"]').count() == 1
        assert await card.locator('button[data-act="unlock"]').count() == 0
        assert await tech.locator(f'[data-alarm="{helped["id"]}"]').count() == 0
        await tech.screenshot(path=str(artifacts / "alarm-technician.png"))
        other = anna.locator(f'#alarm-panel [data-alarm="{helped["id"]}"]')
        await other.wait_for(timeout=TIMEOUT_MS)
        assert await other.locator("button[data-act]").count() == 0
        await anna.screenshot(path=str(artifacts / "alarm-other-wing.png"))
    finally:
        await tech.context.close()
        await anna.context.close()
        lock.set_battery(100)
        await ctl.wait_twin("a215-lock", lambda t: t.reported.battery == 100)
        for alarm in (battery, helped):
            await ctl.call("POST", f"/api/alarms/{alarm['id']}/close", json={"note": "test"})
