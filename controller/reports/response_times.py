"""Response times to alarms, per wing and per night, from stored alarms and the audit.

Pure: no store, no clock. The route reads the alarms and the unlock audit lines of a
period and hands them here with the site's wings.

Definitions (docs/operations.md, "The response-time report"):

- A **night** is a local-time window, by default 21:00–07:00, named by the local date
  it starts on. Its length follows the clocks: 9 h on the night clocks go forward
  (last Sunday of March in Europe/Stockholm), 11 h when they go back.
- **Response times** are measured from the alarm's raise (the help press, the door,
  the bed sensor) to taken (``acked_at``; taking it by arriving fills it too), to on
  site (``on_site_at``) and to closed (``closed_at``), over care alarms (every kind
  but the equipment's own: offline, battery, jammed, unknown state). For each:
  count, median, 90th percentile (nearest rank: the smallest time that at least 90 %
  of the alarms were within) and longest, in seconds.
- **Unanswered escalations**: each escalation step is a round nobody took the alarm
  in time. Reported as the steps, the alarms escalated, and the alarms never taken
  (closed untaken or still open untaken).
- **Door unlocks by reason**: successful unlock commands (the audit's ``resolved``
  line, outcome ``ok``), grouped by the reason's listed part (``emergency: fell`` →
  ``emergency``); a schedule's unlock counts as ``schedule``.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..alarms.model import DEVICE_KINDS
from ..store.alarm_records import AlarmRecord
from ..store.records import AuditKind, AuditRecord

#: The report's night unless the caller chooses another.
DEFAULT_NIGHT = "21:00-07:00"
#: The steps of a response, in order.
STEPS = ("taken", "on_site", "closed")
#: The wing of an alarm with no apartment or an apartment without a wing.
NO_WING = ""
#: Unlocks a schedule sent (its actor is ``schedule:...``).
SCHEDULE_REASON = "schedule"
#: The longest period one report covers.
MAX_DAYS = 92
_WINDOW = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])")


class ReportError(ValueError):
    """A period or night window the report cannot be made for."""


@dataclass(frozen=True, slots=True)
class NightWindow:
    """Local start and end of the night; ``start > end`` crosses midnight."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> NightWindow:
        """``"21:00-07:00"``; :class:`ReportError` on anything else."""
        match = _WINDOW.fullmatch(text.strip())
        if match is None:
            raise ReportError(f"night window {text!r}: expected HH:MM-HH:MM, e.g. 21:00-07:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = time(h1, m1), time(h2, m2)
        if start == end:
            raise ReportError(f"night window {text!r}: start and end are the same")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def bounds(self, night: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The night named ``night`` as UTC instants [start, end)."""
        end_day = night + timedelta(days=1) if self.start > self.end else night
        start = datetime.combine(night, self.start, tzinfo=zone)
        end = datetime.combine(end_day, self.end, tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    def night_of(self, instant: datetime, zone: ZoneInfo) -> date | None:
        """The night ``instant`` falls in (named by its local start date), or None by day."""
        local = instant.astimezone(zone)
        clock = local.time().replace(tzinfo=None)
        if self.start > self.end:  # crosses midnight
            if clock >= self.start:
                return local.date()
            if clock < self.end:
                return local.date() - timedelta(days=1)
            return None
        return local.date() if self.start <= clock < self.end else None


@dataclass(frozen=True, slots=True)
class Period:
    """Local dates ``first``..``last`` (inclusive) of a site's time zone."""

    first: date
    last: date
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ReportError(f"the period ends ({self.last}) before it starts ({self.first})")
        if (self.last - self.first).days + 1 > MAX_DAYS:
            raise ReportError(f"a report covers at most {MAX_DAYS} days")

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def bounds(self, night: NightWindow) -> tuple[datetime, datetime]:
        """UTC [start, end) of every instant the report reads: the period's days and
        the end of the night that starts on its last day."""
        start = datetime.combine(self.first, time(0), tzinfo=self.zone).astimezone(UTC)
        day_end = datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=self.zone)
        return start, max(day_end.astimezone(UTC), night.bounds(self.last, self.zone)[1])

    def holds_day(self, instant: datetime) -> bool:
        return self.first <= instant.astimezone(self.zone).date() <= self.last


@dataclass(frozen=True, slots=True)
class Durations:
    """Count, median, 90th percentile and longest of some durations, in seconds."""

    count: int = 0
    median: float | None = None
    p90: float | None = None
    longest: float | None = None

    @classmethod
    def of(cls, seconds: Iterable[float]) -> Durations:
        values = sorted(seconds)
        if not values:
            return cls()
        rank = math.ceil(0.9 * len(values))  # nearest rank, 1-based
        return cls(len(values), statistics.median(values), values[rank - 1], values[-1])

    def as_json(self) -> dict[str, Any]:
        return {"count": self.count, "median": self.median, "p90": self.p90, "max": self.longest}


@dataclass(frozen=True, slots=True)
class Responses:
    """Response times of a group of alarms, one :class:`Durations` per step."""

    alarms: int
    taken: Durations
    on_site: Durations
    closed: Durations

    @classmethod
    def of(cls, alarms: Sequence[AlarmRecord]) -> Responses:
        def since_raised(pick: str) -> list[float]:
            out = []
            for a in alarms:
                when = getattr(a, pick)
                if when is not None:
                    out.append(max(0.0, (when - a.raised_at).total_seconds()))
            return out

        return cls(
            alarms=len(alarms),
            taken=Durations.of(since_raised("acked_at")),
            on_site=Durations.of(since_raised("on_site_at")),
            closed=Durations.of(since_raised("closed_at")),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "alarms": self.alarms,
            "taken": self.taken.as_json(),
            "on_site": self.on_site.as_json(),
            "closed": self.closed.as_json(),
        }


@dataclass(frozen=True, slots=True)
class Escalations:
    """Rounds nobody answered in time."""

    steps: int = 0
    alarms_escalated: int = 0
    never_taken: int = 0

    @classmethod
    def of(cls, alarms: Sequence[AlarmRecord]) -> Escalations:
        return cls(
            steps=sum(a.escalations for a in alarms),
            alarms_escalated=sum(1 for a in alarms if a.escalations > 0),
            never_taken=sum(1 for a in alarms if a.acked_at is None and a.on_site_at is None),
        )

    def as_json(self) -> dict[str, int]:
        return {
            "steps": self.steps,
            "alarms_escalated": self.alarms_escalated,
            "never_taken": self.never_taken,
        }


@dataclass(frozen=True, slots=True)
class NightRow:
    """One night: its bounds, response times of its care alarms, alarms per kind."""

    night: date
    start: datetime
    end: datetime
    responses: Responses
    kinds: dict[str, int]
    escalations: Escalations
    unlocks: int

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    def as_json(self) -> dict[str, Any]:
        return {
            "night": self.night.isoformat(),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "hours": self.hours,
            **self.responses.as_json(),
            "kinds": dict(sorted(self.kinds.items())),
            "escalations": self.escalations.as_json(),
            "unlocks": self.unlocks,
        }


@dataclass(frozen=True, slots=True)
class WingRow:
    """One wing over the whole period (day and night), and its nights only."""

    wing: str
    responses: Responses
    at_night: Responses
    escalations: Escalations

    def as_json(self) -> dict[str, Any]:
        return {
            "wing": self.wing,
            **self.responses.as_json(),
            "at_night": self.at_night.as_json(),
            "escalations": self.escalations.as_json(),
        }


@dataclass(frozen=True, slots=True)
class ResponseReport:
    """The whole report of one period."""

    period: Period
    night: NightWindow
    total: Responses
    wings: list[WingRow]
    nights: list[NightRow]
    kinds: dict[str, int]
    escalations: Escalations
    unlocks_by_reason: dict[str, int]
    care_kinds: list[str] = field(default_factory=list)

    def period_json(self) -> dict[str, str]:
        """The period and night window the report covers."""
        return {
            "from": self.period.first.isoformat(),
            "to": self.period.last.isoformat(),
            "timezone": self.period.zone.key,
            "night_window": str(self.night),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            **self.period_json(),
            "total": self.total.as_json(),
            "wings": [w.as_json() for w in self.wings],
            "nights": [n.as_json() for n in self.nights],
            "kinds": dict(sorted(self.kinds.items())),
            "escalations": self.escalations.as_json(),
            "unlocks_by_reason": dict(sorted(self.unlocks_by_reason.items())),
        }


def is_care(alarm: AlarmRecord) -> bool:
    """An alarm about a resident (not the equipment's own)."""
    return alarm.kind not in DEVICE_KINDS


def unlock_reason_key(record: AuditRecord) -> str:
    """The listed part of an unlock's reason: ``"emergency: fell"`` → ``"emergency"``."""
    if record.actor.startswith("schedule:"):
        return SCHEDULE_REASON
    return (record.reason or "").partition(":")[0].strip() or "?"


def is_done_unlock(record: AuditRecord) -> bool:
    """An unlock the lock carried out (its ``resolved`` audit line, outcome ok)."""
    return (
        record.kind == AuditKind.RESOLVED and record.action == "unlock" and record.outcome == "ok"
    )


def build_report(
    period: Period,
    night: NightWindow,
    alarms: Iterable[AlarmRecord],
    audit: Iterable[AuditRecord],
    *,
    wing_of_apartment: Mapping[str, str],
    wings: Iterable[str] = (),
) -> ResponseReport:
    """The report of ``period``: alarms raised in its days or in its nights, unlocks
    done in them. ``wings`` lists wings to show even without alarms."""
    zone = period.zone
    nights = period.days()
    night_bounds = {n: night.bounds(n, zone) for n in nights}

    def night_of(instant: datetime) -> date | None:
        n = night.night_of(instant, zone)
        return n if n in night_bounds else None

    # one pass over the alarms: each one's night and wing, grouped (a 92-day period of
    # 200,000 alarms is read once, not once per night and wing)
    in_period: list[AlarmRecord] = []
    care: list[AlarmRecord] = []
    by_night: dict[date, list[AlarmRecord]] = defaultdict(list)
    care_by_wing: dict[str, list[AlarmRecord]] = defaultdict(list)
    care_at_night_by_wing: dict[str, list[AlarmRecord]] = defaultdict(list)
    for alarm in alarms:
        n = night_of(alarm.raised_at)
        if n is None and not period.holds_day(alarm.raised_at):
            continue
        in_period.append(alarm)
        if n is not None:
            by_night[n].append(alarm)
        if is_care(alarm):
            care.append(alarm)
            wing = wing_of_apartment.get(alarm.apartment or "", NO_WING)
            care_by_wing[wing].append(alarm)
            if n is not None:
                care_at_night_by_wing[wing].append(alarm)
    unlocks: list[AuditRecord] = []
    unlocks_by_night: Counter[date] = Counter()
    for record in audit:
        if not is_done_unlock(record):
            continue
        n = night_of(record.ts)
        if n is None and not period.holds_day(record.ts):
            continue
        unlocks.append(record)
        if n is not None:
            unlocks_by_night[n] += 1

    wing_rows = [
        WingRow(
            wing=name,
            responses=Responses.of(care_by_wing[name]),
            at_night=Responses.of(care_at_night_by_wing[name]),
            escalations=Escalations.of(care_by_wing[name]),
        )
        for name in sorted(set(wings) | set(care_by_wing))
    ]
    night_rows = []
    for n in nights:
        of_night = by_night[n]
        care_of_night = [a for a in of_night if is_care(a)]
        start, end = night_bounds[n]
        night_rows.append(
            NightRow(
                night=n,
                start=start,
                end=end,
                responses=Responses.of(care_of_night),
                kinds=dict(Counter(a.kind for a in of_night)),
                escalations=Escalations.of(care_of_night),
                unlocks=unlocks_by_night[n],
            )
        )

    return ResponseReport(
        period=period,
        night=night,
        total=Responses.of(care),
        wings=wing_rows,
        nights=night_rows,
        kinds=dict(Counter(a.kind for a in in_period)),
        escalations=Escalations.of(care),
        unlocks_by_reason=dict(Counter(unlock_reason_key(r) for r in unlocks)),
        care_kinds=sorted({a.kind for a in care}),
    )
