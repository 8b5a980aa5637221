"""When a rule fires: rules → instants, in the site's time zone, DST-safe and polar-safe.

Every rule first names *wall-clock* times in the site's zone (a day's 08:00, a cron
minute, a day's sunset); :func:`wall_to_instant` turns each into one instant (aware
UTC). Nothing here reads the system clock: callers pass ``after`` (from a
:class:`devices.clock.Clock`).

Daylight saving time (same for daily, weekdays, once, cron and the sun fallback):

* **Spring gap** (Europe/Stockholm, last Sunday of March: 02:00 → 03:00). A wall time
  that does not exist that day fires once, at the first valid instant after it: the end
  of the gap. 02:30 on 2026-03-29 fires at 03:00 CEST (01:00 UTC). Several wall times
  in the gap (a cron ``*/15 2 * * *``) collapse into that one firing.
* **Autumn repeat** (last Sunday of October: 03:00 → 02:00). A wall time that occurs
  twice fires once, at its first occurrence (``fold=0``, still CEST). 02:30 on
  2026-10-25 fires at 02:30 CEST (00:30 UTC), not again at 02:30 CET.
* Cron follows the wall clock like every other rule, also for interval expressions:
  ``*/15 * * * *`` does not fire during the repeated hour's second pass (02:00-02:59
  CET) and fires once at 03:00 CEST for the whole spring gap. Day rules keep their wall
  time on both days (08:00 is 08:00 local before and after the change).
* The :class:`Firing` says so: ``dst="gap"`` or ``"repeat"`` with a ``reason``.

Sun rules (astral 3.x; NOAA formulas, sun's upper limb with refraction, elevation 0):

* Sunrise/sunset are computed for the local date at the site's coordinates, rounded to
  the nearest minute, then ``offset_minutes`` is added (real minutes). Results are
  cached per (event, date, coordinates, zone).
* Where the sun does not rise or set that local day (north of the Arctic Circle:
  midnight sun around midsummer, polar night around midwinter; also a day whose sunset
  slips past midnight into the next date), the rule fires at its required ``fallback``
  wall time that day instead (no offset added), and the :class:`Firing` has
  ``fallback_used=True`` and a reason such as "no sunset at Kiruna on 2026-06-21 (the sun
  is up all day: midnight sun); 22:00 used instead".

``next_fire`` returns the first firing strictly after ``after``; ``fires_between``
iterates firings in ``(start, end]``. Schedule-level filters (enabled, active range,
exceptions, overrides) live in :mod:`scheduler.expand`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Literal

from astral import Observer
from astral.sun import sunrise, sunset
from cronsim import CronSim

from .model import CronRule, DailyRule, OnceRule, Rule, SunRule, WeekdaysRule

ONE_DAY = timedelta(days=1)
DstNote = Literal["gap", "repeat"]
#: Give up after this many days without a firing (a weekdays rule needs at most 7).
MAX_SCAN_DAYS = 400
#: Give up after this many cron wall times that do not land after ``after``.
MAX_CRON_STEPS = 100_000


@dataclass(frozen=True, slots=True)
class Firing:
    """One due instant of a rule, with what the schedule view should say about it."""

    at: datetime  #: aware UTC
    day: date  #: the local day this firing belongs to (for exceptions and active ranges)
    fallback_used: bool = False
    dst: DstNote | None = None
    reason: str | None = None

    def local(self, tz: tzinfo) -> datetime:
        """The instant in the site's zone."""
        return self.at.astimezone(tz)


# -- wall time → instant -------------------------------------------------------------------


def wall_to_instant(wall: datetime, tz: tzinfo) -> tuple[datetime, DstNote | None]:
    """The instant (aware UTC) of naive local ``wall`` in ``tz``, and any DST note.

    In the spring gap: the first valid instant after ``wall`` (the end of the gap).
    In the autumn repeat: the first occurrence (``fold=0``).
    """
    aware = wall.replace(tzinfo=tz, fold=0)
    utc = aware.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None, fold=0) == wall:
        repeat = aware.replace(fold=1).utcoffset() != aware.utcoffset()
        return utc, ("repeat" if repeat else None)
    return _gap_end(wall, tz), "gap"


def _gap_end(wall: datetime, tz: tzinfo) -> datetime:
    """The transition instant that ends the gap ``wall`` falls in (binary search, 1 s)."""
    aware = wall.replace(tzinfo=tz)
    offsets = [aware.replace(fold=f).utcoffset() or timedelta(0) for f in (0, 1)]
    # The two readings of a gap time (old and new offset) bracket the transition.
    lo = (wall - max(offsets)).replace(tzinfo=UTC)
    hi = (wall - min(offsets)).replace(tzinfo=UTC)
    new = hi.astimezone(tz).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) // 2
        if mid.astimezone(tz).utcoffset() == new:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0) if hi.microsecond else hi


def _at_wall(wall: datetime, tz: tzinfo, day: date) -> Firing:
    at, dst = wall_to_instant(wall, tz)
    if dst is None:
        return Firing(at=at, day=day)
    if dst == "gap":
        why = (
            f"{wall:%H:%M} does not exist on {wall:%Y-%m-%d} (clocks go forward); "
            f"runs at {at.astimezone(tz):%H:%M}"
        )
    else:
        why = f"{wall:%H:%M} occurs twice on {wall:%Y-%m-%d} (clocks go back); runs once, the first"
    return Firing(at=at, day=day, dst=dst, reason=why)


# -- sun -----------------------------------------------------------------------------------


