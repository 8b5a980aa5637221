"""The response-time report's cost: ``build_report`` and the XLSX workbook over a
92-day period of synthetic alarms and unlocks (no daemon; the store's read is measured
by the integration tests' real daemon only in passing). ``python -m bench.report``."""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from controller.reports.response_times import NightWindow, Period, build_report
from controller.reports.workbook import report_workbook
from controller.store.alarm_records import AlarmRecord
from controller.store.records import AuditKind, AuditRecord

ZONE = ZoneInfo("Europe/Stockholm")
FIRST = date(2026, 9, 1)
DAYS = 92
KINDS = ("help", "help", "help", "night_door", "left_bed", "battery_low", "offline")


def history(alarms: int, seed: int = 17) -> tuple[list[AlarmRecord], list[AuditRecord]]:
    """``alarms`` alarms spread over the period's days and hours, each taken, on site
    and closed after a few minutes; one unlock for every fourth."""
    rng = random.Random(seed)
    start = datetime.combine(FIRST, datetime.min.time(), tzinfo=ZONE).astimezone(UTC)
    span = timedelta(days=DAYS).total_seconds()
    out, audit = [], []
    for i in range(alarms):
        raised = start + timedelta(seconds=rng.uniform(0, span))
        taken = raised + timedelta(seconds=rng.uniform(20, 900))
        on_site = taken + timedelta(seconds=rng.uniform(30, 600))
        closed = on_site + timedelta(seconds=rng.uniform(60, 1800))
        out.append(
            AlarmRecord(
                kind=rng.choice(KINDS),
                apartment=str(101 + i % 24),
                device=None,
                state="closed",
                raised_at=raised,
                acked_at=taken,
                on_site_at=on_site,
                closed_at=closed,
                escalations=rng.choice((0, 0, 0, 1)),
                id=i + 1,
            )
        )
        if i % 4 == 0:
            audit.append(
                AuditRecord(
                    ts=taken,
                    kind=AuditKind.RESOLVED,
                    command_id=f"c{i}",
                    device=f"a{101 + i % 24}-lock",
                    action="unlock",
                    actor="anna",
                    reason=rng.choice(("emergency", "care visit", "other: låssmed")),
                    outcome="ok",
                )
            )
    return out, audit


def main() -> None:
    period = Period(FIRST, FIRST + timedelta(days=DAYS - 1), ZONE)
    night = NightWindow.parse("21:00-07:00")
    wings = {str(101 + n): "ABCD"[n // 6] for n in range(24)}
    print(f"{'alarms':>8} {'build ms (median of 5)':>24} {'xlsx ms':>9} {'xlsx KiB':>9}")
    for count in (2_000, 20_000, 200_000):
        alarms, audit = history(count)
        runs = []
        for _ in range(5):
            began = time.perf_counter()
            report = build_report(period, night, alarms, audit, wing_of_apartment=wings)
            runs.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        body = report_workbook(report, site_name="bench", lang="sv")
        xlsx = (time.perf_counter() - began) * 1000
        print(f"{count:>8} {statistics.median(runs):>24.0f} {xlsx:>9.0f} {len(body) / 1024:>9.0f}")


if __name__ == "__main__":
    main()
