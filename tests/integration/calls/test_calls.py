"""The relatives' video link in two real Chromium contexts (fake camera) against the
real daemon and Mosquitto: invite, visiting hours, ring, accept/decline, WebRTC media
both ways, hang up from either side."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from controller.calls.invitations import Invitations
from devices.clock import ManualClock
from tests.i18n_strings import strings

from ..harness import RunningController, wait_twin
from .conftest import CONTRAST, TIMEOUT_MS, open_kiosk, sign_in_dashboard

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
    dashboard = await sign_in_dashboard(new_page, ctl)
    screen_page = await open_kiosk(new_page, ctl, screen)
    relative = await new_page(1024, 768)
    await relative.goto(link)
    await relative.wait_for_selector('#visiting[data-open="true"]', timeout=TIMEOUT_MS)

    # the relative hangs up
    await _ring_and_accept(ctl, relative, screen_page, screen.device)
    await dashboard.wait_for_selector(
        '[data-apartment="214"] .screen[data-call="active"]', timeout=TIMEOUT_MS
    )
    status, active = await ctl.call("GET", "/api/calls/active")
    assert status == 200
    assert [c["apartment"] for c in active["calls"]] == ["214"]
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


async def test_resident_declines_and_the_relative_is_told(
    ctl: RunningController, kiosk, new_page
) -> None:
    screen = await kiosk("214")
    await set_hours(ctl, "214", ["daily 00:00-24:00"])
    invitation = await invite(ctl, "214")
    screen_page = await open_kiosk(new_page, ctl, screen)
    relative = await new_page(1024, 768)
    await relative.goto(invitation["link"])
    await relative.wait_for_selector('#visiting[data-open="true"]', timeout=TIMEOUT_MS)
    await relative.click("#call")
    await screen_page.wait_for_selector("#incoming:not([hidden])", timeout=TIMEOUT_MS)
    await screen_page.click("#decline")
    await relative.wait_for_selector('#status[data-kind="declined"]', timeout=TIMEOUT_MS)
    await screen_page.wait_for_selector("#incoming", state="hidden", timeout=TIMEOUT_MS)
    _status, audit = await ctl.call("GET", "/api/audit", params={"device": screen.device})
    actions = {(r["action"], r["actor"]) for r in audit["audit"]}
    assert ("ring", f"invitation:{invitation['id']}") in actions
    status, active = await ctl.call("GET", "/api/calls/active")
    assert status == 200
    assert active["calls"] == []


async def test_outside_visiting_hours_the_call_is_refused_with_the_next_possible_time(
    ctl: RunningController, kiosk, new_page, artifacts: Path
) -> None:
    zone = ctl.controller.site.zone
    in_two_days = (datetime.now(zone) + timedelta(days=2)).date()
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[in_two_days.weekday()]
    await set_hours(ctl, "215", [f"{day} 10:00-11:30"])
    expected = datetime.combine(in_two_days, time(10, 0), tzinfo=zone)
    relative = await new_page(1024, 768)
    await relative.goto((await invite(ctl, "215"))["link"])
    await relative.wait_for_selector('#visiting[data-open="false"]', timeout=TIMEOUT_MS)
    visiting = await relative.text_content("#visiting") or ""
    assert "10.00" in visiting
    assert "du kan inte ringa" in visiting
    # "Ring" looks inactive, says why (the visiting text describes it), and keeps its
    # text readable
    assert await relative.get_attribute("#call", "aria-disabled") == "true"
    assert await relative.get_attribute("#call", "aria-describedby") == "visiting"
    looks = await relative.evaluate(CONTRAST, "#call")
    assert looks["background"] == "rgb(220, 220, 220)", looks
    assert looks["ratio"] >= 4.5, looks
    await relative.screenshot(path=str(artifacts / "call-outside-hours-1024x768.png"))
    # a press still asks the daemon, which decides (the page may be out of date);
    # Playwright counts aria-disabled as not clickable, a finger does not
    await relative.click("#call", force=True)
    await relative.wait_for_selector('#status[data-kind="refused"]', timeout=TIMEOUT_MS)
    next_open = await relative.get_attribute("#status", "data-next-open")
    assert next_open is not None
    assert datetime.fromisoformat(next_open) == expected
    assert "10.00" in await relative.text_content("#status")
    _status, audit = await ctl.call("GET", "/api/audit", params={"device": "a215-screen"})
    assert "ring" not in [r["action"] for r in audit["audit"]]


async def test_expired_and_revoked_links_get_a_clear_refusal_page(
    ctl: RunningController, new_page
) -> None:
    # a link made two days ago, valid for one day, signed with the daemon's own key
    past = ManualClock(datetime.now(UTC) - timedelta(days=2))
    token, _ = await Invitations(ctl.controller.store, past).create(  # type: ignore[arg-type]
        apartment="215", resident="x", relative="Old link", by="test-staff", valid_days=1
    )
    page = await new_page(1024, 768)
    await page.goto(f"{ctl.controller.http_url}/ui/call.html#t={token}")
    await page.wait_for_selector('#refusal[data-code="invitation_expired"]', timeout=TIMEOUT_MS)
    assert await page.text_content("#refusal-title") == "Länken har gått ut"
    assert await page.is_hidden("#lobby")

    # an open page is cut off the moment staff revoke its link, and cannot come back
    invitation = await invite(ctl, "215")
    live = await new_page(1024, 768)
    await live.goto(invitation["link"])
    await live.wait_for_selector("#lobby:not([hidden])", timeout=TIMEOUT_MS)
    status, revoked = await ctl.call("POST", f"/api/calls/invitations/{invitation['id']}/revoke")
    assert status == 200
    assert revoked["status"] == "revoked"
    await live.wait_for_selector('#refusal[data-code="invitation_revoked"]', timeout=TIMEOUT_MS)
    await live.reload()
    await live.wait_for_selector('#refusal[data-code="invitation_revoked"]', timeout=TIMEOUT_MS)
    assert await live.text_content("#refusal-title") == "Länken är återkallad"
    _status, listed = await ctl.call("GET", "/api/calls/invitations", params={"apartment": "215"})
    mine = next(i for i in listed["invitations"] if i["id"] == invitation["id"])
    assert mine["revoked_by"] == "test-staff"


async def test_a_link_token_opens_its_call_page_and_nothing_else(ctl: RunningController) -> None:
    invitation = await invite(ctl, "215")
    token = invitation["link"].split("#t=", 1)[1]
    base = ctl.controller.http_url
    async with aiohttp.ClientSession(base_url=base) as http:
        async with http.get("/api/calls/invitation", headers={"X-Invitation": token}) as resp:
            assert resp.status == 200
            assert (await resp.json())["resident"] == invitation["resident"]
        for path in (
            "/api/devices",
            "/api/devices/a215-lock",
            "/api/alarms",
            "/api/site",
            "/api/calls/invitations",
            "/api/ws",
        ):
            async with http.get(path, headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == 401, path
            async with http.get(path, headers={"X-Invitation": token}) as resp:
                assert resp.status == 401, path
        async with http.post(
            "/api/devices/a215-lock/commands",
            json={"action": "unlock", "reason": "care visit"},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            assert resp.status == 401
        # the screen socket takes screen credentials only
        async with http.ws_connect("/api/screen/ws") as ws:
            await ws.send_json({"type": "hello", "token": token})
            refusal = await ws.receive_json(timeout=5)
            assert refusal["code"] == "bad_token"
        # the signature binds the link to its invitation: another id is refused
        other = await invite(ctl, "216")
        other_id, other_expires, _ = other["link"].split("#t=", 1)[1].split(".")
        forged = ".".join([other_id, other_expires, token.split(".")[2]])
        async with http.get("/api/calls/invitation", headers={"X-Invitation": forged}) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["code"] == "invitation_invalid"
        async with http.ws_connect("/api/calls/ws") as ws:
            await ws.send_json({"type": "hello", "token": forged})
            assert (await ws.receive_json(timeout=5))["code"] == "invitation_invalid"


async def test_staff_invite_from_the_dashboard_with_a_qr_code_and_revoke_it(
    ctl: RunningController, new_page, artifacts: Path
) -> None:
    dashboard = await sign_in_dashboard(new_page, ctl)
    await dashboard.click('[data-apartment="216"] .cell-link')
    await dashboard.fill("#invite-name", "Karin Nilsson")
    await dashboard.click("#btn-invite")
    await dashboard.wait_for_selector("#invite-result:not([hidden])", timeout=TIMEOUT_MS)
    link = await dashboard.input_value("#invite-link")
    assert "/ui/call.html#t=" in link
    await dashboard.wait_for_function(
        "document.getElementById('invite-qr').naturalWidth > 100", timeout=TIMEOUT_MS
    )
    row = dashboard.locator('#invitations-body tr[data-status="valid"]', has_text="Karin Nilsson")
    await row.wait_for(timeout=TIMEOUT_MS)
    await dashboard.screenshot(path=str(artifacts / "dashboard-invitation.png"), full_page=True)

    relative = await new_page(1024, 768)
    await relative.goto(link)
    await relative.wait_for_selector("#lobby:not([hidden])", timeout=TIMEOUT_MS)
    resident = next(a.resident for a in ctl.controller.site.apartments if a.number == "216")
    assert await relative.text_content("#resident") == resident
    await row.locator("button[data-revoke]").click()
    await dashboard.locator(
        '#invitations-body tr[data-status="revoked"]', has_text="Karin Nilsson"
    ).wait_for(timeout=TIMEOUT_MS)
    await relative.wait_for_selector('#refusal[data-code="invitation_revoked"]', timeout=TIMEOUT_MS)

    # visiting hours picked by staff on the same page (days, from, to: nothing typed);
    # a window that ends before it starts is refused in Swedish and changes nothing
    await dashboard.wait_for_selector('#hours-rows[data-source="site file"]', timeout=TIMEOUT_MS)
    first = dashboard.locator("#hours-rows .hours-row").first
    await first.locator(".hours-days").select_option("mon-fri")
    await first.locator(".hours-from").fill("10:00")
    await first.locator(".hours-to").fill("12:00")
    await dashboard.click("#btn-hours-add")
    second = dashboard.locator("#hours-rows .hours-row").nth(1)
    await second.locator(".hours-days").select_option("sat")
    await second.locator(".hours-from").fill("11:00")
    await second.locator(".hours-to").fill("13:00")
    await dashboard.click("#btn-hours")
    await dashboard.wait_for_selector('#hours-rows[data-source="staff"]', timeout=TIMEOUT_MS)
    _status, hours = await ctl.call("GET", "/api/calls/visiting-hours/216")
    assert hours["windows"] == ["mon-fri 10:00-12:00", "sat 11:00-13:00"]
    await dashboard.locator("#hours-rows .hours-row .hours-to").first.fill("09:00")
    await dashboard.click("#btn-hours")
    await dashboard.wait_for_selector('#hours-outcome[data-outcome="error"]', timeout=TIMEOUT_MS)
    refusal = await dashboard.text_content("#hours-outcome") or ""
    assert refusal == strings("sv")["error_bad_visiting_hours"], refusal
    _status, after = await ctl.call("GET", "/api/calls/visiting-hours/216")
    assert after["windows"] == hours["windows"]
    await dashboard.click("#btn-hours-site")  # back to the site file's hours
    await dashboard.wait_for_selector('#hours-rows[data-source="site file"]', timeout=TIMEOUT_MS)


async def test_a_simulated_screen_without_a_browser_takes_calls_through_the_contract(
    ctl: RunningController, home
) -> None:
    """No kiosk page: the simulated firmware rings and answers; the relative is told."""
    await set_hours(ctl, "212", ["daily 00:00-24:00"])
    token = (await invite(ctl, "212"))["link"].split("#t=", 1)[1]
    firmware = home.home["a212-screen"]
    async with (
        aiohttp.ClientSession(base_url=ctl.controller.http_url) as http,
        http.ws_connect("/api/calls/ws") as ws,
    ):
        await ws.send_json({"type": "hello", "token": token})
        assert (await ws.receive_json(timeout=5))["type"] == "welcome"
        await ws.send_json({"type": "call"})
        ringing = await ws.receive_json(timeout=10)
        assert ringing["type"] == "ringing"
        await firmware.wait_state(lambda s: s.call == "ringing")
        firmware.accept_call()
        accepted = await ws.receive_json(timeout=10)
        assert accepted == {"type": "accepted", "call_id": ringing["call_id"]}
        await ws.send_json({"type": "hangup"})
        assert (await ws.receive_json(timeout=10))["type"] == "ended"
        await firmware.wait_state(lambda s: s.call == "idle")


async def test_on_a_phone_and_tablets_hang_up_is_under_the_video_and_in_reach(
    ctl: RunningController, kiosk, new_page, artifacts: Path
) -> None:
    screen = await kiosk("212")
    await set_hours(ctl, "212", ["daily 00:00-24:00"])
    link = (await invite(ctl, "212"))["link"]
    screen_page = await open_kiosk(new_page, ctl, screen)
    for width, height in ((390, 844), (768, 1024), (1024, 768)):
        relative = await new_page(width, height)
        await relative.goto(link)
        await relative.wait_for_selector('#visiting[data-open="true"]', timeout=TIMEOUT_MS)
        assert await relative.get_attribute("#call", "aria-disabled") == "false"
        await relative.screenshot(path=str(artifacts / f"call-lobby-{width}x{height}.png"))
        await _ring_and_accept(ctl, relative, screen_page, screen.device)
        video = await relative.locator("#remote-video").bounding_box()
        hangup = await relative.locator("#hangup").bounding_box()
        assert video is not None
        assert hangup is not None
        assert hangup["y"] >= video["y"] + video["height"], (width, video, hangup)
        assert hangup["y"] + hangup["height"] <= height, (width, hangup)  # no scrolling
        await relative.screenshot(path=str(artifacts / f"call-in-call-{width}x{height}.png"))
        await relative.click("#hangup")
        await screen_page.wait_for_selector("#in-call", state="hidden", timeout=TIMEOUT_MS)
        await wait_twin(ctl.controller, screen.device, lambda t: t.reported.call == "idle")
        await relative.context.close()


async def test_the_relatives_page_in_english_and_back_in_swedish(
    ctl: RunningController, new_page
) -> None:
    await set_hours(ctl, "211", ["daily 00:00-24:00"])
    link = (await invite(ctl, "211"))["link"]
    base, fragment = link.split("#", 1)
    relative = await new_page(390, 844)
    await relative.goto(f"{base}?lang=en#{fragment}")
    await relative.wait_for_selector('#visiting[data-open="true"]', timeout=TIMEOUT_MS)
    assert await relative.get_attribute("html", "lang") == "en"
    assert await relative.text_content("#call") == "Call"
    assert await relative.text_content("#hangup") == "Hang up"
    assert await relative.text_content("#visiting") == "It is visiting hours now: you can call."
    assert await relative.title() == "Tryggbo – video call"
    await relative.click("#lang-toggle")
    assert await relative.get_attribute("html", "lang") == "sv"
    assert await relative.text_content("#call") == "Ring"
    assert await relative.text_content("#visiting") == "Det är besökstid nu: du kan ringa."
    assert await relative.text_content("#lang-toggle") == "English"
    # a link that does not work, in English
    relative = await new_page(390, 844)
    await relative.goto(f"{base}?lang=en#t=nonsense")
    await relative.wait_for_selector("#refusal:not([hidden])", timeout=TIMEOUT_MS)
    assert await relative.text_content("#refusal-title") == "The link does not work"
