"""Weekly visiting hours: ``"mon-fri 10:00-19:00"``, ``"daily 09:00-20:00"``,
``"sat,sun 11:00-16:00"`` (local wall time of the site; a window ends the same day,
``24:00`` allowed as the end)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^\s*(\S+)\s+([0-2][0-9]):([0-5][0-9])-([0-2][0-9]):([0-5][0-9])\s*$")


class VisitingHoursError(ValueError):
    """A visiting-hours window that cannot be read."""


@dataclass(frozen=True, slots=True)
class Window:
    days: frozenset[int]  # 0 = Monday
    start: int  # minutes after local midnight
    end: int  # exclusive; up to 24*60


def _days(text: str) -> frozenset[int]:
    if text == "daily":
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise VisitingHoursError(f"unknown day in {text!r}: use mon..sun, ranges, or daily")
        a, b = DAYS.index(first), DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)


def parse_window(text: str) -> Window:
    """One window; :class:`VisitingHoursError` with the reason if it is malformed."""
    match = _WINDOW.match(text.lower())
    if not match:
        raise VisitingHoursError(f"{text!r}: expected e.g. 'mon-fri 10:00-19:00'")
    start = int(match[2]) * 60 + int(match[3])
    end = int(match[4]) * 60 + int(match[5])
    if start >= 24 * 60 or end > 24 * 60 or end <= start:
        raise VisitingHoursError(f"{text!r}: the window must end after it starts, by 24:00")
    return Window(_days(match[1]), start, end)


def parse_windows(texts: Sequence[str]) -> tuple[Window, ...]:
    return tuple(parse_window(t) for t in texts)


def _at(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone) + timedelta(minutes=minutes)


@dataclass(frozen=True, slots=True)
class VisitingHours:
    """The windows of one apartment."""

    windows: tuple[Window, ...]
    zone: ZoneInfo

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(local.weekday() in w.days and w.start <= minute < w.end for w in self.windows)

    def next_open(self, now: datetime) -> datetime | None:
        """``now`` if open, else the next local start of a window (None if there is none)."""
        if self.is_open(now):
            return now
        today = now.astimezone(self.zone).date()
        starts = [
            _at(today + timedelta(days=offset), w.start, self.zone)
            for offset in range(8)
            for w in self.windows
            if (today + timedelta(days=offset)).weekday() in w.days
        ]
        later = [s for s in starts if s > now]
        return min(later) if later else None
