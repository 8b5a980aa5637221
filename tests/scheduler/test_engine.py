"""The schedule engine with a ManualClock, a real SQLite store and a fake command sender."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from config.site import EXAMPLE_SITE, Site, load_site
from controller.auth.accounts import ensure_user, random_password
from controller.bus_messages import CommandResolved
from controller.command_bus import Outcome
from controller.event_bus import EventBus
from controller.store import SqlStore, open_store
from devices.clock import ManualClock
from scheduler import Schedule, ScheduleError, parse_schedule
from scheduler.engine import ScheduleEngine, ScheduleExists
from scheduler.firings import FiringReport
from scheduler.holds import Holds

STHLM = ZoneInfo("Europe/Stockholm")
SITE: Site = load_site(EXAMPLE_SITE)
WING_A_CURTAINS = [f"a10{i}-curtain" for i in range(1, 7)]


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=STHLM).astimezone(UTC)  # type: ignore[misc]


@dataclass
class Sent:
    device: str
    action: str
    args: dict[str, Any]
    actor: str
    reason: str | None
    at: datetime
    refused: str | None = None


class FakeSender:
    """Records every command; answers ``ok`` (or ``outcomes[device]``)."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sent: list[Sent] = []
        self.outcomes: dict[str, str] = {}

    async def send(
        self,
        device: str,
        action: str,
        args: Any = None,
        *,
        actor: str,
        reason: str | None = None,
        refused: str | None = None,
    ) -> Any:
        now = self.clock.now()
        self.sent.append(Sent(device, action, dict(args or {}), actor, reason, now, refused))
        if refused is not None:
            return SimpleNamespace(outcome="refused")
        return SimpleNamespace(outcome=self.outcomes.get(device, "ok"))

    def devices(self) -> list[str]:
        return sorted(s.device for s in self.sent)


