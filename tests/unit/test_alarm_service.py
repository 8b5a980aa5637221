"""The alarm service with a ManualClock and a real SQLite store: dedupe, escalation
exactly once per period, one alarm per condition episode, restart, staff actions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from config.site import EXAMPLE_SITE, load_site
from controller.alarms import AlarmService
from controller.bus_messages import AlarmChanged, DeviceEvent, FireChanged, TwinChanged
from controller.event_bus import EventBus, Subscription, latest_twins
from controller.store import SqlStore, StoreError
from controller.store.alarm_records import AlarmConflict, AlarmNotFound, AlarmRecord
from controller.twins import TwinRegistry
from devices.clock import ManualClock
from devices.contract import Availability, DeviceType, LockState

SITE = load_site(EXAMPLE_SITE)
T0 = datetime(2026, 11, 26, 21, 30, tzinfo=UTC)  # 22:30 in Stockholm
MIN = timedelta(minutes=1)


class FlakyStore(SqlStore):
    """A store whose next ``fail_adds`` alarm inserts fail."""

    fail_adds = 0

    async def add_alarm(self, alarm: AlarmRecord) -> AlarmRecord:
        if self.fail_adds:
            self.fail_adds -= 1
            raise StoreError("disk full")
        return await super().add_alarm(alarm)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[FlakyStore]:
    async with FlakyStore(f"sqlite:///{tmp_path / 'alarms.sqlite'}") as opened:
        yield opened


class Rig:
    """A service over an all-online registry, with the bus's alarm pushes collected."""

    def __init__(self, store: SqlStore, clock: ManualClock, **options: Any) -> None:
        self.clock = clock
        self.bus = EventBus()
        self.twins = TwinRegistry(SITE)
        for twin in self.twins.all():
            self.twins.apply_availability(twin, Availability.ONLINE, clock.now())
            if twin.type is DeviceType.LOCK:
                self.lock_state(twin.id, "locked")
        self.pushes: Subscription[AlarmChanged] = self.bus.subscribe(AlarmChanged, queue_size=0)
        self.svc = AlarmService(
            store=store, bus=self.bus, twins=self.twins, site=SITE, clock=clock, **options
        )

    def lock_state(self, device: str, lock: str, battery: int = 80) -> None:
        twin = self.twins.get(device)
        assert twin is not None
        seq = twin.reported.seq + 1 if twin.reported else 0
        state = LockState(seq=seq, ts=self.clock.now(), lock=lock, door="closed", battery=battery)
        self.twins.apply_state(twin, state, self.clock.now())

    async def event(self, device: str, type_: str, **details: Any) -> None:
        await self.svc.handle(DeviceEvent(self.clock.now(), device, type_, details))

    async def tick_at(self, delta: timedelta) -> None:
        self.clock.set(T0 + delta)
        await self.svc.tick()

    def pushed(self) -> list[tuple[Any, str, str, int]]:
        out = []
        for pushed in self.pushes.drain():
            a = pushed.alarm
            out.append((a.id, a.kind, pushed.change, a.escalations))
        return out


async def rig(store: SqlStore, **options: Any) -> Rig:
    r = Rig(store, ManualClock(T0), **options)
    await r.svc.load()
    return r


async def test_help_is_stored_then_pushed_and_repeats_only_count(store: SqlStore) -> None:
    r = await rig(store)
    await r.event("a101-screen", "help_pressed")
    [alarm] = r.svc.active()
    assert (alarm.kind, alarm.apartment, alarm.state) == ("help", "101", "open")
    assert await store.get_alarm(alarm.id) == alarm
    r.clock.advance(30)
    await r.event("a101-screen", "help_pressed")
    await r.event("a101-screen", "help_pressed")
    [again] = await store.active_alarms()
    assert again.id == alarm.id
    assert again.details["count"] == 3
    assert r.pushed() == [
        (alarm.id, "help", "raised", 0),
        (alarm.id, "help", "repeated", 0),
        (alarm.id, "help", "repeated", 0),
    ]
    body = r.svc.to_json(again)
    assert (body["resident"], body["count"], body["suggested_reason"]) == (
        "Astrid Lindqvist",
        3,
        "emergency",
    )


