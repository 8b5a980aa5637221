"""The response-time report on a real daemon: alarms raised by the simulated home's
screens, taken, marked on site and closed through the API while the controller's clock
shows a chosen night (the one the clocks go forward, 27-28 March 2027), then read as
JSON, as SVG charts and as the XLSX export (opened with openpyxl)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from openpyxl import load_workbook

from controller.auth.accounts import ensure_user, random_password
from controller.auth.tokens import create_user_token
from controller.daemon import Controller, ControllerConfig
from controller.store import open_store
from tests.conftest import BrokerUnderTest

from .harness import TIMEOUT_MS, RunningHome, make_test_users, wait_all_online
from .test_alarms import ShownClock, _launch, alarm_of, screen, ws_alarm

QUERY = {"from": "2027-03-27", "to": "2027-03-27"}


def seconds(expected: Any) -> Any:
    """The shown clock runs on between steps (milliseconds): equal within 5 s."""
    return pytest.approx(expected, abs=5)


@dataclass
class NightDaemon:
    """A controller on its own store showing ``clock``; HTTP sessions of an admin (who
    is staff in every wing) and of a staff member without the admin role."""

    controller: Controller
    clock: ShownClock
    admin: aiohttp.ClientSession
    staff: aiohttp.ClientSession
    passwords: dict[str, str]


@contextlib.asynccontextmanager
async def night_controller(
    mosquitto: BrokerUnderTest, tmp_path: Path, clock: ShownClock
) -> AsyncIterator[NightDaemon]:
    """A :class:`NightDaemon` for the test."""
    db_url = f"sqlite:///{tmp_path / 'report.sqlite'}"
    store = open_store(db_url)
    await store.open()
    try:
        now = clock.now()
        passwords = await make_test_users(store, mosquitto.site, now=now)
        admin, _ = await create_user_token(store, username="test-staff", name="t", now=now)
        await ensure_user(
            store,
            username="nurse-b",
            password=random_password("nurse-b"),
            roles=("staff",),
            units=("B",),
            now=now,
        )
        staff, _ = await create_user_token(store, username="nurse-b", name="t", now=now)
    finally:
        await store.close()
    config = ControllerConfig(
        broker=mosquitto.address,
        site=mosquitto.site,
        credentials=mosquitto.credentials,
        db_url=db_url,
        http_port=0,
        client_id="test-report-ctl",
        stale_factor=10_000.0,  # the clock jumps: no staleness from that
    )
    controller = Controller(config, clock=clock)
    task = await _launch(controller)
    sessions = [
        aiohttp.ClientSession(
            base_url=controller.http_url, headers={"Authorization": f"Bearer {token}"}
        )
        for token in (admin, staff)
    ]
    try:
        yield NightDaemon(controller, clock, sessions[0], sessions[1], passwords)
    finally:
        for session in sessions:
            await session.close()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


async def act(http: aiohttp.ClientSession, alarm_id: int, action: str, **body: Any) -> None:
    async with http.post(f"/api/alarms/{alarm_id}/{action}", json=body) as resp:
        assert resp.status == 200, await resp.text()


async def command(http: aiohttp.ClientSession, device: str, action: str, **body: Any) -> None:
    async with http.post(f"/api/devices/{device}/commands", json={"action": action, **body}) as r:
        answer = await r.json()
        assert (r.status, answer["outcome"]) == (200, "ok"), answer


def at(hour: int, minute: int, day: int = 27) -> datetime:
    """Local time in the home (Europe/Stockholm) in the night of 27-28 March 2027."""
    return datetime(2027, 3, day, hour, minute, tzinfo=ZoneInfo("Europe/Stockholm"))


async def handle_two_help_calls(night: NightDaemon, home: RunningHome) -> None:
    """The night's story: 101 (wing A) taken after 3 min, on site after 7, closed after
    15, its door unlocked (emergency) and locked again; 201 (wing C) at 03.30 CEST
    (after the skipped hour) nobody takes for 6 min (one escalation), on site after 8,
    closed after 20."""
    clock, admin = night.clock, night.admin
    await wait_all_online(night.controller)
    async with admin.ws_connect("/api/ws") as ws:
        assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
        clock.show(at(22, 0))
        screen(home, "a101-screen").press_help()
        first = await ws_alarm(ws, alarm_of("help", "a101-screen"))
        clock.show(at(22, 3))
        await act(admin, first["id"], "ack")
        await command(admin, "a101-lock", "unlock", reason="emergency: larm från skärmen")
        clock.show(at(22, 7))
        await act(admin, first["id"], "on_site")
        await command(admin, "a101-lock", "lock")
        clock.show(at(22, 15))
        await act(admin, first["id"], "close", note="hjälpte Astrid till toaletten")

        clock.show(at(3, 30, day=28))
        screen(home, "a201-screen").press_help()
        second = await ws_alarm(ws, alarm_of("help", "a201-screen"))
        clock.show(at(3, 36, day=28))
        escalated = await ws_alarm(ws, alarm_of("help", "a201-screen", "escalated"))
        assert escalated["escalations"] == 1
        clock.show(at(3, 38, day=28))
        await act(admin, second["id"], "on_site")  # taking it by arriving
        clock.show(at(3, 50, day=28))
        await act(admin, second["id"], "close", note="ville ha vatten")
    clock.show(at(9, 0, day=28))


async def test_report_of_a_dst_night_from_alarms_handled_on_a_real_daemon(
    mosquitto: BrokerUnderTest, home: RunningHome, tmp_path: Path
) -> None:
    clock = ShownClock()
    clock.show(at(21, 55))
    async with night_controller(mosquitto, tmp_path, clock) as night:
        await handle_two_help_calls(night, home)
        controller, admin, staff = night.controller, night.admin, night.staff
        async with staff.get("/api/reports/response-times", params=QUERY) as resp:
            assert resp.status == 403  # staff without the admin role
        async with admin.get("/api/reports/response-times", params=QUERY) as resp:
            assert resp.status == 200, await resp.text()
            report = await resp.json()

        assert report["night_window"] == "21:00-07:00"
        [night] = report["nights"]
        assert (night["night"], night["hours"]) == ("2027-03-27", 9.0)
        assert night["kinds"] == {"help": 2}
        steps = {
            "taken": (330, 480),  # 3 and 8 minutes
            "on_site": (450, 480),  # 7 and 8
            "closed": (1050, 1200),  # 15 and 20
        }
        for step, (median, longest) in steps.items():
            expected = {"count": 2, "median": median, "p90": longest, "max": longest}
            assert night[step] == seconds(expected), step
        assert night["escalations"] == {"steps": 1, "alarms_escalated": 1, "never_taken": 0}
        wings = {w["wing"]: w for w in report["wings"]}
        assert wings["A"]["taken"]["median"] == seconds(180.0)
        assert wings["C"]["on_site"]["max"] == seconds(480.0)
        assert wings["B"]["alarms"] == 0
        assert report["unlocks_by_reason"] == {"emergency": 1}
        assert night["unlocks"] == 1

        async with admin.get("/api/reports/response-times/wings.svg", params=QUERY) as resp:
            assert resp.status == 200
            assert resp.content_type == "image/svg+xml"
            svg = await resp.text()
        assert svg.startswith("<svg")
        assert "A · Kvitterat" in svg
        assert ">3,0<" in svg  # wing A taken after 3 minutes, Swedish decimal comma

        for bad, code in (
            ({"from": "2027-03-28", "to": "2027-03-01"}, "bad_report_period"),
            ({"from": "2027-01-01", "to": "2027-12-31"}, "bad_report_period"),
            ({**QUERY, "night": "25:00-07:00"}, "bad_report_period"),
            ({"from": "igår"}, "bad_query"),
            ({**QUERY, "lang": "de"}, "bad_query"),
            ({**QUERY, "wing": "A"}, "bad_query"),
        ):
            async with admin.get("/api/reports/response-times", params=bad) as resp:
                assert resp.status == 400, bad
                assert (await resp.json())["error"]["code"] == code, bad

        async with admin.get("/api/reports/response-times.xlsx", params=QUERY) as resp:
            assert resp.status == 200, await resp.text()
            assert "attachment" in resp.headers["Content-Disposition"]
            book = load_workbook(io.BytesIO(await resp.read()))
        assert book.sheetnames == [
            "Sammanfattning",
            "Flyglar",
            "Nätter",
            "Larmtyper",
            "Upplåsningar",
        ]
        nights = book["Nätter"]
        headers = [c.value for c in nights[1]]
        row = dict(zip(headers, [c.value for c in nights[2]], strict=True))
        assert row["Timmar"] == 9.0
        assert row["Larm"] == 2
        assert row["Kvitterat: median (min)"] == pytest.approx(5.5, abs=0.1)
        assert row["Avslutat: längsta (min)"] == pytest.approx(20.0, abs=0.1)
        assert row["Obesvarade eskaleringar"] == 1
        assert row["Hjälplarm"] == 2
        flyglar = {r[0]: r for r in book["Flyglar"].iter_rows(min_row=2, values_only=True)}
        assert flyglar["A"][1] == 1
        assert flyglar["A"][3] == pytest.approx(3.0, abs=0.1)  # taken, median minutes
        unlocks = list(book["Upplåsningar"].iter_rows(min_row=2, values_only=True))
        assert unlocks == [("Nödläge", 1)]
        activity = await controller.store.activity(action="report_export")
        assert [a.actor for a in activity] == ["test-staff"]


VIEWPORTS = ((390, 844), (768, 1024), (1024, 768))
REPORT_PAGE = "/ui/report.html?from=2027-03-27&to=2027-03-27"


async def test_report_page_on_a_phone_and_both_tablets_and_printed(
    mosquitto: BrokerUnderTest, home: RunningHome, tmp_path: Path, browser, artifacts: Path
) -> None:
    clock = ShownClock()
    clock.show(at(21, 55))
    async with night_controller(mosquitto, tmp_path, clock) as night:
        await handle_two_help_calls(night, home)
        url = night.controller.http_url
        for width, height in VIEWPORTS:
            context = await browser.new_context(
                viewport={"width": width, "height": height}, locale="sv-SE"
            )
            page = await context.new_page()
            await page.goto(f"{url}/ui/login.html")
            await page.fill("#username", "test-staff")
            await page.fill("#password", night.passwords["test-staff"])
            await page.click("#login-button")
            # the dashboard offers the report to an admin
            await page.wait_for_selector("#nav-report:not([hidden])", timeout=TIMEOUT_MS)
            await page.click("#nav-report")
            await page.wait_for_url("**/ui/report.html", timeout=TIMEOUT_MS)
            await page.goto(f"{url}{REPORT_PAGE}")
            await page.wait_for_selector(
                'body[data-loaded="2027-03-27/2027-03-27"]', timeout=TIMEOUT_MS
            )
            row = page.locator('#nights-table tr[data-key="2027-03-27"]')
            cells = await row.locator("th, td").all_text_contents()
            # night of, hours, alarms, then taken/on site/closed: median, p90, longest
            assert cells[0] == "lör 27/3–sön 28/3"  # the night by both its dates
            assert cells[1:3] == ["9", "2"]
            assert cells[3] == "5,5"  # taken, median minutes (3 and 8), Swedish comma
            assert cells[5] == "8,0"  # taken, longest
            assert cells[11] == "20,0"  # closed, longest
            wing_a = await page.locator(
                '#wings-table tr[data-key="A"] th, #wings-table tr[data-key="A"] td'
            ).all_text_contents()
            assert wing_a[:4] == ["A", "1", "1", "3,0"]
            reasons = await page.locator("#unlocks-table tbody tr").all_text_contents()
            assert reasons == ["Nödläge1"]
            for chart in ("#wings-chart", "#nights-chart"):
                await page.wait_for_function(
                    "(sel) => { const img = document.querySelector(sel); "
                    "return img.complete && img.naturalWidth > 0; }",
                    arg=chart,
                    timeout=TIMEOUT_MS,
                )
            href = await page.get_attribute("#xlsx", "href")
            assert href is not None
            assert "from=2027-03-27" in href
            # nothing wider than the screen: wide tables scroll inside their box
            overflow = await page.evaluate(
                "document.scrollingElement.scrollWidth - window.innerWidth"
            )
            wide = await page.evaluate(
                "[...document.querySelectorAll('body *')].filter(e => !e.closest('.scroll') && "
                "e.getBoundingClientRect().right > document.documentElement.clientWidth)"
                ".map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' "
                "+ e.getBoundingClientRect().right)"
            )
            assert overflow <= 0, (width, overflow, wide)
            await page.screenshot(
                path=str(artifacts / f"report-{width}x{height}.png"), full_page=True
            )
            await context.close()

        # printed: no form or buttons, the tables and charts
        context = await browser.new_context(viewport={"width": 1024, "height": 768})
        page = await context.new_page()
        await page.goto(f"{url}/ui/login.html")
        await page.fill("#username", "test-staff")
        await page.fill("#password", night.passwords["test-staff"])
        await page.click("#login-button")
        await page.wait_for_selector("#nav-report:not([hidden])", timeout=TIMEOUT_MS)
        await page.goto(f"{url}{REPORT_PAGE}")
        await page.wait_for_selector('body[data-loaded="2027-03-27/2027-03-27"]')
        await page.emulate_media(media="print")
        assert not await page.is_visible("#report-form")
        assert await page.is_visible("#nights-table")
        await page.screenshot(path=str(artifacts / "report-print.png"), full_page=True)
        await page.pdf(path=str(artifacts / "report.pdf"), format="A4")
        await context.close()
