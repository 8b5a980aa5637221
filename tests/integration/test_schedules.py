"""Schedules end to end: the real controller, firmware and Mosquitto of the suite."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devices.contract import Availability, SiteTopics
from devices.firmware.curtain import SimulatedCurtain
from devices.firmware.lock import SimulatedLock
from scheduler.firings import FiringReport
from scheduler.holds import schedule_actor

from .harness import RunningController, RunningHome, user_sessions, wait_all_online

WING_A_CURTAINS = [f"a10{i}-curtain" for i in range(1, 7)]


async def _delete(ctl: RunningController, *ids: str) -> None:
    for schedule_id in ids:
        await ctl.call("DELETE", f"/api/schedules/{schedule_id}")


async def _create(ctl: RunningController, **body: Any) -> dict[str, Any]:
    status, created = await ctl.call("POST", "/api/schedules", json=body)
    assert status == 201, created
    return created


async def _issued(ctl: RunningController, schedule_id: str) -> list[dict[str, Any]]:
    actor = schedule_actor(schedule_id, "test-staff")
    status, body = await ctl.call("GET", "/api/audit", params={"actor": actor, "limit": 500})
    assert status == 200, body
    return [line for line in body["audit"] if line["kind"] == "issued"]


async def _controller_online_for(ctl: RunningController, device: Any) -> None:
    """Make sure the device has heard the running controller say ``online`` (another test's
    second controller may have left ``offline`` retained when it stopped)."""
    if device.fallback.controller is not Availability.ONLINE:
        topic = SiteTopics(ctl.controller.site.slug).controller_availability
        await ctl.controller.link.publish(topic, Availability.ONLINE.value, retain=True)
    await device.fallback.wait(lambda f: f.controller is Availability.ONLINE, timeout=10)


@pytest.fixture
async def as_user(ctl: RunningController) -> AsyncIterator[Any]:
    """``await as_user(username, roles, units)`` → an HTTP session with that user's token."""
    async with user_sessions(ctl) as make:
        yield lambda username, roles, units=(): make(username, roles, units=units)


async def test_api_create_list_pause_resume_delete(ctl: RunningController) -> None:
    created = await _create(
        ctl,
        name="Kvällsgardiner A",
        target="wing:A",
        action="close",
        rule={"kind": "daily", "time": "21:30"},
    )
    sid = created["id"]
    try:
        assert (created["owner"], created["enabled"], created["devices"]) == ("test-staff", True, 6)
        assert "T21:30:00" in created["next_firing"]["local"]
        status, listing = await ctl.call("GET", "/api/schedules")
        assert status == 200
        [mine] = [s for s in listing["schedules"] if s["id"] == sid]
        [group] = mine["upcoming"]
        assert len(group["devices"]) == 6
        assert group["firings"][0]["fallback_used"] is False
        status, paused = await ctl.call("POST", f"/api/schedules/{sid}/pause")
        assert (status, paused["enabled"], paused["next_firing"]) == (200, False, None)
        status, resumed = await ctl.call("POST", f"/api/schedules/{sid}/resume")
        assert (status, resumed["enabled"]) == (200, True)
        rule = {"kind": "sun", "event": "sunset", "offset_minutes": 15, "fallback": "22:00"}
        status, changed = await ctl.call(
            "PUT",
            f"/api/schedules/{sid}",
            json={"target": "wing:A", "action": "close", "rule": rule},
        )
        assert (status, changed["rule"]["kind"], changed["owner"]) == (200, "sun", "test-staff")
        status, one = await ctl.call("GET", f"/api/schedules/{sid}")
        assert (status, one["firings"]) == (200, [])
    finally:
        status, _ = await ctl.call("DELETE", f"/api/schedules/{sid}")
    assert status == 200
    status, gone = await ctl.call("GET", f"/api/schedules/{sid}")
    assert (status, gone["error"]["code"]) == (404, "unknown_schedule")
    status, activity = await ctl.call("GET", "/api/activity?limit=50")
    mine = [a["action"] for a in activity["activity"] if a["subject"] == sid]
    assert mine == [
        "schedule_delete",
        "schedule_update",
        "schedule_resume",
        "schedule_pause",
        "schedule_create",
    ]


