"""Roles on the HTTP API, re-tested as attacks: a screen's login cannot lock or unlock,
a relative reaches no device, alarm, audit or activity route, a technician cannot read
the activity and audit of residents (there is no call history yet: these are the
person-related logs that exist), and every refusal is written to the activity log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from devices.firmware.lock import SimulatedLock
from tests.integration.harness import RunningController, RunningHome, user_sessions

DEVICE_AND_PERSON_ROUTES = [
    ("GET", "/api/devices"),
    ("GET", "/api/devices/a101-lock"),
    ("GET", "/api/events"),
    ("GET", "/api/alarms"),
    ("GET", "/api/activity"),
    ("GET", "/api/audit"),
    ("GET", "/api/audit/export.csv"),
    ("GET", "/api/schedules"),
    ("GET", "/api/users"),
]


@pytest.fixture
async def as_role(rel_ctl: RunningController) -> AsyncIterator[Any]:
    """``await as_role(username, roles, apartments)`` → an HTTP session with that user's token."""
    async with user_sessions(rel_ctl) as make:
        yield lambda username, roles, apartments=(): make(username, roles, apartments=apartments)


async def _status(session: aiohttp.ClientSession, method: str, path: str, **kw) -> int:  # type: ignore[no-untyped-def]
    async with session.request(method, path, **kw) as resp:
        return resp.status


async def _refusals(ctl: RunningController, actor: str) -> list[str]:
    status, body = await ctl.call("GET", "/api/activity?limit=500")
    assert status == 200
    return [
        a["subject"] for a in body["activity"] if a["actor"] == actor and a["action"] == "refused"
    ]


@pytest.mark.parametrize("action", ["unlock", "lock"])
async def test_screen_login_cannot_lock_or_unlock_over_http(
    action: str, as_role, rel_ctl: RunningController, rel_home: RunningHome
) -> None:
    lock = rel_home.home["a101-lock"]
    assert isinstance(lock, SimulatedLock)
    before = lock.state.lock
    screen = await as_role(f"screen-101-{action}", ("screen",), ("101",))
    path = "/api/devices/a101-lock/commands"
    assert await _status(screen, "POST", path, json={"action": action}) == 403
    assert lock.state.lock == before
    assert f"POST {path}" in await _refusals(rel_ctl, f"screen-101-{action}")


async def test_relative_reaches_no_device_alarm_audit_or_activity_route(
    as_role, rel_ctl: RunningController
) -> None:
    relative = await as_role("relative-101", ("relative",), ("101",))
    for method, path in DEVICE_AND_PERSON_ROUTES:
        assert await _status(relative, method, path) == 403, path
    path = "/api/devices/a101-lock/commands"
    assert await _status(relative, "POST", path, json={"action": "unlock"}) == 403
    refused = await _refusals(rel_ctl, "relative-101")
    assert {f"{m} {p}" for m, p in DEVICE_AND_PERSON_ROUTES} <= set(refused)


async def test_technician_cannot_read_residents_activity_or_audit_nor_unlock(
    as_role, rel_ctl: RunningController
) -> None:
    tech = await as_role("tech-1", ("technician",))
    for path in ("/api/activity", "/api/audit", "/api/audit/export.csv"):
        assert await _status(tech, "GET", path) == 403, path
    path = "/api/devices/a102-lock/commands"
    assert await _status(tech, "POST", path, json={"action": "unlock"}) == 403
    # what a technician is for still works
    async with tech.post(path, json={"action": "ping"}) as resp:
        assert resp.status == 200
        assert (await resp.json())["outcome"] == "ok"
    refused = set(await _refusals(rel_ctl, "tech-1"))
    assert {"GET /api/activity", "GET /api/audit", f"POST {path}"} <= refused


async def test_technician_cannot_see_a_residents_calls_or_messages(
    as_role, rel_ctl: RunningController, rel_home: RunningHome
) -> None:
    """A call on 104's screen (ring, accept, hang up) and a staff message: staff see it
    all; a technician sees the screen working but no call event, no call command, no
    call id and no message text, over HTTP and on the live WebSocket."""
    screen, device = rel_home.home["a104-screen"], "a104-screen"
    tech = await as_role("tech-calls", ("technician",))
    async with tech.ws_connect("/api/ws") as live:
        snapshot = await live.receive_json(timeout=5)
        assert snapshot["type"] == "snapshot"
        status, body = await rel_ctl.command(
            device, "show_message", args={"text": "Läkaren kommer kl 14", "from": "Anna"}
        )
        assert (status, body["outcome"]) == (200, "ok"), body
        status, body = await rel_ctl.command(
            device, "ring", args={"call_id": "call-privacy", "caller": "Anna Lindqvist"}
        )
        assert (status, body["outcome"]) == (200, "ok"), body
        screen.accept_call()
        await rel_ctl.wait_twin(device, lambda t: t.reported.call == "active")
        status, body = await rel_ctl.command(device, "end_call")
        assert (status, body["outcome"]) == (200, "ok"), body
        await rel_ctl.wait_twin(device, lambda t: t.reported.call == "idle")
        status, body = await rel_ctl.command(device, "clear_message")  # the end marker
        assert (status, body["outcome"]) == (200, "ok"), body
        seen: list[dict] = []
        while not (
            seen
            and seen[-1]["type"] == "command"
            and seen[-1]["data"].get("action") == "clear_message"
        ):
            seen.append(await live.receive_json(timeout=10))
    mine = [m for m in seen if m["data"].get("device", m["data"].get("id")) == device]
    assert {m["type"] for m in mine} >= {"twin", "command"}  # it sees the screen work
    text = str(mine)
    assert "call_accepted" not in text
    assert "call-privacy" not in text
    assert "Anna Lindqvist" not in text
    assert "Läkaren" not in text
    assert not [m for m in mine if m["data"].get("action") in ("ring", "end_call")]

    await rel_ctl.controller.events.flush()
    async with tech.get("/api/events", params={"device": device}) as resp:
        assert resp.status == 200
        tech_events = [e["type"] for e in (await resp.json())["events"]]
    status, staff_events = await rel_ctl.call("GET", "/api/events", params={"device": device})
    assert "call_accepted" in [e["type"] for e in staff_events["events"]]
    assert "call_accepted" not in tech_events
    async with tech.get(f"/api/devices/{device}") as resp:
        state = (await resp.json())["state"]
    assert "call_id" not in state
    assert "message" not in state
    assert state["call"] == "idle"  # whether the screen is busy, for diagnosis
