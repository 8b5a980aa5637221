"""Issue 15 item 2, as an attack: a technician listens on ``/api/ws`` for the command
audit that ``/api/audit`` refuses them ("emergency: Astrid fell in the bathroom").

Every kind of live message (snapshot, twin, event, command, fire, alarm; batches
unpacked) is caused for real on the reliability home (a reasoned unlock, a flat
battery, a help press, a fire drill) while admin, staff and a technician listen; each
role must get exactly what its HTTP routes show of the same thing. Relatives and
screens get no socket at all."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from controller.bus_messages import AlarmChanged, FireChanged
from devices.firmware.lock import SimulatedLock
from devices.firmware.screen import SimulatedScreen
from tests.conftest import BrokerUnderTest
from tests.integration.harness import RunningController, RunningHome, user_sessions
from tests.reliability_fixtures import gather_limited, locks_of, publish_fire

SECRET = "emergency: Astrid fell in the bathroom"
ACK_NOTE = "Astrid sov, bytte batteri tyst"
LOCK, SCREEN = "a105-lock", "a105-screen"
#: the last thing each socket is sent: a ping of this device
MARKER = "a216-curtain"
LISTENERS = {
    "admin": (("admin",), ()),
    "staff": (("staff",), ("A",)),
    "technician": (("technician",), ()),
}
KINDS = {"twin", "event", "command", "fire", "alarm"}


@pytest.fixture
async def make_user(rel_ctl: RunningController) -> AsyncIterator[Any]:
    async with user_sessions(rel_ctl) as make:
        yield make


async def _listen(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Every message until the marker's ping outcome (batches unpacked)."""
    seen: list[dict[str, Any]] = []
    while True:
        frame = await ws.receive_json()
        for msg in frame["data"] if frame["type"] == "batch" else [frame]:
            seen.append(msg)
            data = msg["data"]
            if msg["type"] == "command" and (data["device"], data["action"]) == (MARKER, "ping"):
                return seen


async def _get(session: aiohttp.ClientSession, path: str, **params: Any) -> tuple[int, Any]:
    async with session.get(path, params=params) as resp:
        return resp.status, await resp.json()


async def _wait_alarm(ctl: RunningController, kind: str, device: str | None) -> dict[str, Any]:
    """The active alarm of ``kind`` on ``device``, once the controller has raised it."""
    with ctl.controller.bus.subscribe(AlarmChanged) as pushed:
        async with asyncio.timeout(15):
            while True:
                _status, body = await ctl.call("GET", "/api/alarms")
                found = [a for a in body["alarms"] if (a["kind"], a["device"]) == (kind, device)]
                if found:
                    return found[0]
                await pushed.get()


async def _close_active(ctl: RunningController, kind: str, device: str | None) -> None:
    _status, body = await ctl.call("GET", "/api/alarms")
    for alarm in body["alarms"]:
        if (alarm["kind"], alarm["device"]) == (kind, device):
            await ctl.call("POST", f"/api/alarms/{alarm['id']}/close", json={"note": "test"})


async def _fire_drill(ctl: RunningController, broker: BrokerUnderTest) -> None:
    """Fire alarm and back: every lock unlocks, then staff lock them all again."""
    locks = locks_of(broker.site)
    await _wait_fire(ctl, "alarm", lambda: publish_fire(broker, "alarm"))
    await _wait_fire(ctl, "normal", lambda: publish_fire(broker, "normal"))
    for lock in locks:
        await ctl.wait_twin(lock, lambda t: t.reported is not None and not t.reported.fire)
    results = await gather_limited([ctl.command(lock, "lock") for lock in locks])
    assert all(body["outcome"] == "ok" for _s, body in results), results
    await _close_active(ctl, "fire", None)


async def _wait_fire(ctl: RunningController, state: str, publish: Any) -> None:
    with ctl.controller.bus.subscribe(FireChanged) as fire:
        await publish()
        async with asyncio.timeout(10):
            while (await fire.get()).state != state:
                pass


