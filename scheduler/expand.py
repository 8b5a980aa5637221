"""A whole schedule's firings: enabled flag, active range, exceptions, overrides, catch-up.

Active range and exceptions are local dates and apply to :attr:`Firing.day`, the local
day a firing belongs to (for a sun rule: the day whose sunrise/sunset it is).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING

from .model import CronRule, Schedule
from .timing import Firing, next_fire, wall_to_instant

if TYPE_CHECKING:
    from config.site import Site

#: Most firings skipped (exceptions, before active_from) while looking for the next one.
MAX_SKIPS = 20_000
#: A firing found at most this late runs under either missed policy (normal ticking).
ON_TIME = timedelta(minutes=1)
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Place:
    """Where the rules are evaluated: the site's zone and coordinates."""

    tz: tzinfo
    lat: float
    lon: float
    name: str = ""

    @classmethod
    def of(cls, site: Site) -> Place:
        info = site.site
        return cls(site.zone, info.latitude, info.longitude, info.name or info.slug)


def _day_start(day: date, tz: tzinfo) -> datetime:
    return wall_to_instant(datetime.combine(day, time.min), tz)[0]


def next_due(
    schedule: Schedule, after: datetime, place: Place, *, apartment: str | None = None
) -> Firing | None:
    """The schedule's next firing strictly after ``after`` for ``apartment`` (its override
    if it has one; None: the schedule's own rule), honouring enabled, active range and
    exceptions. None if it will not fire again."""
    if not schedule.enabled:
        return None
    rule = schedule.rule_for(apartment)
    is_cron = isinstance(rule, CronRule)
    start, until = schedule.active_from, schedule.active_until
    skipping = bool(schedule.exceptions)
    cursor = after
    if start is not None:
        # A cron firing's day is its wall date; a day rule's firing may sit a day off.
        first = _day_start(start if is_cron else start - timedelta(days=2), place.tz) - _TICK
        cursor = max(cursor, first)
    for _ in range(MAX_SKIPS):
        found = next_fire(rule, cursor, place.tz, place.lat, place.lon, place=place.name)
        if found is None or (until is not None and found.day > until):
            return None
        excepted = skipping and schedule.is_exception(found.day)
        if (start is None or found.day >= start) and not excepted:
            return found
        cursor = found.at
        if is_cron and excepted:
            cursor = max(cursor, _day_start(found.day + timedelta(days=1), place.tz) - _TICK)
    return None


def due_between(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    place: Place,
    *,
    apartment: str | None = None,
) -> Iterator[Firing]:
    """The schedule's firings in ``(start, end]``, in order."""
    cursor = start
    while (found := next_due(schedule, cursor, place, apartment=apartment)) is not None:
        if found.at > end:
            return
        yield found
        cursor = found.at


def upcoming(
    schedule: Schedule,
    after: datetime,
    place: Place,
    count: int = 5,
    *,
    apartment: str | None = None,
) -> list[Firing]:
    """The next ``count`` firings (for the schedule view, with their notes)."""
    out: list[Firing] = []
    cursor = after
    while len(out) < count and (found := next_due(schedule, cursor, place, apartment=apartment)):
        out.append(found)
        cursor = found.at
    return out


def catch_up(
    schedule: Schedule,
    since: datetime,
    now: datetime,
    place: Place,
    *,
    apartment: str | None = None,
    on_time: timedelta = ON_TIME,
) -> Firing | None:
    """The one firing to run now for the window ``(since, now]``, or None.

    Only the latest firing in the window counts (earlier ones are superseded). It runs
    when at most ``on_time`` late; when later than that, only with
    ``missed_policy="run_latest"`` and at most ``grace_minutes`` late.
    """
    grace = timedelta(minutes=schedule.grace_minutes)
    horizon = now - max(grace, on_time)  # anything older can never run
    latest: Firing | None = None
    for found in due_between(
        schedule, max(since, horizon - _TICK), now, place, apartment=apartment
    ):
        latest = found
    if latest is None:
        return None
    late = now - latest.at
    if late <= on_time:
        return latest
    if schedule.missed_policy == "run_latest" and late <= grace:
        return latest
    return None