async def test_escalation_exactly_once_per_period_until_taken(store: SqlStore) -> None:
    r = await rig(store)
    await r.event("a102-screen", "help_pressed")
    [alarm] = r.svc.active()
    r.pushed()
    await r.tick_at(4 * MIN + timedelta(seconds=59))
    assert r.pushed() == []
    await r.tick_at(5 * MIN)
    await r.tick_at(5 * MIN)
    await r.tick_at(9 * MIN + timedelta(seconds=59))
    assert r.pushed() == [(alarm.id, "help", "escalated", 1)]
    stored = await store.get_alarm(alarm.id)
    assert stored is not None
    assert (stored.escalations, stored.last_escalated_at) == (1, T0 + 5 * MIN)
    await r.tick_at(10 * MIN)
    assert r.pushed() == [(alarm.id, "help", "escalated", 2)]
    await r.svc.act(alarm.id, "ack", actor="anna", text="on my way")
    await r.tick_at(60 * MIN)
    assert r.pushed() == [(alarm.id, "help", "acknowledged", 2)]


async def test_restart_reloads_active_alarms_and_keeps_escalating(store: SqlStore) -> None:
    first = await rig(store)
    await first.event("a103-screen", "help_pressed")
    await first.tick_at(5 * MIN)
    [alarm] = first.svc.active()
    assert alarm.escalations == 1
    second = Rig(store, ManualClock(T0 + 6 * MIN))  # a new process: nothing in memory
    await second.svc.load()
    assert [a.id for a in second.svc.active()] == [alarm.id]
    await second.tick_at(9 * MIN + timedelta(seconds=59))
    await second.tick_at(10 * MIN)
    assert second.pushed() == [(alarm.id, "help", "escalated", 2)]
    await second.event("a103-screen", "help_pressed")  # still deduped after the restart
    assert [(a.id, a.details["count"]) for a in await store.active_alarms()] == [(alarm.id, 2)]


async def test_state_machine_and_activity_log(store: SqlStore) -> None:
    r = await rig(store)
    await r.event("a101-screen", "help_pressed")
    await r.event("a102-screen", "help_pressed")
    one, two = r.svc.active()
    r.clock.advance(60)
    taken = await r.svc.act(one.id, "ack", actor="anna", text="on my way")
    assert (taken.state, taken.acked_by, taken.ack_comment) == ("acknowledged", "anna", "on my way")
    with pytest.raises(AlarmConflict) as caught:
        await r.svc.act(one.id, "ack", actor="bo", text="me too")
    assert caught.value.current.acked_by == "anna"
    there = await r.svc.act(one.id, "on_site", actor="anna")
    assert (there.state, there.on_site_by) == ("on_site", "anna")
    closed = await r.svc.act(one.id, "close", actor="anna", text="fell, helped up, unhurt")
    assert (closed.state, closed.closed_by, closed.close_note) == (
        "closed",
        "anna",
        "fell, helped up, unhurt",
    )
    with pytest.raises(AlarmConflict):
        await r.svc.act(one.id, "close", actor="anna", text="again")
    # on site straight from open takes the alarm implicitly
    direct = await r.svc.act(two.id, "on_site", actor="bo")
    assert (direct.state, direct.acked_by, direct.on_site_by) == ("on_site", "bo", "bo")
    with pytest.raises(AlarmNotFound):
        await r.svc.act(999, "ack", actor="anna")
    assert [a.id for a in r.svc.active()] == [two.id]
    log = await store.activity()
    assert [(a.actor, a.action, a.subject, a.reason) for a in reversed(log)] == [
        ("anna", "alarm_ack", str(one.id), "on my way"),
        ("anna", "alarm_on_site", str(one.id), None),
        ("anna", "alarm_close", str(one.id), "fell, helped up, unhurt"),
        ("bo", "alarm_on_site", str(two.id), None),
    ]
    assert all(a.apartment in ("101", "102") for a in log)


async def test_close_from_open_is_allowed(store: SqlStore) -> None:
    r = await rig(store)
    await r.event("a104-screen", "help_pressed")
    [alarm] = r.svc.active()
    closed = await r.svc.act(alarm.id, "close", actor="anna", text="pressed by mistake")
    assert (closed.state, closed.acked_by) == ("closed", None)
    await r.event("a104-screen", "help_pressed")  # a new press after closing: new alarm
    [fresh] = r.svc.active()
    assert fresh.id != alarm.id


