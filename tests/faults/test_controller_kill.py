"""``tryggbo serve`` SIGKILLed and started again on the same store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from devices.firmware.curtain import SimulatedCurtain
from devices.firmware.lock import SimulatedLock
from scheduler.holds import schedule_actor
from tests.conftest import BrokerUnderTest
from tests.integration.harness import RunningController, RunningHome

from .served import ServedController, served_controller


def _all_online(health: dict[str, Any]) -> bool:
    devices = health["devices"]
    return health["broker"]["connected"] and devices["online"] == devices["total"]


async def _schedule(
    served: ServedController, name: str, device: str, position: int, at: datetime
) -> str:
    status, body = await served.call(
        "POST",
        "/api/schedules",
        json={
            "name": name,
            "target": f"device:{device}",
            "action": "set_position",
            "args": {"position": position},
            "rule": {"kind": "once", "at": at.isoformat()},
        },
    )
    assert status == 201, body
    return str(body["id"])


async def _issued(served: ServedController, **query: str) -> list[dict[str, Any]]:
    status, body = await served.call("GET", "/api/audit", params={"limit": "500", **query})
    assert status == 200, body
    return [line for line in body["audit"] if line["kind"] == "issued"]


async def test_sigkilled_controller_restarts_with_twins_alarms_schedules_and_unknown_outcomes(
    rel_ctl: RunningController,
    rel_home: RunningHome,
    rel_broker: BrokerUnderTest,
    tmp_path: Path,
) -> None:
    home = rel_home.home
    lock = home["a203-lock"]
    assert isinstance(lock, SimulatedLock)
    await rel_ctl.stop()  # the child takes its MQTT client id
    try:
        async with served_controller(rel_broker, tmp_path) as served:
            await served.start()
            await served.wait_health(_all_online)
            # a schedule that fires while it runs
            now = datetime.now(UTC)
            before = await _schedule(
                served, "before", "a201-curtain", 11, now + timedelta(seconds=1)
            )
            await served.wait_for(
                "GET", f"/api/schedules/{before}", lambda b: len(b["firings"]) == 1
            )
            # an open help alarm
            home["a204-screen"].press_help()  # type: ignore[attr-defined]
            alarms = await served.wait_for(
                "GET",
                "/api/alarms",
                lambda b: any(a["device"] == "a204-screen" for a in b["alarms"]),
            )
            [help_alarm] = [a for a in alarms["alarms"] if a["device"] == "a204-screen"]
            # a command in flight: the lock unlocks but its ack is held back
            lock.faults.ack_delay_s = 30
            in_flight = asyncio.create_task(
                served.call(
                    "POST",
                    "/api/devices/a203-lock/commands",
                    json={"action": "unlock", "reason": "care visit"},
                )
            )
            await lock.wait_state(lambda s: s.lock == "unlocked", timeout=10)
            [issued] = await _issued(served, device="a203-lock")
            # a schedule due while the controller is dead
            due = datetime.now(UTC) + timedelta(seconds=1)
            during = await _schedule(served, "during", "a202-curtain", 12, due)
            served.kill()
            [cut] = await asyncio.gather(in_flight, return_exceptions=True)
            assert isinstance(cut, aiohttp.ClientError), cut  # the caller got no answer
            lock.faults.ack_delay_s = 0
            # the outage lasts past the due instant (a scenario length, not a sync)
            await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.2)
            # ---- start again on the same store
            await served.stop()
            restarted = datetime.now(UTC)
            await served.start()
            await served.wait_health(_all_online)
            # the in-flight command is closed as unknown, not as success
            status, body = await served.call("GET", f"/api/audit?command_id={issued['command_id']}")
            resolved = [r for r in body["audit"] if r["kind"] == "resolved"]
            assert [(r["outcome"], r["error"]) for r in resolved] == [
                ("unknown", "controller stopped before the outcome was known")
            ]
            # the alarm is still open, with the same id
            status, body = await served.call("GET", f"/api/alarms/{help_alarm['id']}")
            assert status == 200
            assert body["state"] == "open"
            # twins rebuilt: they match the devices
            status, body = await served.call("GET", "/api/devices")
            twins = {d["id"]: d for d in body["devices"]}
            for device in home.devices.values():
                if isinstance(device, SimulatedLock):
                    assert twins[device.device_id]["state"]["lock"] == device.state.lock
                if isinstance(device, SimulatedCurtain):
                    expected = device.state.position
                    assert twins[device.device_id]["state"]["position"] == expected
            # the schedule that fired before the kill is not fired again; the one due
            # while the controller was dead is caught up once
            caught_up = await served.wait_for(
                "GET", f"/api/schedules/{during}", lambda b: len(b["firings"]) == 1
            )
            fired_at = datetime.fromisoformat(caught_up["firings"][0]["fired_at"])
            assert fired_at > restarted  # by the new process: a catch-up
            await home["a202-curtain"].wait_state(lambda s: s.position == 12, timeout=10)
            for schedule_id in (before, during):
                actor = schedule_actor(schedule_id, "test-staff")
                assert len(await _issued(served, actor=actor)) == 1
            status, body = await served.call("GET", f"/api/schedules/{before}")
            assert len(body["firings"]) == 1
            # relock for the next test
            status, body = await served.call(
                "POST", "/api/devices/a203-lock/commands", json={"action": "lock"}
            )
            assert (status, body["outcome"]) == (200, "ok"), body
            status, body = await served.call(
                "POST", f"/api/alarms/{help_alarm['id']}/close", json={"note": "test over"}
            )
            assert status == 200
    finally:
        lock.faults.ack_delay_s = 0
        await rel_ctl.restart()