async def test_bad_schedules_get_400_with_the_field(ctl: RunningController) -> None:
    base = {"target": "wing:A", "action": "close", "rule": {"kind": "daily", "time": "21:30"}}
    cases = [
        ({**base, "rule": {"kind": "daily", "time": "25:00"}}, "rule"),
        ({**base, "target": "wing:Z"}, "target"),
        ({**base, "action": "fly"}, "action"),
        ({**base, "rule": {"kind": "sun", "event": "sunset"}}, "rule"),
    ]
    for body, field in cases:
        status, answer = await ctl.call("POST", "/api/schedules", json=body)
        assert (status, answer["error"]["code"]) == (400, "bad_schedule"), answer
        assert answer["error"]["details"][0]["field"].startswith(field), answer
    status, answer = await ctl.call("POST", "/api/schedules", json={**base, "id": "mine"})
    assert (status, answer["error"]["code"]) == (400, "bad_body")


async def test_technicians_and_other_wings_staff_are_refused(
    ctl: RunningController, as_user: Any
) -> None:
    tech = await as_user("sched-tech", ("technician",))
    async with tech.get("/api/schedules") as resp:
        assert resp.status == 403
    staff_b = await as_user("sched-staff-b", ("staff",), ("B",))
    body = {"target": "wing:A", "action": "close", "rule": {"kind": "daily", "time": "21:30"}}
    async with staff_b.post("/api/schedules", json=body) as resp:
        assert resp.status == 403, await resp.text()
    async with staff_b.post("/api/schedules", json={**body, "target": "apartment:103"}) as resp:
        assert resp.status == 403
    async with staff_b.post("/api/schedules", json={**body, "target": "wing:B"}) as resp:
        assert resp.status == 201
        created = await resp.json()
    async with staff_b.delete(f"/api/schedules/{created['id']}") as resp:
        assert resp.status == 200


async def test_a_remote_command_with_a_relock(ctl: RunningController) -> None:
    status, body = await ctl.call(
        "POST",
        "/api/remote-commands",
        json={
            "target": "apartment:103",
            "action": "unlock",
            "at": "14:00",
            "then": {"action": "lock"},
            "then_after_minutes": 30,
            "name": "physiotherapist",
        },
    )
    assert status == 201, body
    main, follow = body["schedules"]
    try:
        first = datetime.fromisoformat(main["next_firing"]["at"])
        second = datetime.fromisoformat(follow["next_firing"]["at"])
        assert second - first == timedelta(minutes=30)
        assert "T14:00:00" in main["next_firing"]["local"]
        assert (main["action"], follow["action"], main["devices"]) == ("unlock", "lock", 1)
    finally:
        await _delete(ctl, main["id"], follow["id"])
    status, body = await ctl.call(
        "POST",
        "/api/remote-commands",
        json={"target": "apartment:103", "action": "unlock", "at": "2020-01-01T10:00"},
    )
    assert (status, body["error"]["code"]) == (400, "bad_body")


async def test_a_schedule_closes_every_curtain_of_wing_a(
    ctl: RunningController, home: RunningHome
) -> None:
    engine = ctl.controller.schedules
    for device in WING_A_CURTAINS:  # earlier tests' staff commands may hold them
        await engine.release_hold(device)
        curtain = home.home[device]
        assert isinstance(curtain, SimulatedCurtain)
        curtain.move_by_hand(20)
        await ctl.wait_twin(device, lambda t: t.reported.position == 20)
    at = datetime.now(UTC) + timedelta(seconds=2)
    with ctl.controller.bus.subscribe(FiringReport) as fired:
        created = await _create(
            ctl,
            name="Close A now",
            target="wing:A",
            action="close",
            rule={"kind": "once", "at": at.isoformat()},
        )
        try:
            async with asyncio.timeout(15):
                while (report := await fired.get()).schedule_id != created["id"]:
                    pass
            assert report.outcome == "ok", report
            assert sorted(report.devices) == WING_A_CURTAINS
            assert report.late_s < 1.0
            for device in WING_A_CURTAINS:
                twin = await ctl.wait_twin(
                    device, lambda t: t.reported.position == 0 and t.reported.motion == "idle"
                )
                assert twin.reported.position == 0
            issued = await _issued(ctl, created["id"])
            assert sorted(line["device"] for line in issued) == WING_A_CURTAINS
            assert {line["reason"] for line in issued} == {"Close A now"}
        finally:
            await _delete(ctl, created["id"])


