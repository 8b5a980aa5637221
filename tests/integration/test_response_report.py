"""The response-time report on a real daemon: alarms raised by the simulated home's
screens, taken, marked on site and closed through the API while the controller's clock
shows a chosen night (the one the clocks go forward, 27-28 March 2027), then read as
JSON, as SVG charts and as the XLSX export (opened with openpyxl)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openpyxl import load_workbook

from controller.auth.accounts import ensure_user, random_password
from controller.auth.tokens import create_user_token
from controller.daemon import Controller, ControllerConfig
from controller.store import open_store
from tests.conftest import BrokerUnderTest

from .harness import RunningHome, make_test_users, wait_all_online
from .test_alarms import ShownClock, _launch, alarm_of, screen, ws_alarm

QUERY = {"from": "2027-03-27", "to": "2027-03-27"}


def seconds(expected: Any) -> Any:
    """The shown clock runs on between steps (milliseconds): equal within 5 s."""
    return pytest.approx(expected, abs=5)


@contextlib.asynccontextmanager
async def night_controller(
    mosquitto: BrokerUnderTest, tmp_path: Path, clock: ShownClock
) -> AsyncIterator[tuple[Controller, aiohttp.ClientSession, aiohttp.ClientSession]]:
    """A controller on its own store showing ``clock``; sessions of an admin (who is
    staff in every wing) and of a staff member without the admin role."""
    db_url = f"sqlite:///{tmp_path / 'report.sqlite'}"
    store = open_store(db_url)
    await store.open()
    try:
        now = clock.now()
        await make_test_users(store, mosquitto.site, now=now)
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
        yield controller, sessions[0], sessions[1]
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


async def test_report_of_a_dst_night_from_alarms_handled_on_a_real_daemon(
    mosquitto: BrokerUnderTest, home: RunningHome, tmp_path: Path
) -> None:
    zone = mosquitto.site.zone
    clock = ShownClock()
    at = lambda h, m, day=27: datetime(2027, 3, day, h, m, tzinfo=zone)  # noqa: E731
    clock.show(at(22, 0))
    async with night_controller(mosquitto, tmp_path, clock) as (controller, admin, staff):
        await wait_all_online(controller)
        async with admin.ws_connect("/api/ws") as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
            # 101 (wing A) at 22.00: taken after 3 min, on site after 7, closed after 15;
            # the door unlocked for it (emergency) and locked again
            clock.show(at(22, 0))  # again: waiting for the devices took some seconds
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

            # 201 (wing C) at 03.30 CEST, after the skipped hour: nobody takes it for
            # 6 minutes (one unanswered escalation), on site after 8, closed after 20
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