@lru_cache(maxsize=1 << 16)
def sun_event(
    event: Literal["sunrise", "sunset"], day: date, lat: float, lon: float, tz: tzinfo
) -> tuple[datetime | None, str]:
    """(instant in UTC, "") of the event on local ``day``, or (None, why there is none)."""
    calc = sunrise if event == "sunrise" else sunset
    try:
        when = calc(Observer(latitude=lat, longitude=lon), day, tz)
    except ValueError as exc:
        text = str(exc)
        if "always above" in text:
            return None, "the sun is up all day: midnight sun"
        if "always below" in text:
            return None, "the sun stays below the horizon all day: polar night"
        return None, f"the {event} falls on another date"
    rounded = (when.astimezone(UTC) + timedelta(seconds=30)).replace(second=0, microsecond=0)
    return rounded, ""


def _where(lat: float, lon: float, place: str) -> str:
    if place:
        return place
    return f"{abs(lat):.2f}°{'N' if lat >= 0 else 'S'} {abs(lon):.2f}°{'E' if lon >= 0 else 'W'}"


# -- cron ----------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _cron_template(expr: str) -> CronSim:
    return CronSim(expr, datetime(2000, 1, 1))


def cron_walls(expr: str, start: datetime) -> Iterator[datetime]:
    """Naive wall times matching ``expr`` strictly after naive ``start`` (parsed once)."""
    it = copy.copy(_cron_template(expr))  # shares the parsed fields; only the cursor moves
    it.dt = start.replace(microsecond=0)
    return it


# -- next_fire -----------------------------------------------------------------------------


def _scan_days(
    candidate: Callable[[date], Firing | None],
    after: datetime,
    tz: tzinfo,
    early: int,
    late: int,
) -> Firing | None:
    """The earliest per-day candidate strictly after ``after``.

    A day ``d``'s candidate lies on local dates ``d - early`` .. ``d + late``.
    """
    d = after.astimezone(tz).date() - timedelta(days=late)
    best: Firing | None = None
    best_day = date.max
    try:
        for _ in range(MAX_SCAN_DAYS):
            if d - timedelta(days=early) > best_day:
                break
            found = candidate(d)
            if found is not None and found.at > after and (best is None or found.at < best.at):
                best, best_day = found, found.at.astimezone(tz).date()
            d += ONE_DAY
    except OverflowError:
        pass
    return best


def _next_once(rule: OnceRule, after: datetime, tz: tzinfo) -> Firing | None:
    if rule.at.tzinfo is None:
        found = _at_wall(rule.at, tz, rule.at.date())
    else:
        at = rule.at.astimezone(UTC)
        found = Firing(at=at, day=at.astimezone(tz).date())
    return found if found.at > after else None


def _next_daily(rule: DailyRule, after: datetime, tz: tzinfo) -> Firing | None:
    at = rule.time
    return _scan_days(lambda d: _at_wall(datetime.combine(d, at), tz, d), after, tz, 0, 1)


def _next_weekdays(rule: WeekdaysRule, after: datetime, tz: tzinfo) -> Firing | None:
    at, days = rule.time, rule.weekdays

    def candidate(d: date) -> Firing | None:
        return _at_wall(datetime.combine(d, at), tz, d) if d.weekday() in days else None

    return _scan_days(candidate, after, tz, 0, 1)


def _next_cron(rule: CronRule, after: datetime, tz: tzinfo) -> Firing | None:
    start = after.astimezone(tz).replace(tzinfo=None, fold=0)
    for step, wall in enumerate(cron_walls(rule.expr, start)):
        found = _at_wall(wall, tz, wall.date())
        if found.at > after:
            return found
        if step >= MAX_CRON_STEPS:
            break
    return None


def _next_sun(
    rule: SunRule, after: datetime, tz: tzinfo, lat: float, lon: float, place: str
) -> Firing | None:
    offset = timedelta(minutes=rule.offset_minutes)

    def candidate(d: date) -> Firing:
        when, why = sun_event(rule.event, d, lat, lon, tz)
        if when is not None:
            return Firing(at=when + offset, day=d)
        base = _at_wall(datetime.combine(d, rule.fallback), tz, d)
        reason = (
            f"no {rule.event} at {_where(lat, lon, place)} on {d.isoformat()} ({why}); "
            f"{rule.fallback:%H:%M} used instead"
        )
        if base.reason:
            reason += f"; {base.reason}"
        return Firing(at=base.at, day=d, fallback_used=True, dst=base.dst, reason=reason)

    return _scan_days(candidate, after, tz, 1, 1)


def next_fire(
    rule: Rule, after: datetime, tz: tzinfo, lat: float, lon: float, *, place: str = ""
) -> Firing | None:
    """The first firing of ``rule`` strictly after aware ``after``, or None if none is left.

    ``tz`` is the site's zone, ``lat``/``lon`` its coordinates (sun rules), ``place`` an
    optional name for the reason text ("Kiruna").
    """
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("next_fire needs an aware datetime for 'after'")
    after = after.astimezone(UTC)
    if isinstance(rule, DailyRule):
        return _next_daily(rule, after, tz)
    if isinstance(rule, WeekdaysRule):
        return _next_weekdays(rule, after, tz)
    if isinstance(rule, SunRule):
        return _next_sun(rule, after, tz, lat, lon, place)
    if isinstance(rule, CronRule):
        return _next_cron(rule, after, tz)
    if isinstance(rule, OnceRule):
        return _next_once(rule, after, tz)
    raise TypeError(f"not a rule: {rule!r}")


def fires_between(
    rule: Rule,
    start: datetime,
    end: datetime,
    tz: tzinfo,
    lat: float,
    lon: float,
    *,
    place: str = "",
) -> Iterator[Firing]:
    """Every firing of ``rule`` in ``(start, end]``, in order."""
    cursor = start
    while (found := next_fire(rule, cursor, tz, lat, lon, place=place)) is not None:
        if found.at > end:
            return
        yield found
        cursor = found.at
