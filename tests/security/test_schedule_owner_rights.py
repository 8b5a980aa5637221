"""Issue 15 item 1, as an attack: staff user eve schedules an unlock of 105; an admin
then disables eve (or takes her wing, or her staff role); the schedule fires.

It must run with eve's rights at that moment: nothing is sent and the door stays
locked, the audit says ``refused`` and names eve, the schedule is shown suspended, and
an admin (no one else) can take it over: its next firing runs with the admin's rights
and unlocks the door."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devices.firmware.lock import SimulatedLock
from scheduler.holds import schedule_actor
from tests.integration.harness import RunningController, RunningHome, user_sessions

LOCK = "a105-lock"
NAME = "Morgonbesök 105"


@pytest.fixture
async def make_user(rel_ctl: RunningController) -> AsyncIterator[Any]:
    async with user_sessions(rel_ctl) as make:
        yield make


async def _command(ctl: RunningController, action: str, **body: Any) -> None:
    status, answer = await ctl.command(LOCK, action, **body)
    assert (status, answer["outcome"]) == (200, "ok"), answer


async def _audit(ctl: RunningController, actor: str) -> list[dict[str, Any]]:
    status, body = await ctl.call("GET", "/api/audit", params={"device": LOCK, "actor": actor})
    assert status == 200, body
    return list(body["audit"])


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"disabled": True}, "is disabled"),
        ({"units": ["B"]}, "wings: B"),
        ({"roles": ["technician"], "units": []}, "roles: technician"),
    ],
    ids=["disabled", "lost-wing", "lost-role"],
)
async def test_a_schedule_runs_with_its_owners_rights_at_each_firing(
    make_user: Any,
    rel_ctl: RunningController,
    rel_home: RunningHome,
    change: dict[str, Any],
    why: str,
    request: pytest.FixtureRequest,
) -> None:
    lock = rel_home.home[LOCK]
    assert isinstance(lock, SimulatedLock)
    eve_name = f"eve-{request.node.callspec.id}"
    eve = await make_user(eve_name, ("staff",), units=("A",))
    await _command(rel_ctl, "lock")
    engine = rel_ctl.controller.schedules
    await engine.release_hold(LOCK)  # the lock command above holds it against schedules
    due = (datetime.now(UTC) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    hhmm = due.astimezone(rel_ctl.controller.site.zone).strftime("%H:%M")
    body = {
        "name": NAME,
        "target": f"device:{LOCK}",
        "action": "unlock",
        "rule": {"kind": "daily", "time": hhmm},
    }
    async with eve.post("/api/schedules", json=body) as resp:
        assert resp.status == 201, await resp.text()
        created = await resp.json()
    sid = created["id"]
    try:
        assert (created["owner"], created["suspended"]) == (eve_name, None)
        status, changed = await rel_ctl.call("PATCH", f"/api/users/{eve_name}", json=change)
        assert status == 200, changed
        status, shown = await rel_ctl.call("GET", f"/api/schedules/{sid}")
        assert why in shown["suspended"], shown

        [report] = await engine.run_due(due)
        assert (report.outcome, report.devices, report.owner) == (
            "refused",
            {LOCK: "refused"},
            eve_name,
        )
        assert lock.state.lock == "locked"
        lines = await _audit(rel_ctl, schedule_actor(sid, eve_name))  # names eve
        assert sorted(line["kind"] for line in lines) == ["issued", "resolved"]
        [resolved] = [line for line in lines if line["kind"] == "resolved"]
        assert (resolved["outcome"], resolved["reason"]) == ("refused", NAME)
        assert why in resolved["error"]

        staff = await make_user("staff-not-admin", ("staff",), units=("A",))
        async with staff.post(f"/api/schedules/{sid}/take-over") as resp:
            assert resp.status == 403
        status, taken = await rel_ctl.call("POST", f"/api/schedules/{sid}/take-over")
        assert status == 200, taken
        assert (taken["owner"], taken["suspended"]) == ("test-staff", None)
        [report] = await engine.run_due(due + timedelta(days=1))
        assert (report.outcome, report.owner) == ("ok", "test-staff"), report
        await rel_ctl.wait_twin(LOCK, lambda t: t.reported.lock == "unlocked")
        [resolved] = [
            line
            for line in await _audit(rel_ctl, schedule_actor(sid, "test-staff"))
            if line["kind"] == "resolved"
        ]
        assert (resolved["outcome"], resolved["reason"]) == ("ok", NAME)
        status, activity = await rel_ctl.call(
            "GET", "/api/activity", params={"action": "schedule_take_over"}
        )
        [took] = [a for a in activity["activity"] if a["subject"] == sid]
        assert (took["actor"], took["details"]["previous_owner"]) == ("test-staff", eve_name)
    finally:
        await rel_ctl.call("DELETE", f"/api/schedules/{sid}")
        await _command(rel_ctl, "lock")