async def _cause_every_kind(
    ctl: RunningController, home: RunningHome, broker: BrokerUnderTest
) -> None:
    lock, screen = home.home[LOCK], home.home[SCREEN]
    assert isinstance(lock, SimulatedLock)
    assert isinstance(screen, SimulatedScreen)
    # command + twin + event: a nurse's unlock with a free-text reason
    status, body = await ctl.command(LOCK, "unlock", reason=SECRET)
    assert (status, body["outcome"]) == (200, "ok"), body
    status, body = await ctl.command(LOCK, "lock")
    assert (status, body["outcome"]) == (200, "ok"), body
    # a device alarm, taken with a nurse's note
    lock.set_battery(9)
    flat = await _wait_alarm(ctl, "battery_low", LOCK)
    status, body = await ctl.call(
        "POST", f"/api/alarms/{flat['id']}/ack", json={"comment": ACK_NOTE}
    )
    assert status == 200, body
    # a resident's alarm and its event
    screen.press_help()
    helped = await _wait_alarm(ctl, "help", SCREEN)
    await ctl.call("POST", f"/api/alarms/{helped['id']}/close", json={"note": ACK_NOTE})
    # the site's fire signal (and the fire alarm, and every lock's twin and event)
    await _fire_drill(ctl, broker)
    lock.set_battery(100)
    await ctl.wait_twin(LOCK, lambda t: t.reported.battery == 100)
    await _close_active(ctl, "battery_low", LOCK)
    status, body = await ctl.command(MARKER, "ping")
    assert (status, body["outcome"]) == (200, "ok"), body


async def test_every_live_message_kind_is_shown_to_each_role_as_its_routes_show_it(
    make_user: Any, rel_ctl: RunningController, rel_home: RunningHome, rel_broker: BrokerUnderTest
) -> None:
    for role, apartments in (("relative", ("105",)), ("screen", ("105",))):
        other = await make_user(f"feed-{role}", (role,), apartments=apartments)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await other.ws_connect("/api/ws")
        assert refused.value.status == 403, role
    sessions = {
        role: await make_user(f"feed-{role}", roles, units=units)
        for role, (roles, units) in LISTENERS.items()
    }
    await _close_active(rel_ctl, "battery_low", LOCK)  # an earlier test's
    started = datetime.now(UTC)
    async with contextlib.AsyncExitStack() as stack:
        listening = {}
        for role, session in sessions.items():
            ws = await stack.enter_async_context(session.ws_connect("/api/ws"))
            snapshot = await ws.receive_json(timeout=10)
            assert snapshot["type"] == "snapshot"
            _status, rest = await _get(session, "/api/devices")
            assert [set(t) for t in snapshot["data"]["devices"]] == [
                set(t) for t in rest["devices"]
            ]
            listening[role] = asyncio.create_task(_listen(ws))
        await _cause_every_kind(rel_ctl, rel_home, rel_broker)
        async with asyncio.timeout(20):
            heard = {role: await task for role, task in listening.items()}
    await rel_ctl.controller.events.flush(timeout=10)
    every_alarm = {m["data"]["id"] for m in heard["admin"] if m["type"] == "alarm"}

    for role, session in sessions.items():
        messages = heard[role]
        assert {m["type"] for m in messages} == KINDS, role
        reads_audit = (await _get(session, "/api/audit"))[0] == 200
        assert reads_audit == (role != "technician")
        # the command audit's who and why go exactly where /api/audit goes
        commands = [m["data"] for m in messages if m["type"] == "command"]
        assert commands, role
        for data in commands:
            assert ("actor" in data, "reason" in data) == (reads_audit, reads_audit), (role, data)
        assert (SECRET in json.dumps(messages, ensure_ascii=False)) == reads_audit, role
        # alarms: the ones GET /api/alarms/{id} serves this role, with the same fields
        pushed = {m["data"]["id"]: m["data"] for m in messages if m["type"] == "alarm"}
        for alarm_id in every_alarm:
            status, rest = await _get(session, f"/api/alarms/{alarm_id}")
            assert (status == 200) == (alarm_id in pushed), (role, alarm_id)
            if alarm_id in pushed:
                assert set(pushed[alarm_id]) - {"change", "escalated", "stored"} == set(rest)
        status, listed = await _get(session, "/api/alarms", state="all", since=started.isoformat())
        assert {a["id"] for a in listed["alarms"]} <= set(pushed), role
        kinds = {a["kind"] for a in pushed.values()}
        assert kinds >= (
            {"battery_low"} if role == "technician" else {"battery_low", "help", "fire"}
        )
        # events: those GET /api/events shows this role, for the devices it concerns
        for device in (LOCK, SCREEN):
            status, rest = await _get(session, "/api/events", device=device, limit=1000)
            stored = {
                e["type"] for e in rest["events"] if datetime.fromisoformat(e["ts"]) >= started
            }
            live = {
                m["data"]["type"]
                for m in messages
                if m["type"] == "event" and m["data"]["device"] == device
            }
            assert live == stored, (role, device)
        # twins: as GET /api/devices/{id} shows them (without the apartment's lines)
        for data in (m["data"] for m in messages if m["type"] == "twin"):
            status, rest = await _get(session, f"/api/devices/{data['id']}")
            assert set(data) == set(rest) - {"resident", "floor", "wing"}, role
