"""The room screen's kiosk page in real Chromium against the real daemon, Mosquitto and
staff dashboard: call staff (confirmed only once the controller has it), the alarm on
the dashboard, the acknowledgement back on the screen, curtains, credentials,
screenshots at 1280×800 and 800×480."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import aiohttp

from controller.bus_messages import CommandResolved
from devices.clock import SystemClock

from ..harness import RunningController, wait_twin
from .conftest import TIMEOUT_MS, home_time, open_kiosk, screen_token, sign_in_dashboard


def help_alarm(page, apartment: str, state: str):
    return page.locator(
        f'#alarm-panel article[data-kind="help"][data-state="{state}"]'
        f':has(a[href="#/apartment/{apartment}"])'
    )


async def test_call_staff_alarms_the_dashboard_and_the_screen_shows_the_acknowledgement(
    ctl: RunningController, kiosk, new_page, artifacts: Path
) -> None:
    screen = await kiosk("213")
    dashboard = await sign_in_dashboard(new_page, ctl)
    kiosk_page = await open_kiosk(new_page, ctl, screen)
    await kiosk_page.click("#call-staff")
    await kiosk_page.wait_for_selector('#help-status[data-state="confirmed"]', timeout=TIMEOUT_MS)
    assert await kiosk_page.text_content("#help-status") == "Personalen är kallad"
    await help_alarm(dashboard, "213", "open").wait_for(timeout=TIMEOUT_MS)
    await kiosk_page.screenshot(path=str(artifacts / "screen-help-called.png"))

    await help_alarm(dashboard, "213", "open").locator('button[data-act="ack"]').click()  # one tap
    await kiosk_page.wait_for_selector(
        '#help-status[data-state="acknowledged"]', timeout=TIMEOUT_MS
    )
    staff = await ctl.controller.store.user_by_name("test-staff")
    assert staff is not None
    name = staff.display_name or "test-staff"
    assert await kiosk_page.text_content("#help-status") == f"{name} har sett ditt larm"
    await kiosk_page.screenshot(path=str(artifacts / "screen-help-acknowledged.png"))

    # on site: the screen says the staff member is with the resident, not on the way
    await help_alarm(dashboard, "213", "acknowledged").locator('button[data-act="on_site"]').click()
    await kiosk_page.wait_for_selector('#help-status[data-state="on-site"]', timeout=TIMEOUT_MS)
    assert await kiosk_page.text_content("#help-status") == f"{name} är hos dig"
    await kiosk_page.screenshot(path=str(artifacts / "screen-help-on-site.png"))
    await help_alarm(dashboard, "213", "on_site").locator('button[data-act="close"]').click()
    await dashboard.fill("#close-note", "Hjälpte Gunnar upp ur sängen")
    await dashboard.click("#close-confirm")
    await kiosk_page.wait_for_selector("#help-status", state="hidden", timeout=TIMEOUT_MS)


async def test_a_help_press_is_shown_as_called_only_once_the_controller_has_it(
    ctl: RunningController, kiosk, new_page
) -> None:
    screen = await kiosk("213")
    kiosk_page = await open_kiosk(new_page, ctl, screen)
    firmware = ctl.controller.screens.device(screen.device)
    assert firmware is not None
    firmware.go_offline()  # the screen's MQTT connection is cut: the press cannot arrive
    await wait_twin(ctl.controller, screen.device, lambda t: t.reachability.value == "offline")
    await kiosk_page.click("#call-staff")
    await kiosk_page.wait_for_selector('#help-status[data-state="sending"]', timeout=TIMEOUT_MS)
    assert await kiosk_page.is_disabled("#call-staff")
    _status, alarms = await ctl.call("GET", "/api/alarms", params={"state": "active"})
    assert not [a for a in alarms["alarms"] if a["apartment"] == "213" and a["kind"] == "help"]
    assert await kiosk_page.get_attribute("#help-status", "data-state") == "sending"

    firmware.come_online()
    await kiosk_page.wait_for_selector('#help-status[data-state="confirmed"]', timeout=TIMEOUT_MS)
    _status, alarms = await ctl.call("GET", "/api/alarms", params={"state": "active"})
    mine = [a for a in alarms["alarms"] if a["apartment"] == "213" and a["kind"] == "help"]
    assert len(mine) == 1
    status, _ = await ctl.call(
        "POST", f"/api/alarms/{mine[0]['id']}/close", json={"note": "test over"}
    )
    assert status == 200


async def test_curtain_buttons_command_the_apartments_curtain_as_the_screen(
    ctl: RunningController, kiosk, new_page
) -> None:
    screen = await kiosk("213")
    kiosk_page = await open_kiosk(new_page, ctl, screen, 800, 480)
    for button, action in (("#curtains-close", "close"), ("#curtains-open", "open")):
        with ctl.controller.bus.subscribe(CommandResolved) as sub:
            await kiosk_page.click(button)
            async with asyncio.timeout(10):
                while True:
                    done = await sub.get()
                    if done.device == "a213-curtain" and done.action == action:
                        break
        assert (done.outcome, done.actor) == ("ok", "screen-213")
        assert done.reason == "resident on the room screen"
    await wait_twin(
        ctl.controller,
        "a213-curtain",
        lambda t: (
            t.reported is not None
            and (
                t.reported.target == 100
                or (t.reported.motion, t.reported.position) == ("idle", 100)
            )
        ),
        timeout=10,
    )


async def test_only_a_screen_credential_opens_the_screen_page(ctl: RunningController) -> None:
    async with aiohttp.ClientSession(base_url=ctl.controller.http_url) as http:
        async with http.ws_connect("/api/screen/ws") as ws:  # a staff token is no screen
            await ws.send_json({"type": "hello", "token": ctl.token})
            assert (await ws.receive_json(timeout=5))["code"] == "forbidden"
        token = await screen_token(ctl, "216")
        async with http.ws_connect("/api/screen/ws") as ws:  # no hello: refused
            await ws.send_json({"type": "call"})
            assert (await ws.receive_json(timeout=5))["code"] == "no_hello"
        async with http.get(
            "/api/devices", headers={"Authorization": f"Bearer {token}"}
        ) as resp:  # a screen may not list or command devices
            assert resp.status == 403


async def test_screenshots_idle_message_and_incoming_call_at_both_sizes(
    ctl: RunningController, kiosk, new_page, artifacts: Path
) -> None:
    screen = await kiosk("216")
    for width, height in ((1280, 800), (800, 480)):
        page = await open_kiosk(new_page, ctl, screen, width, height)
        await page.wait_for_selector("#clock:not(:text('--.--'))", timeout=TIMEOUT_MS)
        clock = await page.text_content("#clock")
        assert clock is not None
        assert clock[2] == "."  # Swedish 24-hour time, 14.30
        await page.screenshot(path=str(artifacts / f"screen-idle-{width}x{height}.png"))

        status, body = await ctl.command(
            screen.device,
            "show_message",
            # ends after the page's pinned 10.00 (without an end it would end at 06.00
            # when the suite runs at night, and the page would rightly hide it)
            args={
                "text": "Lunch serveras klockan 12.00 i matsalen",
                "from": "Personalen",
                "until": (home_time(ctl, 10) + timedelta(hours=2)).isoformat(),
            },
        )
        assert status == 200, body
        await page.wait_for_selector("#message:not([hidden])", timeout=TIMEOUT_MS)
        await page.screenshot(path=str(artifacts / f"screen-message-{width}x{height}.png"))
        status, body = await ctl.command(screen.device, "clear_message")
        assert status == 200, body

        status, body = await ctl.command(
            screen.device, "ring", args={"call_id": f"shot{width}", "caller": "Anna Lindqvist"}
        )
        assert status == 200, body
        await page.wait_for_selector("#incoming:not([hidden])", timeout=TIMEOUT_MS)
        await page.screenshot(path=str(artifacts / f"screen-incoming-{width}x{height}.png"))
        status, body = await ctl.command(screen.device, "end_call")
        assert status == 200, body
        await page.wait_for_selector("#incoming", state="hidden", timeout=TIMEOUT_MS)
        await page.context.close()


async def test_a_revoked_screen_token_cuts_the_page_off(
    ctl: RunningController, kiosk, new_page
) -> None:
    screen = await kiosk("216")
    page = await open_kiosk(new_page, ctl, screen, 800, 480)
    store = ctl.controller.store
    mine = [t for t in await store.list_tokens() if t.actor == "screen-216" and not t.revoked_at]
    for token in mine:
        await store.revoke_token(token.id, SystemClock().now())
    await page.click("#curtains-open")  # the next action is refused
    await page.wait_for_selector('#no-token[data-code="bad_token"]', timeout=TIMEOUT_MS)


async def _next_of(ws, kind: str) -> dict:
    while True:
        msg = await ws.receive_json(timeout=5)
        if msg["type"] == kind:
            return msg


async def test_bad_messages_on_the_screen_socket_get_an_error_and_change_nothing(
    ctl: RunningController, kiosk
) -> None:
    screen = await kiosk("213")
    async with (
        aiohttp.ClientSession(base_url=ctl.controller.http_url) as http,
        http.ws_connect("/api/screen/ws") as ws,
    ):
        await ws.send_json({"type": "hello", "token": screen.token})
        welcome = await _next_of(ws, "welcome")
        assert welcome["device"] == screen.device
        await ws.send_str("not json")
        assert (await _next_of(ws, "error"))["code"] == "bad_message"
        await ws.send_json({"type": "help"})  # no press id
        assert (await _next_of(ws, "error"))["code"] == "bad_message"
        await ws.send_json({"type": "curtain", "action": "explode"})
        assert (await _next_of(ws, "error"))["code"] == "bad_message"
        await ws.send_json({"type": "hangup", "call_id": "someone-elses"})
        await ws.send_json({"type": "signal", "call_id": "someone-elses", "data": {"sdp": 1}})
        await ws.send_json({"type": "plan"})
        assert isinstance((await _next_of(ws, "plan"))["items"], list)  # still serving
    _status, alarms = await ctl.call("GET", "/api/alarms", params={"state": "active"})
    assert not [a for a in alarms["alarms"] if a["apartment"] == "213" and a["kind"] == "help"]
    status, audit = await ctl.call("GET", "/api/audit", params={"device": "a213-curtain"})
    assert status == 200
    assert "explode" not in {r["action"] for r in audit["audit"]}