async def test_a_lock_fallback_runs_only_while_the_controller_is_stopped(
    ctl: RunningController, home: RunningHome
) -> None:
    lock = home.home["a113-lock"]
    assert isinstance(lock, SimulatedLock)
    await _controller_online_for(ctl, lock)
    await ctl.controller.schedules.release_hold("a113-lock")  # from earlier tests' commands
    due = (datetime.now(UTC) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    hhmm = due.astimezone(ctl.controller.site.zone).strftime("%H:%M")
    created = await _create(
        ctl,
        name="Night lock 113",
        target="device:a113-lock",
        action="lock",
        rule={"kind": "daily", "time": hhmm},
    )
    try:
        await lock.fallback.wait(
            lambda f: f.schedule is not None and [e.at for e in f.schedule.entries] == [hhmm]
        )
        # controller up: the controller fires the rule; the lock's fallback runs nothing
        lock.press_inside_handle()
        await lock.wait_state(lambda s: s.lock == "unlocked")
        assert await lock.run_fallback(due) == []
        [report] = await ctl.controller.schedules.run_due(due)
        assert (report.outcome, report.devices) == ("ok", {"a113-lock": "ok"})
        await lock.wait_state(lambda s: s.lock == "locked")
        assert len(await _issued(ctl, created["id"])) == 1
        # controller stopped: the lock's own fallback locks it at the rule's time
        lock.press_inside_handle()
        await lock.wait_state(lambda s: s.lock == "unlocked")
        await ctl.stop()
        await lock.fallback.wait(lambda f: f.controller is Availability.OFFLINE)
        tomorrow = due + timedelta(days=1)
        assert await lock.run_fallback(tomorrow - timedelta(seconds=1)) == []
        assert await lock.run_fallback(tomorrow) == [("lock", "ok")]
        assert lock.state.lock == "locked"
        assert await lock.run_fallback(tomorrow + timedelta(seconds=1)) == []
    finally:
        await ctl.restart()
        await wait_all_online(ctl.controller)
        await _delete(ctl, created["id"])
    await lock.fallback.wait(lambda f: f.controller is Availability.ONLINE)
    assert len(await _issued(ctl, created["id"])) == 1  # the controller did not fire it again


async def test_the_cli_talks_to_the_daemon(ctl: RunningController) -> None:
    from typer.testing import CliRunner

    from controller.cli.app import app

    env = {"TRYGGBO_API": ctl.controller.http_url, "TRYGGBO_TOKEN": ctl.token}

    async def cli(*args: str) -> Any:
        runner = CliRunner()
        return await asyncio.to_thread(runner.invoke, app, ["schedules", *args], env=env)

    added = await cli(
        "add", "--name", "Evening A", "--target", "wing:A", "--action", "close",
        "--sun", "sunset", "--offset", "15", "--fallback", "22:00",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    sid = added.output.split(":")[0].strip()
    try:
        listed = await cli("list", "--json")
        assert listed.exit_code == 0, listed.output
        [mine] = [s for s in json.loads(listed.output)["schedules"] if s["id"] == sid]
        assert mine["rule"] == {
            "kind": "sun", "event": "sunset", "offset_minutes": 15, "fallback": "22:00"
        }  # fmt: skip
        table = await cli("list")
        assert table.exit_code == 0
        assert sid in table.output
        assert (await cli("pause", sid)).exit_code == 0
        resumed = await cli("resume", sid)
        assert resumed.exit_code == 0
        assert "resumed" in resumed.output
    finally:
        deleted = await cli("delete", sid)
    assert deleted.exit_code == 0
    no_rule = await cli("add", "--name", "x", "--target", "wing:A", "--action", "close")
    assert no_rule.exit_code == 2
    bad = await cli(
        "add", "--name", "x", "--target", "wing:A", "--action", "close", "--daily", "25:00"
    )  # fmt: skip
    assert bad.exit_code == 2
    assert "rule" in bad.output
    assert (await cli("pause", "no-such-schedule")).exit_code == 2
    no_token = await asyncio.to_thread(
        CliRunner().invoke, app, ["schedules", "list"], env={"TRYGGBO_TOKEN": ""}
    )
    assert no_token.exit_code == 2
