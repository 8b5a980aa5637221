"""Property tests: any rule, any instant over several years (DST days weighted in)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.model import CronRule, DailyRule, OnceRule, Rule, SunRule, WeekdaysRule
from scheduler.timing import fires_between, next_fire

# (zone, latitude, longitude): Swedish sites, the Arctic, other DST styles
# (US, 30-minute Lord Howe, São Paulo's former midnight switch), and a zone far from
# its coordinates (astral then often finds no event on the local date).
PLACES = [
    (ZoneInfo("Europe/Stockholm"), 55.605, 13.0038),
    (ZoneInfo("Europe/Stockholm"), 67.8558, 20.2253),
    (ZoneInfo("Europe/Stockholm"), 59.33, 18.07),
    (ZoneInfo("Arctic/Longyearbyen"), 78.22, 15.65),
    (ZoneInfo("America/New_York"), 40.71, -74.0),
    (ZoneInfo("Australia/Lord_Howe"), -31.55, 159.08),
    (ZoneInfo("America/Sao_Paulo"), -23.55, -46.63),
    (ZoneInfo("Pacific/Auckland"), 67.8558, 20.2253),
    (ZoneInfo("UTC"), 0.0, 0.0),
]
START, END = datetime(2016, 1, 1, tzinfo=UTC), datetime(2030, 12, 31, tzinfo=UTC)


def _transitions(tz: tzinfo) -> list[datetime]:
    out, at = [], START
    offset = at.astimezone(tz).utcoffset()
    while at < END:
        at += timedelta(hours=1)
        if (new := at.astimezone(tz).utcoffset()) != offset:
            out.append(at)
            offset = new
    return out


TRANSITIONS = sorted({t for tz, _, _ in PLACES for t in _transitions(tz)})

times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 1, 15, 30, 45, 59]))
cron_exprs = st.builds(
    lambda *fields: " ".join(fields),
    st.sampled_from(["0", "30", "*/15", "0,30", "59"]),
    st.sampled_from(["2", "7", "*", "1-3", "*/6", "23", "0"]),
    st.sampled_from(["*", "1", "15", "28", "L"]),
    st.sampled_from(["*", "3", "10", "3,10", "*/2"]),
    st.sampled_from(["*", "1-5", "0", "6,0"]),
)
day_rules = st.one_of(
    st.builds(DailyRule, time=times),
    st.builds(WeekdaysRule, time=times, weekdays=st.sets(st.integers(0, 6), min_size=1).map(tuple)),
)
sun_rules = st.builds(
    SunRule,
    event=st.sampled_from(["sunrise", "sunset"]),
    offset_minutes=st.integers(-360, 360),
    fallback=times,
)
rules: st.SearchStrategy[Rule] = st.one_of(
    day_rules,
    st.builds(CronRule, expr=cron_exprs),
    sun_rules,
    st.builds(OnceRule, at=st.datetimes(datetime(2016, 1, 1), datetime(2031, 1, 1))),
    st.builds(
        OnceRule,
        at=st.datetimes(datetime(2016, 1, 1), datetime(2031, 1, 1), timezones=st.just(UTC)),
    ),
)
instants = st.one_of(
    st.datetimes(START.replace(tzinfo=None), END.replace(tzinfo=None), timezones=st.just(UTC)),
    st.builds(
        lambda t, s: t + timedelta(seconds=s),
        st.sampled_from(TRANSITIONS),
        st.integers(-36 * 3600, 36 * 3600),
    ),
)
places = st.sampled_from(PLACES)
PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(rule=rules, place=places, after=instants)
def test_next_fire_is_strictly_after_and_increasing(
    rule: Rule, place: tuple[tzinfo, float, float], after: datetime
) -> None:
    cursor = after
    for _ in range(6):
        found = next_fire(rule, cursor, *place)
        if found is None:
            break
        assert found.at > cursor
        assert found.at.tzinfo is UTC
        cursor = found.at


@PROPS
@given(rule=rules, place=places, after=instants, frac=st.floats(0, 1, exclude_max=True))
def test_asking_later_but_before_the_firing_gives_the_same_firing(
    rule: Rule, place: tuple[tzinfo, float, float], after: datetime, frac: float
) -> None:
    found = next_fire(rule, after, *place)
    if found is None:
        return
    later = min(after + (found.at - after) * frac, found.at - timedelta(microseconds=1))
    again = next_fire(rule, later, *place)
    assert again == found


@PROPS
@given(rule=rules, place=places, after=instants, hours=st.integers(1, 24 * 9))
def test_fires_between_is_the_chain_of_next_fire(
    rule: Rule, place: tuple[tzinfo, float, float], after: datetime, hours: int
) -> None:
    end = after + timedelta(hours=hours)
    fires = list(fires_between(rule, after, end, *place))
    assert all(after < f.at <= end for f in fires)
    assert [f.at for f in fires] == sorted({f.at for f in fires})
    following = next_fire(rule, fires[-1].at if fires else after, *place)
    assert following is None or following.at > end


def _oracle(rule: DailyRule | WeekdaysRule, day: date, tz: tzinfo) -> datetime | None:
    """Brute force: the first minute of ``day`` whose local wall time is >= the rule's."""
    if isinstance(rule, WeekdaysRule) and day.weekday() not in rule.weekdays:
        return None
    probe = (datetime.combine(day, rule.time) - timedelta(hours=4)).replace(tzinfo=tz)
    at = probe.astimezone(UTC)
    for _ in range(12 * 60):
        here = at.astimezone(tz)
        if here.date() == day and here.time() >= rule.time:
            return at
        at += timedelta(minutes=1)
    raise AssertionError("no wall time found")


@settings(max_examples=150, deadline=None)
@given(rule=day_rules, place=places, after=instants)
def test_day_rules_match_a_brute_force_oracle(
    rule: DailyRule | WeekdaysRule, place: tuple[tzinfo, float, float], after: datetime
) -> None:
    tz = place[0]
    first = after.astimezone(tz).date() - timedelta(days=1)
    candidates = [_oracle(rule, first + timedelta(days=i), tz) for i in range(10)]
    expected = min(c for c in candidates if c is not None and c > after)
    found = next_fire(rule, after, *place)
    assert found is not None
    assert found.at == expected
    assert (found.dst == "gap") == (found.at.astimezone(tz).time() != rule.time)


@settings(max_examples=100, deadline=None)
@given(rule=sun_rules, place=places, after=instants)
def test_sun_rules_fire_once_every_local_day(
    rule: SunRule, place: tuple[tzinfo, float, float], after: datetime
) -> None:
    fires = list(fires_between(rule, after, after + timedelta(days=6), *place))
    days = [f.day for f in fires]
    # At most one per local day. Not always in day order: with a large offset, the last
    # real sunrise + offset can fall after the next (polar) day's fallback time.
    assert len(days) == len(set(days))
    assert len(days) >= 4
    assert all(f.fallback_used == (f.reason is not None and "no " in f.reason) for f in fires)
