"""Whole schedules: enabled, active range, exceptions, overrides, catch-up, bench helper."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from config.site import EXAMPLE_SITE, load_site
from devices.clock import ManualClock
from scheduler import Place, Schedule, catch_up, due_between, next_due, parse_schedule, upcoming
from scheduler.bench import bench_next_fire, make_schedules

STHLM = ZoneInfo("Europe/Stockholm")
PLACE = Place(STHLM, 59.33, 18.07, "Stockholm")
KIRUNA = Place(STHLM, 67.8558, 20.2253, "Kiruna")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=STHLM)  # type: ignore[misc]


def make(rule: dict[str, Any], **extra: Any) -> Schedule:
    return parse_schedule(
        {
            "id": "s",
            "target": "type:curtain",
            "action": "close",
            "owner": "o",
            "rule": rule,
            **extra,
        }
    )


DAILY = {"kind": "daily", "time": "08:00"}


def test_disabled_never_fires() -> None:
    assert next_due(make(DAILY, enabled=False), local(2026, 1, 1), PLACE) is None


def test_active_range_and_exceptions() -> None:
    s = make(
        DAILY,
        active_from="2026-12-22",
        active_until="2026-12-27",
        exceptions=["2026-12-24", "2026-12-25"],
    )
    days = [f.day for f in due_between(s, local(2026, 1, 1), local(2027, 6, 1), PLACE)]
    assert days == [date(2026, 12, d) for d in (22, 23, 26, 27)]


def test_cron_exceptions_skip_whole_days_quickly() -> None:
    s = make({"kind": "cron", "expr": "* * * * *"}, exceptions=["2026-05-01", "2026-05-02"])
    found = next_due(s, local(2026, 4, 30, 23, 59), PLACE)
    assert found is not None
    assert found.at == local(2026, 5, 3, 0, 0)
    s2 = make({"kind": "cron", "expr": "*/5 * * * *"}, active_from="2026-05-10")
    found = next_due(s2, local(2026, 1, 1), PLACE)
    assert found is not None
    assert found.at == local(2026, 5, 10, 0, 0)


def test_override_applies_to_its_apartment_only() -> None:
    s = make(
        {"kind": "sun", "event": "sunset", "offset_minutes": 15, "fallback": "21:30"},
        overrides=[{"apartment": "101", "time": "23:00"}],
    )
    mine = next_due(s, local(2026, 6, 21, 12), KIRUNA, apartment="101")
    assert mine is not None
    assert mine.at == local(2026, 6, 21, 23, 0)
    assert not mine.fallback_used
    others = next_due(s, local(2026, 6, 21, 12), KIRUNA, apartment="102")
    assert others is not None
    assert others.at == local(2026, 6, 21, 21, 30)
    assert others.fallback_used


def test_upcoming_for_the_view_says_why() -> None:
    s = make({"kind": "sun", "event": "sunset", "offset_minutes": 15, "fallback": "22:00"})
    view = upcoming(s, local(2026, 6, 20, 12), KIRUNA, 3)
    assert len(view) == 3
    assert all(f.fallback_used and "no sunset at Kiruna" in (f.reason or "") for f in view)


def test_with_manual_clock() -> None:
    clock = ManualClock(local(2026, 3, 28, 9, 0))
    s = make({"kind": "daily", "time": "02:30"})
    found = next_due(s, clock.now(), PLACE)
    assert found is not None
    assert found.at == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    clock.set(found.at)
    assert catch_up(s, found.at - timedelta(seconds=1), clock.now(), PLACE) == found


def test_catch_up_policies() -> None:
    run = make(DAILY, missed_policy="run_latest", grace_minutes=60)
    skip = make(DAILY, missed_policy="skip", grace_minutes=60)
    since = local(2026, 6, 1, 7, 0)
    due = local(2026, 6, 1, 8, 0)
    # on time: both run
    for s in (run, skip):
        assert catch_up(s, since, due + timedelta(seconds=5), PLACE) is not None
    # 30 minutes late (controller was down): only run_latest
    late = due + timedelta(minutes=30)
    found = catch_up(run, since, late, PLACE)
    assert found is not None
    assert found.at == due
    assert catch_up(skip, since, late, PLACE) is None
    # beyond grace: neither
    assert catch_up(run, since, due + timedelta(minutes=61), PLACE) is None
    # nothing in the window
    assert catch_up(run, due, due + timedelta(minutes=5), PLACE) is None


def test_catch_up_runs_only_the_latest_of_many() -> None:
    s = make({"kind": "cron", "expr": "*/10 * * * *"}, grace_minutes=30)
    found = catch_up(s, local(2026, 6, 1, 6, 0), local(2026, 6, 1, 8, 5), PLACE)
    assert found is not None
    assert found.at == local(2026, 6, 1, 8, 0)


def test_place_of_site() -> None:
    site = load_site(EXAMPLE_SITE)
    place = Place.of(site)
    assert place.tz == ZoneInfo(site.site.timezone)
    assert (place.lat, place.lon) == (site.site.latitude, site.site.longitude)


def test_bench_helper_runs() -> None:
    schedules = make_schedules(500)
    assert {s.rule.kind for s in schedules} == {"once", "daily", "weekdays", "cron", "sun"}
    result = bench_next_fire(schedules, PLACE)
    assert result.calls == 1000
    assert 800 < result.found < 1000
    assert result.per_call_us > 0
