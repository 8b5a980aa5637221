"""The night flow ends with the door locked, and alarms escalate along the shift's
order: against the real daemon, the suite's Mosquitto and the simulated firmware.

- closing an alarm whose door is unlocked is refused until "Lås dörren?" is answered
  (lock now, relock in N minutes, or leave unlocked with a reason), each audited;
- an unlock from an alarm with a relock is locked again by the controller, also when
  the controller was restarted in between (the relock is a stored one-off schedule);
- a help alarm goes to the night shift's first person, then the next, then everyone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from config.site import Shift, Site
from controller.auth.tokens import create_user_token
from controller.bus_messages import AlarmChanged
from controller.daemon import Controller, ControllerConfig
from controller.store import open_store
from devices.clock import SystemClock
from tests.conftest import BrokerUnderTest

from .harness import RunningController, RunningHome, make_test_users, wait_all_online, wait_twin
from .test_alarms import ShownClock, _launch, alarm_of, next_alarm, screen


async def _help_alarm(ctl_http: Any, controller: Controller, home: RunningHome, apt: str) -> int:
    with controller.bus.subscribe(AlarmChanged) as sub:
        screen(home, f"a{apt}-screen").press_help()
        raised = await next_alarm(sub, controller.site, alarm_of("help", f"a{apt}-screen"))
    return int(raised["id"])


async def test_closing_with_the_door_unlocked_asks_lock_relock_or_leave_it(
    ctl: RunningController, home: RunningHome
) -> None:
    alarm_id = await _help_alarm(ctl.http, ctl.controller, home, "113")
    status, taken = await ctl.call("POST", f"/api/alarms/{alarm_id}/ack", json={})
    assert (status, taken["state"]) == (200, "acknowledged")
    # the unlock from the alarm carries the alarm's suggested reason
    status, unlocked = await ctl.call("POST", f"/api/alarms/{alarm_id}/unlock", json={})
    assert (status, unlocked["command"]["outcome"], unlocked["relock"]) == (200, "ok", None)
    await ctl.wait_twin("a113-lock", lambda t: getattr(t.reported, "lock", None) == "unlocked")
    status, _ = await ctl.call("POST", f"/api/alarms/{alarm_id}/on_site", json={})
    assert status == 200

    note = {"note": "Astrid hade ramlat, oskadd"}
    status, body = await ctl.call("POST", f"/api/alarms/{alarm_id}/close", json=note)
    assert (status, body["error"]["code"]) == (409, "door_unlocked"), body
    assert body["error"]["details"]["device"] == "a113-lock"
    # bad decisions change nothing
    for bad in (
        {"action": "leave_unlocked"},
        {"action": "leave_unlocked", "reason": "   "},
        {"action": "relock"},
        {"action": "lock", "minutes": 5},
        {"action": "relock", "minutes": 0},
        {"action": "open"},
    ):
        status, body = await ctl.call("POST", f"/api/alarms/{alarm_id}/door", json=bad)
        assert (status, body["error"]["code"]) == (400, "bad_body"), (bad, body)
    status, body = await ctl.call("GET", f"/api/alarms/{alarm_id}")
    assert "door" not in body["details"]

    status, decided = await ctl.call(
        "POST", f"/api/alarms/{alarm_id}/door", json={"action": "lock"}
    )
    assert (status, decided["command"]["outcome"]) == (200, "ok"), decided
    assert decided["alarm"]["details"]["door"]["action"] == "lock"
    await ctl.wait_twin("a113-lock", lambda t: getattr(t.reported, "lock", None) == "locked")
    # unlocked again after the door was locked: the question is asked again
    status, body = await ctl.command("a113-lock", "unlock", reason="emergency")
    assert (status, body["outcome"]) == (200, "ok"), body
    await ctl.wait_twin("a113-lock", lambda t: getattr(t.reported, "lock", None) == "unlocked")
    status, body = await ctl.call("POST", f"/api/alarms/{alarm_id}/close", json=note)
    assert (status, body["error"]["code"]) == (409, "door_unlocked"), body
    status, decided = await ctl.call(
        "POST", f"/api/alarms/{alarm_id}/door", json={"action": "lock"}
    )
    assert (status, decided["command"]["outcome"]) == (200, "ok"), decided
    await ctl.wait_twin("a113-lock", lambda t: getattr(t.reported, "lock", None) == "locked")
    status, closed = await ctl.call("POST", f"/api/alarms/{alarm_id}/close", json=note)
    assert (status, closed["state"]) == (200, "closed"), closed

    status, audit = await ctl.call("GET", "/api/audit", params={"device": "a113-lock"})
    resolved = [r for r in audit["audit"] if r["kind"] == "resolved"][:4]
    assert [(r["action"], r["actor"], r["reason"], r["outcome"]) for r in resolved] == [
        ("lock", "test-staff", f"alarm {alarm_id}", "ok"),
        ("unlock", "test-staff", "emergency", "ok"),
        ("lock", "test-staff", f"alarm {alarm_id}", "ok"),
        ("unlock", "test-staff", "emergency", "ok"),
    ]
    log = await ctl.controller.store.activity(limit=30)
    mine = [(a.action, a.outcome) for a in reversed(log) if a.subject == str(alarm_id)]
    assert mine == [
        ("alarm_ack", "ok"),
        ("alarm_on_site", "ok"),
        ("alarm_door", "ok"),
        ("alarm_door", "ok"),
        ("alarm_close", "ok"),
    ]


async def test_leaving_the_door_unlocked_needs_a_reason_and_is_recorded(
    ctl: RunningController, home: RunningHome
) -> None:
    alarm_id = await _help_alarm(ctl.http, ctl.controller, home, "114")
    status, body = await ctl.call("POST", f"/api/alarms/{alarm_id}/unlock", json={})
    assert (status, body["command"]["outcome"]) == (200, "ok"), body
    await ctl.wait_twin("a114-lock", lambda t: getattr(t.reported, "lock", None) == "unlocked")
    decision = {"action": "leave_unlocked", "reason": "Undersköterska stannar kvar hos Nils"}
    status, body = await ctl.call("POST", f"/api/alarms/{alarm_id}/door", json=decision)
    assert status == 200, body
    door = body["alarm"]["details"]["door"]
    assert (door["action"], door["reason"], door["by"]) == (
        "leave_unlocked",
        "Undersköterska stannar kvar hos Nils",
        "test-staff",
    )
    status, body = await ctl.call("POST", f"/api/alarms/{alarm_id}/close", json={"note": "ok"})
    assert (status, body["state"]) == (200, "closed"), body
    log = await ctl.controller.store.activity(limit=30)
    left = next(a for a in log if a.subject == str(alarm_id) and a.action == "alarm_door")
    assert left.reason == "Undersköterska stannar kvar hos Nils"
    status, body = await ctl.command("a114-lock", "lock", reason="test teardown")
    assert (status, body["outcome"]) == (200, "ok"), body


@pytest.fixture
def session_ctl(ctl: RunningController) -> RunningController:
    """The suite's controller: it sees the presses of a test's own controller too."""
    return ctl


@contextlib.asynccontextmanager
async def closed_on_the_session(session: RunningController, apt: str) -> AsyncIterator[None]:
    """The help press of ``apt`` during the block raises an alarm on the suite's
    controller as well: closed after the block, so later tests start quiet."""
    with session.controller.bus.subscribe(AlarmChanged) as sub:
        yield
        raised = await next_alarm(sub, session.controller.site, alarm_of("help", f"a{apt}-screen"))
    path = f"/api/alarms/{raised['id']}"
    status, body = await session.call("POST", f"{path}/close", json={"note": "test teardown"})
    if status == 409 and body["error"]["code"] == "door_unlocked":
        decision = {"action": "leave_unlocked", "reason": "test teardown"}
        assert (await session.call("POST", f"{path}/door", json=decision))[0] == 200
        status, body = await session.call("POST", f"{path}/close", json={"note": "test teardown"})
    assert status == 200, body


# ---------------------------------------------------------------- a controller of our own


@contextlib.asynccontextmanager
async def own_controller(
    mosquitto: BrokerUnderTest, site: Site, db: Path, clock: ShownClock, client_id: str
) -> AsyncIterator[tuple[Controller, aiohttp.ClientSession, dict[str, str]]]:
    """A controller on ``site`` with ``clock``, an API session of test-staff and the
    test users' passwords (to sign in on its dashboard)."""
    config = ControllerConfig(
        broker=mosquitto.address,
        site=site,
        credentials=mosquitto.credentials,
        db_url=f"sqlite:///{db}",
        http_port=0,
        client_id=client_id,
        stale_factor=10_000.0,  # the clock jumps: no staleness from that
    )
    store = open_store(config.db_url)
    await store.open()
    try:
        passwords = await make_test_users(store, site, now=clock.now())
        token, _ = await create_user_token(
            store, username="test-staff", name="test", now=clock.now()
        )
    finally:
        await store.close()
    controller = Controller(config, clock=clock)
    task = await _launch(controller)
    http = aiohttp.ClientSession(
        base_url=controller.http_url, headers={"Authorization": f"Bearer {token}"}
    )
    try:
        await wait_all_online(controller)
        yield controller, http, passwords
    finally:
        await http.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def tomorrow_at(site: Site, hour: int, minute: int) -> datetime:
    """Tomorrow's ``hour:minute``, site time (later than the devices' clocks)."""
    local = SystemClock().now().astimezone(site.zone) + timedelta(days=1)
    return local.replace(hour=hour, minute=minute, second=0, microsecond=0)


