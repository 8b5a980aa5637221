"""Device fallback routines: what the controller sends, and when the firmware runs them."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from config.site import EXAMPLE_SITE, load_site
from devices.clock import ManualClock
from devices.contract import Availability, DeviceSchedule, FallbackEntry, decode
from devices.firmware.fallback import Fallback
from scheduler import Schedule, parse_schedule
from scheduler.fallback import FallbackPublisher, device_fallbacks

SITE = load_site(EXAMPLE_SITE)
STHLM = ZoneInfo("Europe/Stockholm")
TODAY = date(2026, 12, 1)


def make(
    rule: dict[str, Any], target: str = "wing:A", action: str = "close", **kw: Any
) -> Schedule:
    return parse_schedule(
        {"id": kw.pop("id", "s"), "target": target, "action": action, "rule": rule,
         "owner": "o", **kw}
    )  # fmt: skip


def entries(*schedules: Schedule, today: date = TODAY) -> dict[str, list[FallbackEntry]]:
    return {k: v for k, v in device_fallbacks(schedules, SITE, today).items() if v}


def test_day_rules_become_routines_of_each_targeted_device() -> None:
    out = entries(
        make({"kind": "daily", "time": "21:30"}, id="a"),
        make({"kind": "weekdays", "time": "07:00", "weekdays": ["mon", "fri"]}, action="open"),
    )
    assert sorted(out) == [f"a10{i}-curtain" for i in range(1, 7)]
    first, second = out["a101-curtain"]
    assert (first.at, first.weekdays, first.action) == ("07:00", [0, 4], "open")
    assert (second.at, second.weekdays, second.action) == ("21:30", [0, 1, 2, 3, 4, 5, 6], "close")


def test_sun_cron_once_and_overrides() -> None:
    sun = make({"kind": "sun", "event": "sunset", "offset_minutes": 10, "fallback": "22:00"})
    assert entries(sun)["a102-curtain"][0].at == "22:00"
    cron = make({"kind": "cron", "expr": "30 7 * * 1-5"}, target="device:a101-curtain")
    assert entries(cron)["a101-curtain"][0].weekdays == [0, 1, 2, 3, 4]
    sunday = make({"kind": "cron", "expr": "0 9 * * 0,6"}, target="device:a101-curtain")
    assert entries(sunday)["a101-curtain"][0].weekdays == [5, 6]
    assert entries(make({"kind": "cron", "expr": "*/15 * * * *"})) == {}
    assert entries(make({"kind": "once", "at": "2026-12-01T14:00"})) == {}
    over = make(
        {"kind": "daily", "time": "21:30"}, overrides=[{"apartment": "103", "time": "23:00"}]
    )
    out = entries(over)
    assert (out["a101-curtain"][0].at, out["a103-curtain"][0].at) == ("21:30", "23:00")


def test_locks_only_get_lock_routines_with_wire_args() -> None:
    lock = make({"kind": "daily", "time": "22:00"}, target="type:lock", action="lock")
    unlock = make(
        {"kind": "daily", "time": "07:00"},
        target="type:lock",
        action="unlock",
        id="u",
        name="Morgon",
    )
    out = entries(lock, unlock)
    assert len(out) == 24
    assert [(e.at, e.action) for e in out["a101-lock"]] == [("22:00", "lock")]
    shade = make({"kind": "daily", "time": "12:00"}, action="set_position", args={"position": 40})
    assert entries(shade)["a101-curtain"][0].args == {"position": 40}


def test_paused_inactive_and_excepted_schedules_send_nothing() -> None:
    rule = {"kind": "daily", "time": "21:30"}
    assert entries(make(rule, enabled=False)) == {}
    assert entries(make(rule, active_from="2026-12-02")) == {}
    assert entries(make(rule, active_until="2026-11-30")) == {}
    assert entries(make(rule, exceptions=["2026-12-01"])) == {}
    assert entries(make(rule, exceptions=["2026-12-01"]), today=date(2026, 12, 2)) != {}


class FakeLink:
    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.connected.set()
        self.connects = 1
        self.sent: list[tuple[str, bytes, bool]] = []
        self.published = asyncio.Event()

    async def publish(
        self, topic: str, payload: Any, *, retain: bool = False, timeout: float = 10
    ) -> None:
        self.sent.append((topic, payload, retain))
        self.published.set()


async def test_the_publisher_sends_what_changed_with_increasing_versions() -> None:
    clock = ManualClock(datetime(2026, 12, 1, 12, tzinfo=UTC))
    link = FakeLink()
    publisher = FallbackPublisher(link, SITE, clock)
    night = make({"kind": "daily", "time": "21:30"})
    assert await publisher.publish([night], everything=True) == len(list(SITE.devices()))
    assert all(retain for _t, _p, retain in link.sent)
    topic, payload, _ = next(s for s in link.sent if "/a101-curtain/" in s[0])
    assert topic == "tryggbo/solgarden/dev/a101-curtain/schedule"
    first = decode(DeviceSchedule, payload)
    assert (first.tz, first.entries[0].at) == ("Europe/Stockholm", "21:30")
    assert await publisher.publish([night]) == 0
    link.sent.clear()
    assert await publisher.publish([]) == 6  # deleted: the six curtains get empty lists
    second = decode(DeviceSchedule, link.sent[0][1])
    assert second.entries == []
    assert second.version > first.version


async def test_the_publisher_loop_publishes_on_connect_and_on_change() -> None:
    clock = ManualClock(datetime(2026, 12, 1, 12, tzinfo=UTC))
    link = FakeLink()
    publisher = FallbackPublisher(link, SITE, clock)
    current: list[Schedule] = []
    task = asyncio.create_task(publisher.run(lambda: current))
    try:
        async with asyncio.timeout(5):
            while len(link.sent) < len(list(SITE.devices())):
                link.published.clear()
                await link.published.wait()
        link.sent.clear()
        current.append(make({"kind": "daily", "time": "21:30"}, target="device:a101-curtain"))
        publisher.changed()
        async with asyncio.timeout(5):
            while not link.sent:
                link.published.clear()
                await link.published.wait()
        assert [t for t, _p, _r in link.sent] == ["tryggbo/solgarden/dev/a101-curtain/schedule"]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


# -- the firmware side ---------------------------------------------------------------------


def routines(*entries: tuple[str, str]) -> DeviceSchedule:
    return DeviceSchedule(
        version=1, entries=[FallbackEntry(at=at, action=action) for at, action in entries]
    )


def local(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=STHLM, fold=fold).astimezone(UTC)  # type: ignore[misc]


def test_routines_run_only_while_the_controller_is_offline() -> None:
    fb = Fallback()
    fb.set_schedule(routines(("21:30", "lock")))
    assert fb.due(local(2026, 12, 1, 21, 31)) == []  # controller not heard yet
    fb.set_controller(Availability.ONLINE, local(2026, 12, 1, 21, 0))
    assert fb.due(local(2026, 12, 1, 21, 31)) == []
    fb.set_controller(Availability.OFFLINE, local(2026, 12, 1, 21, 29))
    assert fb.active
    assert fb.due(local(2026, 12, 1, 21, 29, 59)) == []
    assert [e.action for e in fb.due(local(2026, 12, 1, 21, 30))] == ["lock"]
    assert fb.due(local(2026, 12, 1, 21, 30, 1)) == []
    assert fb.due(local(2026, 12, 2, 21, 40)) == []  # found 10 minutes late: not run
    fb.set_controller(Availability.ONLINE, local(2026, 12, 3, 21, 0))
    assert fb.due(local(2026, 12, 3, 21, 31)) == []


def test_routines_that_passed_before_the_outage_are_not_caught_up() -> None:
    fb = Fallback()
    fb.set_schedule(routines(("21:30", "lock")))
    fb.set_controller(Availability.OFFLINE, local(2026, 12, 1, 21, 31))
    assert fb.due(local(2026, 12, 1, 21, 32)) == []


def test_dst_repeat_runs_once_and_the_gap_runs_when_the_clock_jumps() -> None:
    fb = Fallback()
    fb.set_schedule(routines(("02:30", "close")))
    fb.set_controller(Availability.OFFLINE, local(2026, 10, 25, 2, 0))
    ran = []
    t = local(2026, 10, 25, 2, 0)
    while t < local(2026, 10, 25, 3, 30):
        ran += fb.due(t)
        t += timedelta(minutes=1)
    assert len(ran) == 1  # 02:00-02:59 passes twice that night
    fb.set_controller(Availability.ONLINE, t)
    fb.set_controller(Availability.OFFLINE, local(2026, 3, 29, 1, 58))
    assert fb.due(local(2026, 3, 29, 1, 59)) == []
    assert len(fb.due(local(2026, 3, 29, 3, 0))) == 1  # 01:59 CET → 03:00 CEST


def test_weekdays_of_a_routine_are_kept() -> None:
    fb = Fallback()
    fb.set_schedule(
        DeviceSchedule(
            version=2, entries=[FallbackEntry(at="07:00", weekdays=[5, 6], action="open")]
        )
    )
    fb.set_controller(Availability.OFFLINE, local(2026, 12, 1, 6, 59))  # a Tuesday
    assert fb.due(local(2026, 12, 1, 7, 0)) == []
    fb.set_controller(Availability.ONLINE, local(2026, 12, 5, 6, 0))
    fb.set_controller(Availability.OFFLINE, local(2026, 12, 5, 6, 59))  # Saturday
    assert len(fb.due(local(2026, 12, 5, 7, 0))) == 1
