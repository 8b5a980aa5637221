"""What a benchmark measures: ``next_fire`` over many schedules (10,000 by default).

``make_schedules`` builds a deterministic mix of every rule kind (with overrides,
exceptions and active ranges); ``bench_next_fire`` times :func:`next_due` for each
schedule from one instant, and again from the instants it found (a warm cache, as a
running scheduler sees it).
"""

from __future__ import annotations

import random
import time as _time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .expand import Place, next_due
from .model import Schedule

CRON_EXPRS = ("30 7 * * 1-5", "0 */2 * * *", "15 2 * * 0", "*/15 8-17 * * *", "0 12 1 * *")


def make_schedules(n: int = 10_000, seed: int = 0) -> list[Schedule]:
    """``n`` valid schedules mixing all rule kinds."""
    rnd = random.Random(seed)
    out: list[Schedule] = []
    for i in range(n):
        hhmm = f"{rnd.randrange(24):02d}:{rnd.randrange(60):02d}"
        kind = i % 5
        rule: dict[str, Any]
        if kind == 0:
            rule = {"kind": "daily", "time": hhmm}
        elif kind == 1:
            rule = {"kind": "weekdays", "time": hhmm, "weekdays": rnd.sample(range(7), 3)}
        elif kind == 2:
            rule = {"kind": "cron", "expr": rnd.choice(CRON_EXPRS)}
        elif kind == 3:
            rule = {
                "kind": "sun",
                "event": rnd.choice(["sunrise", "sunset"]),
                "offset_minutes": rnd.randrange(-60, 61),
                "fallback": hhmm,
            }
        else:
            spread = timedelta(minutes=(i * 7919) % (366 * 24 * 60))  # over a year, some past
            rule = {"kind": "once", "at": datetime(2026, 3, 1) + spread}
        data: dict[str, Any] = {
            "id": f"bench-{i}",
            "target": {"kind": "type", "value": "curtain"},
            "action": "close",
            "rule": rule,
            "owner": "bench",
        }
        if i % 7 == 0:
            data["exceptions"] = [date(2026, 12, 24), date(2026, 12, 25)]
        if i % 11 == 0:
            data["active_from"] = date(2026, 1, 1)
            data["active_until"] = date(2027, 12, 31)
        if i % 13 == 0 and kind in (0, 1, 3):
            data["overrides"] = [{"apartment": "101", "time": "23:00"}]
        out.append(Schedule.model_validate(data))
    return out


@dataclass(frozen=True)
class BenchResult:
    calls: int
    found: int
    seconds: float

    @property
    def per_call_us(self) -> float:
        return self.seconds / max(self.calls, 1) * 1e6


def bench_next_fire(
    schedules: list[Schedule],
    place: Place,
    after: datetime = datetime(2026, 3, 28, 12, 0, tzinfo=UTC),
    rounds: int = 2,
) -> BenchResult:
    """Time ``next_due`` for every schedule, ``rounds`` times, each from the last firing."""
    cursors = [after] * len(schedules)
    calls = found = 0
    started = _time.perf_counter()
    for _ in range(rounds):
        for i, schedule in enumerate(schedules):
            firing = next_due(schedule, cursors[i], place)
            calls += 1
            if firing is not None:
                found += 1
                cursors[i] = firing.at
    return BenchResult(calls, found, _time.perf_counter() - started)
