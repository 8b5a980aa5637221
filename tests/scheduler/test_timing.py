"""Rule timing on fixed instants: DST days of Europe/Stockholm, sun at Malmö and Kiruna,
cron and weekdays rules against hand-written reference lists."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim

from scheduler.model import CronRule, DailyRule, OnceRule, SunRule, WeekdaysRule
from scheduler.timing import (
    Firing,
    cron_walls,
    fires_between,
    next_fire,
    sun_event,
    wall_to_instant,
)

STHLM = ZoneInfo("Europe/Stockholm")
MALMO = (55.605, 13.0038)
KIRUNA = (67.8558, 20.2253)
STOCKHOLM = (59.33, 18.07)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=STHLM)  # type: ignore[misc]


def between(rule: object, start: datetime, end: datetime, where: tuple[float, float] = STOCKHOLM):
    return list(fires_between(rule, start, end, STHLM, *where))  # type: ignore[arg-type]


# -- wall time → instant -------------------------------------------------------------------


def test_wall_in_spring_gap_goes_to_end_of_gap() -> None:
    for minute in (0, 1, 30, 59):
        at, note = wall_to_instant(datetime(2026, 3, 29, 2, minute), STHLM)
        assert (at, note) == (utc(2026, 3, 29, 1, 0), "gap")
        assert at.astimezone(STHLM).strftime("%H:%M %Z") == "03:00 CEST"


def test_wall_in_autumn_repeat_is_first_occurrence() -> None:
    at, note = wall_to_instant(datetime(2026, 10, 25, 2, 30), STHLM)
    assert (at, note) == (utc(2026, 10, 25, 0, 30), "repeat")
    assert at.astimezone(STHLM).strftime("%H:%M %Z") == "02:30 CEST"


def test_ordinary_wall_time() -> None:
    assert wall_to_instant(datetime(2026, 7, 1, 8, 0), STHLM) == (utc(2026, 7, 1, 6, 0), None)


def test_half_hour_dst_zone() -> None:
    # Lord Howe Island moves its clocks by 30 minutes: 02:00 → 02:30 on 2026-10-04.
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    at, note = wall_to_instant(datetime(2026, 10, 4, 2, 10), lord_howe)
    assert note == "gap"
    assert at.astimezone(lord_howe).replace(tzinfo=None) == datetime(2026, 10, 4, 2, 30)


# -- DST days ------------------------------------------------------------------------------


def test_daily_0230_in_spring_gap_fires_once_at_0300() -> None:
    fires = between(DailyRule(time="02:30"), local(2026, 3, 28, 12), local(2026, 3, 30, 12))
    assert [f.at for f in fires] == [utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]
    gap = fires[0]
    assert gap.dst == "gap"
    assert gap.day.isoformat() == "2026-03-29"
    assert gap.local(STHLM).strftime("%H:%M %Z") == "03:00 CEST"
    assert "does not exist" in (gap.reason or "")
    assert fires[1].dst is None
    assert fires[1].reason is None


def test_daily_0230_in_autumn_repeat_fires_once() -> None:
    fires = between(DailyRule(time="02:30"), local(2026, 10, 24, 12), local(2026, 10, 26, 12))
    assert [f.at for f in fires] == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    assert fires[0].dst == "repeat"
    # Asked from inside the repeated hour's second pass (02:10 CET): not again that day.
    second_pass = datetime(2026, 10, 25, 2, 10, tzinfo=STHLM, fold=1)
    assert second_pass.astimezone(UTC) == utc(2026, 10, 25, 1, 10)
    nxt = next_fire(DailyRule(time="02:30"), second_pass, STHLM, *STOCKHOLM)
    assert nxt is not None
    assert nxt.at == utc(2026, 10, 26, 1, 30)


@pytest.mark.parametrize(
    ("start", "expected_utc"),
    [
        # spring forward: 08:00 CET, then 08:00 CEST
        (local(2026, 3, 27), [utc(2026, 3, 27, 7), utc(2026, 3, 28, 7), utc(2026, 3, 29, 6)]),
        # fall back: 08:00 CEST, then 08:00 CET
        (local(2026, 10, 23), [utc(2026, 10, 23, 6), utc(2026, 10, 24, 6), utc(2026, 10, 25, 7)]),
    ],
)
def test_daily_0800_across_dst_days_is_always_0800_local(
    start: datetime, expected_utc: list[datetime]
) -> None:
    fires = between(DailyRule(time="08:00"), start, start + timedelta(days=3) - timedelta(hours=1))
    assert [f.at for f in fires] == expected_utc
    assert {f.local(STHLM).strftime("%H:%M") for f in fires} == {"08:00"}
    assert all(f.dst is None for f in fires)


def test_once_in_gap_and_in_repeat() -> None:
    gap = next_fire(OnceRule(at=datetime(2026, 3, 29, 2, 30)), utc(2026, 1, 1), STHLM, 0, 0)
    assert gap is not None
    assert gap.at == utc(2026, 3, 29, 1, 0)
    assert gap.dst == "gap"
    rep = next_fire(OnceRule(at=datetime(2026, 10, 25, 2, 30)), utc(2026, 1, 1), STHLM, 0, 0)
    assert rep is not None
    assert rep.at == utc(2026, 10, 25, 0, 30)
    assert next_fire(OnceRule(at=datetime(2026, 10, 25, 2, 30)), rep.at, STHLM, 0, 0) is None


def test_once_aware_is_taken_as_is() -> None:
    # 02:30 CET (+01:00) on 10-25 is the *second* pass: explicit offsets are respected.
    rule = OnceRule(at=datetime.fromisoformat("2026-10-25T02:30:00+01:00"))
    found = next_fire(rule, utc(2026, 10, 1), STHLM, 0, 0)
    assert found is not None
    assert found.at == utc(2026, 10, 25, 1, 30)
    assert next_fire(rule, found.at, STHLM, 0, 0) is None


def test_cron_in_gap_and_repeat_follows_the_same_rule() -> None:
    fires = between(CronRule(expr="30 2 * * *"), local(2026, 3, 28, 12), local(2026, 3, 30, 12))
    assert [f.at for f in fires] == [utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]
    fires = between(CronRule(expr="30 2 * * *"), local(2026, 10, 24, 12), local(2026, 10, 26, 12))
    assert [f.at for f in fires] == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_interval_cron_collapses_the_gap_and_skips_the_second_pass() -> None:
    rule = CronRule(expr="*/15 2-3 * * *")
    spring = between(rule, local(2026, 3, 29, 0), local(2026, 3, 29, 5))
    assert [f.local(STHLM).strftime("%H:%M") for f in spring] == [
        "03:00",
        "03:15",
        "03:30",
        "03:45",
    ]
    assert spring[0].dst == "gap"
    autumn = between(rule, local(2026, 10, 25, 0), local(2026, 10, 25, 5))
    assert [f.local(STHLM).strftime("%H:%M %Z") for f in autumn] == [
        "02:00 CEST",
        "02:15 CEST",
        "02:30 CEST",
        "02:45 CEST",
        "03:00 CET",
        "03:15 CET",
        "03:30 CET",
        "03:45 CET",
    ]


# -- sun -----------------------------------------------------------------------------------


def test_sunset_plus_15_in_malmo_on_midsummer() -> None:
    rule = SunRule(event="sunset", offset_minutes=15, fallback="22:00")
    found = next_fire(rule, local(2026, 6, 21, 12), STHLM, *MALMO, place="Malmö")
    assert found is not None
    assert not found.fallback_used
    assert found.reason is None
    sunset, _ = sun_event("sunset", found.day, *MALMO, STHLM)
    assert sunset is not None
    assert found.at == sunset + timedelta(minutes=15)
    # Hand calculation (NOAA, -0.833°): sunset 21:55 CEST; + 15 min = 22:10 CEST.
    assert local(2026, 6, 21, 22, 8) <= found.at <= local(2026, 6, 21, 22, 12)


def test_kiruna_midsummer_has_no_sunset_so_fallback_is_used_and_flagged() -> None:
    rule = SunRule(event="sunset", offset_minutes=15, fallback="22:00")
    found = next_fire(rule, local(2026, 6, 21, 12), STHLM, *KIRUNA, place="Kiruna")
    assert found is not None
    assert found.at == local(2026, 6, 21, 22, 0)
    assert found.day.isoformat() == "2026-06-21"
    assert found.fallback_used
    assert found.reason is not None
    assert found.reason.startswith("no sunset at Kiruna on 2026-06-21")
    assert "midnight sun" in found.reason


def test_kiruna_december_has_no_sunrise_so_fallback_is_used() -> None:
    rule = SunRule(event="sunrise", offset_minutes=-10, fallback="09:00")
    found = next_fire(rule, local(2026, 12, 15, 0), STHLM, *KIRUNA)
    assert found is not None
    assert found.fallback_used
    assert found.at == local(2026, 12, 15, 9, 0) == utc(2026, 12, 15, 8, 0)
    assert "polar night" in (found.reason or "")
    assert "67.86°N 20.23°E" in (found.reason or "")  # coordinates when no place name


def test_kiruna_march_has_a_real_sunrise() -> None:
    rule = SunRule(event="sunrise", fallback="09:00")
    found = next_fire(rule, local(2026, 3, 20, 0), STHLM, *KIRUNA)
    assert found is not None
    assert not found.fallback_used
    assert local(2026, 3, 20, 5) < found.at < local(2026, 3, 20, 7)


def test_sun_rule_fires_every_day_through_the_polar_summer() -> None:
    rule = SunRule(event="sunset", offset_minutes=15, fallback="22:00")
    fires = between(rule, local(2026, 5, 1), local(2026, 9, 1), KIRUNA)
    days = [f.day for f in fires]
    assert len(days) == len(set(days)) == 123  # one firing per local day, May..August
    assert any(f.fallback_used for f in fires)
    assert any(not f.fallback_used for f in fires)


# -- reference lists -----------------------------------------------------------------------


def test_cron_weekday_mornings_over_march_2026() -> None:
    fires = between(CronRule(expr="30 7 * * 1-5"), local(2026, 3, 1), local(2026, 4, 1))
    cet = [2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 16, 17, 18, 19, 20, 23, 24, 25, 26, 27]
    expected = [utc(2026, 3, d, 6, 30) for d in cet]  # 07:30 CET
    expected += [utc(2026, 3, 30, 5, 30), utc(2026, 3, 31, 5, 30)]  # 07:30 CEST
    assert [f.at for f in fires] == expected


def test_weekdays_rule_over_march_and_october_2026() -> None:
    rule = WeekdaysRule(time="02:30", weekdays=["sun", "wed"])
    march = between(rule, local(2026, 3, 1), local(2026, 4, 1))
    assert [f.at for f in march] == [
        utc(2026, 3, 1, 1, 30),
        utc(2026, 3, 4, 1, 30),
        utc(2026, 3, 8, 1, 30),
        utc(2026, 3, 11, 1, 30),
        utc(2026, 3, 15, 1, 30),
        utc(2026, 3, 18, 1, 30),
        utc(2026, 3, 22, 1, 30),
        utc(2026, 3, 25, 1, 30),
        utc(2026, 3, 29, 1, 0),  # in the gap: 03:00 CEST
    ]
    october = between(rule, local(2026, 10, 1), local(2026, 11, 1))
    assert [f.at for f in october] == [
        utc(2026, 10, 4, 0, 30),
        utc(2026, 10, 7, 0, 30),
        utc(2026, 10, 11, 0, 30),
        utc(2026, 10, 14, 0, 30),
        utc(2026, 10, 18, 0, 30),
        utc(2026, 10, 21, 0, 30),
        utc(2026, 10, 25, 0, 30),  # repeated hour: once, the CEST pass
        utc(2026, 10, 28, 1, 30),
    ]


# -- mechanics -----------------------------------------------------------------------------


def test_next_fire_is_strictly_after() -> None:
    rule = DailyRule(time="08:00")
    at = utc(2026, 7, 1, 6, 0)
    found = next_fire(rule, at, STHLM, 0, 0)
    assert found is not None
    assert found.at == utc(2026, 7, 2, 6, 0)
    just_before = next_fire(rule, at - timedelta(microseconds=1), STHLM, 0, 0)
    assert just_before is not None
    assert just_before.at == at


def test_naive_after_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_fire(DailyRule(time="08:00"), datetime(2026, 1, 1), STHLM, 0, 0)


def test_cron_template_copy_matches_a_fresh_parse() -> None:
    for expr in ("30 7 * * 1-5", "*/15 2-3 * * *", "0 0 L * *", "5 4 1,15 3,10 0"):
        start = datetime(2026, 3, 28, 23, 59, 30)
        fresh = CronSim(expr, start)
        reused = cron_walls(expr, start)
        assert [next(fresh) for _ in range(20)] == [next(reused) for _ in range(20)]
    # The cached template itself is never advanced.
    assert next(copy.copy(cron_walls("0 12 * * *", datetime(2026, 1, 1)))) == datetime(
        2026, 1, 1, 12
    )


def test_firing_is_hashable_value() -> None:
    a = Firing(at=utc(2026, 1, 1), day=datetime(2026, 1, 1).date())
    assert a == Firing(at=utc(2026, 1, 1), day=datetime(2026, 1, 1).date())
    assert len({a, a}) == 1
    assert a.local(STHLM).time() == time(1, 0)