async def call(http: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> Any:
    async with http.request(method, path, **kw) as resp:
        return resp.status, await resp.json()


async def test_an_unlock_from_an_alarm_is_relocked_by_the_controller_after_a_restart(
    mosquitto: BrokerUnderTest, home: RunningHome, tmp_path: Path, session_ctl: RunningController
) -> None:
    async with closed_on_the_session(session_ctl, "213"):
        site = mosquitto.site
        clock = ShownClock()
        # a night ahead of the devices' own clocks: the commands it sends are not expired
        night = tomorrow_at(site, 2, 10)
        clock.show(night)
        db = tmp_path / "relock.sqlite"
        async with own_controller(mosquitto, site, db, clock, "test-alarm-door-ctl") as (
            ctl,
            http,
            _,
        ):
            alarm_id = await _help_alarm(http, ctl, home, "213")
            status, body = await call(
                http, "POST", f"/api/alarms/{alarm_id}/unlock", json={"relock_minutes": 3}
            )
            assert (status, body["command"]["outcome"]) == (200, "ok"), body
            relock = body["relock"]
            assert (relock["device"], relock["minutes"]) == ("a213-lock", 3)
            assert body["alarm"]["details"]["relock"]["schedule"] == relock["schedule"]
            await wait_twin(
                ctl, "a213-lock", lambda t: getattr(t.reported, "lock", None) == "unlocked"
            )
            # a relock pending: closing needs no other decision
            status, body = await call(
                http, "POST", f"/api/alarms/{alarm_id}/close", json={"note": "Lugnt, sover igen"}
            )
            assert (status, body["state"]) == (200, "closed"), body
        # the controller is down when the relock is due; it locks once it is back
        clock.show(night + timedelta(minutes=4))
        async with own_controller(mosquitto, site, db, clock, "test-alarm-door-ctl") as (
            ctl,
            http,
            _,
        ):
            await wait_twin(
                ctl,
                "a213-lock",
                lambda t: getattr(t.reported, "lock", None) == "locked",
                timeout=20,
            )
            await ctl.schedules.settle()  # the firing's command has its resolved line
            audit = await ctl.store.audit(device="a213-lock", limit=10)
            resolved = [r for r in audit if r.kind == "resolved"]
            assert resolved[0].action == "lock"
            assert resolved[0].outcome == "ok"
            assert resolved[0].actor == f"schedule:{relock['schedule']} for test-staff"
            assert resolved[0].reason == f"Lås igen efter larm {alarm_id}"


async def test_a_help_alarm_goes_to_the_shifts_next_person_then_to_everyone(
    mosquitto: BrokerUnderTest, home: RunningHome, tmp_path: Path, session_ctl: RunningController
) -> None:
    async with closed_on_the_session(session_ctl, "214"):
        base = mosquitto.site
        shifts = [
            Shift(name="dag", start="07:00", end="21:00", escalation=["anna"]),
            Shift(name="natt", start="21:00", end="07:00", escalation=["nils", "petra"]),
        ]
        site = base.model_copy(
            update={
                "site": base.site.model_copy(update={"shifts": shifts, "escalate_after_minutes": 1})
            }
        )
        clock = ShownClock()
        start = datetime(2026, 11, 27, 3, 0, tzinfo=site.zone)
        clock.show(start)
        db = tmp_path / "escalation.sqlite"
        async with own_controller(mosquitto, site, db, clock, "test-escalation-ctl") as (
            ctl,
            http,
            _,
        ):
            with ctl.bus.subscribe(AlarmChanged) as sub:
                screen(home, "a214-screen").press_help()
                raised = await next_alarm(sub, ctl.site, alarm_of("help", "a214-screen"))
                assert raised["addressed"] == {"shift": "natt", "to": ["nils"], "everyone": False}
                clock.show(start + timedelta(minutes=1, seconds=10))
                first = await next_alarm(
                    sub, ctl.site, alarm_of("help", "a214-screen", "escalated")
                )
                assert first["addressed"] == {"shift": "natt", "to": ["petra"], "everyone": False}
                clock.show(start + timedelta(minutes=2, seconds=20))
                second = await next_alarm(
                    sub, ctl.site, alarm_of("help", "a214-screen", "escalated")
                )
                assert second["addressed"] == {"shift": "natt", "to": [], "everyone": True}
            status, body = await call(http, "GET", f"/api/alarms/{raised['id']}")
            assert (status, body["escalations"], body["addressed"]["everyone"]) == (200, 2, True)
            status, body = await call(
                http, "POST", f"/api/alarms/{raised['id']}/close", json={"note": "test"}
            )
            assert status == 200, body