async def test_offline_raises_once_per_episode(store: SqlStore) -> None:
    r = await rig(store)
    twin = r.twins.get("a105-curtain")
    r.twins.apply_availability(twin, Availability.OFFLINE, T0)
    await r.tick_at(9 * MIN + timedelta(seconds=59))
    assert r.svc.active() == []
    await r.tick_at(10 * MIN)
    [alarm] = r.svc.active()
    assert (alarm.kind, alarm.device, alarm.details["availability"]) == (
        "offline",
        "a105-curtain",
        "offline",
    )
    await r.tick_at(11 * MIN)
    await r.svc.act(alarm.id, "close", actor="tech", text="technician called")
    await r.tick_at(30 * MIN)  # still offline: not raised again
    assert r.svc.active() == []
    r.twins.apply_availability(twin, Availability.ONLINE, T0 + 31 * MIN)
    await r.tick_at(31 * MIN)
    r.twins.apply_availability(twin, Availability.OFFLINE, T0 + 32 * MIN)
    await r.tick_at(42 * MIN)
    [again] = r.svc.active()
    assert again.id != alarm.id


async def test_condition_clearing_is_recorded_and_a_recurrence_counts(store: SqlStore) -> None:
    r = await rig(store)
    r.lock_state("a106-lock", "jammed")
    await r.svc.tick()
    await r.event("a106-lock", "jammed", target="locked")  # same episode: not counted
    [alarm] = r.svc.active()
    assert (alarm.kind, alarm.details["count"]) == ("jammed", 1)
    r.lock_state("a106-lock", "locked")
    await r.svc.tick()
    [cleared] = r.svc.active()
    assert cleared.details["cleared_at"] == T0.isoformat()
    r.lock_state("a106-lock", "jammed")
    await r.svc.tick()
    [again] = r.svc.active()
    assert (again.id, again.details["count"], again.details["cleared_at"]) == (alarm.id, 2, None)
    assert [p[2] for p in r.pushed()] == ["raised", "cleared", "repeated"]


async def test_battery_unknown_state_and_fire(store: SqlStore) -> None:
    r = await rig(store)
    r.lock_state("a111-lock", "locked", battery=14)
    r.lock_state("a112-lock", "unlocking")
    await r.tick_at(timedelta(0))  # first seen now
    await r.tick_at(timedelta(seconds=59))
    assert [a.kind for a in r.svc.active()] == ["battery_low"]
    await r.tick_at(timedelta(seconds=60))
    assert [a.kind for a in r.svc.active()] == ["battery_low", "unknown_state"]
    await r.svc.handle(FireChanged("alarm", T0))
    await r.svc.handle(FireChanged("alarm", T0))
    fire = [a for a in r.svc.active() if a.kind == "fire"]
    assert [(a.apartment, a.device, a.details["count"]) for a in fire] == [(None, None, 1)]
    await r.svc.handle(FireChanged("normal", T0))
    [fire_alarm] = [a for a in r.svc.active() if a.kind == "fire"]
    assert fire_alarm.details["cleared_at"] is not None


async def test_night_door_uses_the_event_time(store: SqlStore) -> None:
    r = await rig(store)
    await r.event("a101-lock", "door_opened")  # 22:30 local, 101 supervised
    await r.event("a102-lock", "door_opened")  # not supervised
    r.clock.set(datetime(2026, 11, 27, 11, 0, tzinfo=UTC))  # noon
    await r.event("a104-lock", "door_opened")
    assert [(a.kind, a.device) for a in r.svc.active()] == [("night_door", "a101-lock")]


async def test_store_failure_still_rings_and_is_retried(store: FlakyStore) -> None:
    r = await rig(store)
    store.fail_adds = 2
    await r.event("a201-screen", "help_pressed")
    assert r.svc.store_failing == "disk full"
    [(alarm_id, kind, change, _)] = r.pushed()
    assert (alarm_id, kind, change) == (None, "help", "raised")
    await r.event("a201-screen", "help_pressed")  # still failing: counted, pushed again
    await r.svc.tick()  # stored now
    [alarm] = await store.active_alarms()
    assert alarm.details["count"] == 2
    assert r.svc.store_failing is None
    assert r.pushed() == [(None, "help", "raised", 0), (alarm.id, "help", "raised", 0)]


async def test_broker_unreachable_is_one_site_alarm(store: SqlStore) -> None:
    link = {"up": False}
    r = await rig(store, connected=lambda: link["up"])
    for twin in r.twins.all():
        r.twins.apply_availability(twin, Availability.OFFLINE, T0)  # everything looks gone
    await r.tick_at(0 * MIN)
    await r.tick_at(10 * MIN)
    [alarm] = r.svc.active()
    assert (alarm.kind, alarm.device, alarm.details["reason"]) == (
        "offline",
        None,
        "broker_unreachable",
    )
    link["up"] = True
    await r.tick_at(11 * MIN)
    assert r.svc.active()[0].details["cleared_at"] is not None