def close_wing_a(rule: dict[str, Any] | None = None, **extra: Any) -> Schedule:
    return parse_schedule(
        {
            "id": extra.pop("id", "night-a"),
            "name": "Night curtains A",
            "target": "wing:A",
            "action": "close",
            "rule": rule or {"kind": "daily", "time": "21:30"},
            "owner": "nurse",
            **extra,
        }
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    store = open_store(f"sqlite:///{tmp_path / 'engine.sqlite'}")
    await store.open()
    await add_owner(store)
    yield store
    await store.close()


async def add_owner(store: SqlStore, username: str = "nurse", **changes: Any) -> None:
    """A schedules' owner: staff of every wing (a firing runs with its owner's rights),
    then ``changes`` (fields of the user record, as an admin would change them)."""
    wings = sorted({a.wing for a in SITE.apartments})
    user = await ensure_user(
        store,
        username=username,
        password=random_password(username),
        roles=["staff"],
        units=wings,
        now=START,
    )
    if changes:
        await store.update_user(user.id, changes)  # type: ignore[arg-type]


START = local(2026, 12, 1, 20, 0)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def engine_for(store: SqlStore, clock: ManualClock, **kw: Any) -> tuple[ScheduleEngine, FakeSender]:
    sender = FakeSender(clock)
    return ScheduleEngine(store, sender, SITE, clock, **kw), sender


async def at(engine: ScheduleEngine, clock: ManualClock, when: datetime) -> list[Any]:
    clock.set(when)
    return await engine.run_due()


async def test_a_due_time_fires_exactly_once(store: SqlStore, clock: ManualClock) -> None:
    engine, sender = engine_for(store, clock)
    await engine.create(close_wing_a())
    assert await at(engine, clock, local(2026, 12, 1, 21, 29, 59)) == []
    [report] = await at(engine, clock, local(2026, 12, 1, 21, 30))
    assert (report.outcome, report.due_at) == ("ok", local(2026, 12, 1, 21, 30))
    assert sender.devices() == WING_A_CURTAINS
    assert {(s.action, s.actor, s.reason) for s in sender.sent} == {
        ("close", "schedule:night-a for nurse", "Night curtains A")
    }
    assert await engine.run_due() == []  # called twice at the due time
    assert await at(engine, clock, local(2026, 12, 1, 21, 30, 30)) == []
    assert len(sender.sent) == 6
    [firing] = await store.firings(schedule_id="night-a")
    assert (firing.outcome, firing.details["devices"]["a101-curtain"]) == ("ok", "ok")


async def test_a_restart_at_the_due_time_does_not_fire_again(
    store: SqlStore, clock: ManualClock
) -> None:
    first, sent_first = engine_for(store, clock)
    await first.create(close_wing_a())
    await at(first, clock, local(2026, 12, 1, 21, 30))
    second, sent_second = engine_for(store, clock)  # the restarted process
    assert await at(second, clock, local(2026, 12, 1, 21, 30, 5)) == []
    assert (len(sent_first.sent), sent_second.sent) == (6, [])
    # next day it fires again, once
    assert len(await at(second, clock, local(2026, 12, 2, 21, 30))) == 1
    assert len(sent_second.sent) == 6


async def test_two_engines_racing_for_one_instant_send_once(
    store: SqlStore, clock: ManualClock
) -> None:
    one, sent_one = engine_for(store, clock)
    await one.create(close_wing_a())
    two, sent_two = engine_for(store, clock)
    await two.start()
    clock.set(local(2026, 12, 1, 21, 30))
    reports = await asyncio.gather(one.run_due(), two.run_due())
    outcomes = sorted(r.outcome for rs in reports for r in rs)
    assert outcomes == ["already_ran", "ok"]
    assert len(sent_one.sent) + len(sent_two.sent) == 6


@pytest.mark.parametrize(("policy", "fired"), [("run_latest", 1), ("skip", 0)])
async def test_an_hour_long_outage(
    store: SqlStore, clock: ManualClock, policy: str, fired: int
) -> None:
    engine, _ = engine_for(store, clock)
    await engine.create(close_wing_a(missed_policy=policy))
    await at(engine, clock, local(2026, 12, 1, 21, 0))  # then the controller stops
    restarted, sender = engine_for(store, clock)
    reports = await at(restarted, clock, local(2026, 12, 1, 22, 0))
    assert len(sender.sent) == 6 * fired
    assert [r.outcome for r in reports] == (["ok"] if fired else ["missed"])
    assert reports[0].due_at == local(2026, 12, 1, 21, 30)
    assert await at(restarted, clock, local(2026, 12, 1, 22, 1)) == []
    again, sender_again = engine_for(store, clock)  # and a second restart: nothing
    assert await at(again, clock, local(2026, 12, 1, 22, 2)) == []
    assert sender_again.sent == []


async def test_an_outage_longer_than_the_grace_runs_nothing(
    store: SqlStore, clock: ManualClock
) -> None:
    engine, _ = engine_for(store, clock)
    await engine.create(close_wing_a(grace_minutes=30))
    restarted, sender = engine_for(store, clock)
    [report] = await at(restarted, clock, local(2026, 12, 1, 22, 30))
    assert (report.outcome, sender.sent) == ("missed", [])


async def test_changes_take_effect_without_a_restart(store: SqlStore, clock: ManualClock) -> None:
    engine, sender = engine_for(store, clock)
    await engine.create(close_wing_a())
    await engine.replace(close_wing_a({"kind": "daily", "time": "21:00"}))
    assert len(await at(engine, clock, local(2026, 12, 1, 21, 0))) == 1
    assert await at(engine, clock, local(2026, 12, 1, 21, 30)) == []
    await engine.set_enabled("night-a", False)
    assert await at(engine, clock, local(2026, 12, 2, 21, 0)) == []
    clock.set(local(2026, 12, 2, 21, 10))
    await engine.set_enabled("night-a", True)  # no catch-up of the pause
    assert await at(engine, clock, local(2026, 12, 2, 21, 11)) == []
    assert len(await at(engine, clock, local(2026, 12, 3, 21, 0))) == 1
    assert await engine.delete("night-a")
    assert await at(engine, clock, local(2026, 12, 4, 21, 0)) == []
    assert len(sender.sent) == 12
    assert not await engine.delete("night-a")


async def test_the_run_loop_wakes_for_a_new_schedule(store: SqlStore, clock: ManualClock) -> None:
    engine, sender = engine_for(store, clock)
    bus = EventBus()
    engine.bus = bus
    with bus.subscribe(FiringReport) as fired:
        task = asyncio.create_task(engine.run())
        try:
            await engine.create(close_wing_a({"kind": "once", "at": "2026-12-01T20:05:00"}))
            clock.set(local(2026, 12, 1, 20, 5))
            engine.wake()  # a test moved the clock: look again now
            report = await fired.get(timeout=5)
            assert report.outcome == "ok"
            clock.set(local(2026, 12, 1, 21, 30))
            engine.wake()
            with pytest.raises(TimeoutError):
                await fired.get(timeout=0.3)  # a once rule: nothing more
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert len(sender.sent) == 6


async def test_bad_schedules_are_refused(store: SqlStore, clock: ManualClock) -> None:
    engine, _ = engine_for(store, clock)
    with pytest.raises(ScheduleError) as info:
        await engine.create(close_wing_a(target="wing:Z"))
    assert info.value.problems[0][0] == "target"
    await engine.create(close_wing_a())
    with pytest.raises(ScheduleExists):
        await engine.create(close_wing_a())


async def test_overrides_fire_per_apartment(store: SqlStore, clock: ManualClock) -> None:
    engine, sender = engine_for(store, clock)
    await engine.create(close_wing_a(overrides=[{"apartment": "103", "time": "22:15"}]))
    await at(engine, clock, local(2026, 12, 1, 21, 30))
    assert "a103-curtain" not in sender.devices()
    assert len(sender.sent) == 5
    [late] = await at(engine, clock, local(2026, 12, 1, 22, 15))
    assert late.devices == {"a103-curtain": "ok"}


async def test_failed_devices_make_a_partial_firing(store: SqlStore, clock: ManualClock) -> None:
    engine, sender = engine_for(store, clock)
    sender.outcomes["a102-curtain"] = "offline"
    await engine.create(close_wing_a())
    [report] = await at(engine, clock, local(2026, 12, 1, 21, 30))
    assert report.outcome == "partial"
    assert report.devices["a102-curtain"] == "offline"


# -- staff holds -------------------------------------------------------------------------


def staff_command(
    device: str,
    ts: datetime,
    *,
    action: str = "open",
    actor: str = "nurse-anna",
    outcome: str = "ok",
) -> CommandResolved:
    """A command outcome as the command bus publishes it."""
    return CommandResolved(
        "c" * 16, device, action, Outcome(outcome), None, None, 12.0, actor, None, ts
    )


async def test_a_staff_command_holds_only_that_device_for_one_firing(
    store: SqlStore, clock: ManualClock
) -> None:
    bus = EventBus()
    commands_seen = bus.subscribe(CommandResolved, queue_size=10_000)
    engine, sender = engine_for(store, clock, bus=bus, commands_seen=commands_seen)
    await engine.create(close_wing_a())
    await engine.create(close_wing_a({"kind": "daily", "time": "07:00"}, id="morning-a"))
    # the nurse opens 102's curtain in the evening (through the bus, as the command bus does)
    bus.publish(staff_command("a102-curtain", local(2026, 12, 1, 20, 45)))
    # ignored: a schedule's own command, a failed one, a maintenance action
    bus.publish(staff_command("a103-curtain", clock.now(), actor="schedule:x"))
    bus.publish(staff_command("a104-curtain", clock.now(), outcome="timeout"))
    bus.publish(staff_command("a105-curtain", clock.now(), action="identify"))
    [report] = await at(engine, clock, local(2026, 12, 1, 21, 30))
    assert report.devices["a102-curtain"] == "held"
    assert report.outcome == "ok"
    assert sender.devices() == [d for d in WING_A_CURTAINS if d != "a102-curtain"]
    [record] = await store.firings(schedule_id="night-a")
    assert record.details["devices"]["a102-curtain"] == "held"
    assert engine.holds.get("a102-curtain") is None
    sender.sent.clear()
    await at(engine, clock, local(2026, 12, 2, 7, 0))  # normal firing resumes after
    assert sender.devices() == WING_A_CURTAINS


def test_a_calls_ring_and_hang_up_hold_nothing() -> None:
    holds = Holds()
    at = local(2026, 12, 1, 20, 45)
    for action in ("ring", "end_call"):
        assert holds.note(staff_command("a101-screen", at, action=action)) is None
    assert holds.get("a101-screen") is None
    assert holds.note(staff_command("a101-screen", at, action="set_night_mode")) is not None


async def test_a_hold_ends_at_the_next_event_of_any_schedule_and_survives_a_restart(
    store: SqlStore, clock: ManualClock
) -> None:
    engine, _ = engine_for(store, clock)
    await engine.create(close_wing_a())
    await engine.create(
        close_wing_a({"kind": "daily", "time": "22:00"}, id="late-a", target="device:a101-curtain")
    )
    engine.note_command(staff_command("a101-curtain", local(2026, 12, 1, 20, 30)))
    await engine.run_due()  # writes the hold
    restarted, _ = engine_for(store, clock)
    [first] = await at(restarted, clock, local(2026, 12, 1, 21, 30))
    assert first.devices["a101-curtain"] == "held"
    [second] = await at(restarted, clock, local(2026, 12, 1, 22, 0))
    assert second.devices == {"a101-curtain": "ok"}
    assert await store.holds() == []


async def test_a_command_after_the_due_instant_holds_the_following_firing(
    store: SqlStore, clock: ManualClock
) -> None:
    engine, _ = engine_for(store, clock)
    await engine.create(close_wing_a())
    engine.note_command(staff_command("a101-curtain", local(2026, 12, 1, 21, 30, 1)))
    [report] = await at(engine, clock, local(2026, 12, 1, 21, 30, 2))
    assert report.devices["a101-curtain"] == "ok"
    [report] = await at(engine, clock, local(2026, 12, 2, 21, 30))
    assert report.devices["a101-curtain"] == "held"


async def test_a_schedule_made_after_the_staff_command_is_not_held_by_it(
    store: SqlStore, clock: ManualClock
) -> None:
    """A nurse unlocks from an alarm and asks for a relock in 10 minutes: the relock
    (made after her unlock) runs, and ends her hold; an older schedule stays held."""
    engine, sender = engine_for(store, clock)
    await engine.create(close_wing_a(target="device:a101-curtain"))  # made before
    clock.set(local(2026, 12, 1, 21, 0))
    engine.note_command(staff_command("a101-curtain", local(2026, 12, 1, 21, 0)))
    clock.set(local(2026, 12, 1, 21, 0, 5))
    await engine.create(
        close_wing_a(
            {"kind": "once", "at": "2026-12-01T21:10:00"}, id="relock", target="device:a101-curtain"
        )
    )
    [report] = await at(engine, clock, local(2026, 12, 1, 21, 10))
    assert (report.schedule_id, report.devices) == ("relock", {"a101-curtain": "ok"})
    assert engine.holds.get("a101-curtain") is None
    [later] = await at(engine, clock, local(2026, 12, 1, 21, 30))
    assert later.devices == {"a101-curtain": "ok"}  # the hold ended with the relock
    assert len(sender.sent) == 2


async def test_every_device_held_makes_a_held_firing(store: SqlStore, clock: ManualClock) -> None:
    engine, sender = engine_for(store, clock)
    await engine.create(close_wing_a(target="device:a101-curtain"))
    engine.note_command(staff_command("a101-curtain", clock.now()))
    [report] = await at(engine, clock, local(2026, 12, 1, 21, 30))
    assert (report.outcome, sender.sent) == ("held", [])
    assert await engine.release_hold("a101-curtain") is None


async def test_an_admin_can_release_a_hold(store: SqlStore, clock: ManualClock) -> None:
    engine, _ = engine_for(store, clock)
    await engine.create(close_wing_a(target="device:a101-curtain"))
    engine.note_command(staff_command("a101-curtain", clock.now()))
    assert await engine.release_hold("a101-curtain") is not None
    [report] = await at(engine, clock, local(2026, 12, 1, 21, 30))
    assert report.outcome == "ok"


async def test_upcoming_says_when_the_sun_fallback_is_used(
    store: SqlStore, clock: ManualClock
) -> None:
    kiruna = SITE.model_copy(
        update={"site": SITE.site.model_copy(update={"latitude": 67.8558, "longitude": 20.2253})}
    )
    sender = FakeSender(clock)
    engine = ScheduleEngine(store, sender, kiruna, clock)
    clock.set(local(2026, 6, 20, 12, 0))
    loaded = await engine.create(
        close_wing_a({"kind": "sun", "event": "sunset", "fallback": "22:00"})
    )
    [group] = engine.upcoming(loaded)
    first = group["firings"][0]
    assert first["fallback_used"] is True
    assert "22:00 used" in first["reason"]
    assert first["local"].startswith("2026-06-20T22:00")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"disabled": True}, "user 'nurse' is disabled"),
        ({"units": ("B",)}, "wings: B"),
        ({"roles": ("technician",), "units": ()}, "roles: technician"),
    ],
    ids=["disabled", "lost-wing", "lost-role"],
)
async def test_a_firing_runs_with_its_owners_rights_now(
    store: SqlStore, clock: ManualClock, change: dict[str, Any], why: str
) -> None:
    engine, sender = engine_for(store, clock)
    loaded = await engine.create(close_wing_a())
    assert await engine.suspensions([loaded]) == {}
    await add_owner(store, **change)
    [suspended] = (await engine.suspensions(engine.all())).values()
    assert why in suspended
    [report] = await at(engine, clock, local(2026, 12, 1, 21, 30))
    assert (report.outcome, report.owner) == ("refused", "nurse")
    assert set(report.devices.values()) == {"refused"}
    assert len(sender.sent) == 6  # each audited as refused, none sent
    assert all(why in (s.refused or "") for s in sender.sent)
    assert {s.actor for s in sender.sent} == {"schedule:night-a for nurse"}

    taken = await engine.take_over("night-a", "admin-anna")
    assert taken is not None
    assert (taken.record.owner, taken.schedule and taken.schedule.owner) == ("admin-anna",) * 2
    await add_owner(store, "admin-anna", roles=("admin",), units=())
    assert await engine.suspensions(engine.all()) == {}
    sender.sent.clear()
    [report] = await at(engine, clock, local(2026, 12, 2, 21, 30))
    assert (report.outcome, report.owner) == ("ok", "admin-anna")
    assert [s.refused for s in sender.sent] == [None] * 6
    assert {s.actor for s in sender.sent} == {"schedule:night-a for admin-anna"}
    [stored] = [r for r in await store.list_schedules() if r.id == "night-a"]
    assert stored.owner == "admin-anna"  # a restart keeps the new owner


async def test_a_schedule_made_while_the_leader_reads_the_store_is_kept(
    store: SqlStore, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The leader's reload (another instance's changes) read the store, a schedule was
    created here meanwhile, and the reload dropped it as deleted (seen as a flaky 404)."""
    engine, _ = engine_for(store, clock)
    await engine.create(close_wing_a(id="old"))
    read, go_on = asyncio.Event(), asyncio.Event()
    list_schedules = store.list_schedules

    async def slow_read(**kw: Any) -> Any:
        rows = await list_schedules(**kw)
        read.set()
        await go_on.wait()
        return rows

    monkeypatch.setattr(store, "list_schedules", slow_read)
    reload = asyncio.create_task(engine.sync_from_store())
    await read.wait()
    await engine.create(close_wing_a(id="new"))
    await engine.set_enabled("old", False)
    go_on.set()
    await reload
    new, old = engine.get("new"), engine.get("old")
    assert new is not None
    assert old is not None
    assert old.record.enabled is False  # not set back by the older read
