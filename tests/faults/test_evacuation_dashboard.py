"""Evacuation as staff see it: the open dashboard in real Chromium shows the fire alarm
and every door unlocked, live, without a reload."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import BrokerUnderTest
from tests.integration.harness import TIMEOUT_MS, RunningController, sign_in
from tests.reliability_fixtures import locks_of, publish_fire

from .test_evacuation import _fire_normal_and_relock, _lock_all


async def test_dashboard_shows_the_fire_alarm_and_every_door_unlocked(
    page, rel_ctl: RunningController, rel_broker: BrokerUnderTest, artifacts: Path
) -> None:
    locks = locks_of(rel_broker.site)
    await _lock_all(rel_ctl, locks)
    await sign_in(page, rel_ctl)
    assert await page.locator('dd.lock[data-lock="unlocked"]').count() == 0
    try:
        await publish_fire(rel_broker, "alarm")
        await page.locator('#alarm-panel [data-kind="fire"][data-state="open"]').first.wait_for(
            timeout=TIMEOUT_MS
        )
        await page.wait_for_function(
            "n => document.querySelectorAll('dd.lock[data-lock=\"unlocked\"]').length === n",
            arg=len(locks),
            timeout=TIMEOUT_MS,
        )
        await page.screenshot(path=str(artifacts / "evacuation.png"), full_page=True)
    finally:
        await _fire_normal_and_relock(rel_ctl, rel_broker, locks)
        _status, body = await rel_ctl.call("GET", "/api/alarms")
        for alarm in body["alarms"]:
            if alarm["kind"] == "fire" and alarm["state"] != "closed":
                await rel_ctl.call(
                    "POST", f"/api/alarms/{alarm['id']}/close", json={"note": "drill over"}
                )