def twin_message(device: str, firmware: str) -> TwinChanged:
    """A twin message told apart from others of its device by ``firmware``."""
    twin = TwinRegistry(SITE).get(device)
    assert twin is not None
    return replace(TwinChanged.of(twin), firmware=firmware)


def test_a_batch_keeps_every_event_and_the_last_twin_message_of_each_device() -> None:
    opened = DeviceEvent(T0, "a101-lock", "door_opened", {})
    fire = FireChanged("alarm", T0)
    batch = [
        twin_message("a101-lock", "1"),
        opened,
        twin_message("a102-lock", "2"),
        twin_message("a101-lock", "3"),
        fire,
    ]
    kept = latest_twins(batch)
    assert kept == [opened, batch[2], batch[3], fire]


async def test_the_service_drains_a_burst_from_its_subscription() -> None:
    bus = EventBus()
    with bus.subscribe(TwinChanged, queue_size=0) as sub:
        for n in range(3):
            bus.publish(twin_message("a101-lock", str(n)))
        bus.publish(FireChanged("alarm", T0))  # a type it did not subscribe to
        assert [m.firmware for m in sub.drain()] == ["0", "1", "2"]
        assert sub.drain() == []


async def test_a_tick_judges_a_twin_changed_without_a_bus_message(store: SqlStore) -> None:
    r = await rig(store)
    await r.tick_at(0 * MIN)  # the first tick judges every twin; nothing is wrong
    twin = r.twins.get("a105-curtain")
    r.twins.apply_availability(twin, Availability.OFFLINE, T0 + MIN)  # no bus message
    await r.tick_at(2 * MIN)  # judged because it changed: waiting to become due
    await r.tick_at(11 * MIN)  # judged because it waits
    [alarm] = r.svc.active()
    assert (alarm.kind, alarm.device) == ("offline", "a105-curtain")


async def test_two_instances_seeing_every_message_raise_and_escalate_each_alarm_once(
    store: SqlStore,
) -> None:
    """Two services on one store, both handed every message (no ``$share``): one alarm
    per press and per fire, counted once; only the leader escalates, and a new leader
    takes over the escalation count as stored."""
    lead = {"a": True, "b": False}
    a = await rig(store, escalates=lambda: lead["a"])
    b = await rig(store, escalates=lambda: lead["b"])
    for key in ("1@t", "2@t"):
        press = DeviceEvent(T0, "a101-screen", "help_pressed", {}, key)
        for r in (a, b):
            await r.svc.handle(press)
        fire = FireChanged("alarm", T0)
        for r in (b, a):
            await r.svc.handle(fire)
    help_alarm, fire_alarm = await store.active_alarms()
    assert (help_alarm.kind, help_alarm.details["count"]) == ("help", 2)
    assert help_alarm.details["event_keys"] == ["1@t", "2@t"]
    assert (fire_alarm.kind, fire_alarm.details["count"]) == ("fire", 1)
    assert a.pushed() == [
        (help_alarm.id, "help", "raised", 0),
        (help_alarm.id, "help", "repeated", 0),
    ]
    assert b.pushed() == [(fire_alarm.id, "fire", "raised", 0)]
    assert [x.details["count"] for x in b.svc.active()] == [2, 1]  # b's view in step
    for r in (a, b):
        await r.tick_at(5 * MIN)
    assert a.pushed() == [
        (help_alarm.id, "help", "escalated", 1),
        (fire_alarm.id, "fire", "escalated", 1),
    ]
    assert b.pushed() == []
    lead.update(a=False, b=True)  # the leader changes
    for r in (a, b):
        await r.tick_at(10 * MIN)
    assert a.pushed() == []
    assert b.pushed() == [
        (help_alarm.id, "help", "escalated", 2),
        (fire_alarm.id, "fire", "escalated", 2),
    ]
    assert [x.escalations for x in await store.active_alarms()] == [2, 2]


async def test_the_leader_escalates_an_alarm_only_another_instance_saw(
    store: SqlStore,
) -> None:
    """With ``$share`` each event reaches one instance: the leader escalates alarms it
    never saw raised (it takes the active alarms from the store)."""
    leader = await rig(store)
    other = await rig(store, escalates=lambda: False)
    await other.event("a105-screen", "help_pressed")
    [alarm] = other.svc.active()
    assert leader.svc.active() == []
    await leader.tick_at(5 * MIN)
    assert leader.pushed() == [(alarm.id, "help", "escalated", 1)]
    await other.svc.act(alarm.id, "ack", actor="anna", text="on my way")
    await leader.tick_at(10 * MIN)
    assert leader.pushed() == []
    assert leader.svc.active()[0].state == "acknowledged"
