"""The response-time report's numbers (controller/reports/response_times.py) on
hand-made alarm histories, in Europe/Stockholm, DST nights included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from controller.reports.response_times import (
    Durations,
    NightWindow,
    Period,
    ReportError,
    build_report,
)
from controller.store.alarm_records import AlarmRecord
from controller.store.records import AuditKind, AuditRecord

ZONE = ZoneInfo("Europe/Stockholm")
NIGHT = NightWindow.parse("21:00-07:00")
WINGS = {"101": "A", "102": "A", "201": "B"}


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=ZONE)


def alarm(
    raised: datetime,
    *,
    kind: str = "help",
    apartment: str | None = "101",
    taken: float | None = None,
    on_site: float | None = None,
    closed: float | None = None,
    escalations: int = 0,
) -> AlarmRecord:
    """An alarm raised at ``raised``, taken/on site/closed so many minutes later."""

    def after(minutes: float | None) -> datetime | None:
        return None if minutes is None else raised + timedelta(minutes=minutes)

    return AlarmRecord(
        kind=kind,
        apartment=apartment,
        device=f"a{apartment}-screen" if apartment else None,
        state="closed" if closed is not None else "open",
        raised_at=raised.astimezone(UTC),
        acked_at=after(taken),
        on_site_at=after(on_site),
        closed_at=after(closed),
        escalations=escalations,
    )


def unlock(ts: datetime, reason: str, *, outcome: str = "ok", actor: str = "anna") -> AuditRecord:
    return AuditRecord(
        ts=ts.astimezone(UTC),
        kind=AuditKind.RESOLVED,
        command_id=f"c{ts.timestamp()}",
        device="a101-lock",
        action="unlock",
        actor=actor,
        reason=reason,
        outcome=outcome,
    )


def test_durations_median_p90_nearest_rank_and_longest() -> None:
    d = Durations.of([60.0 * m for m in (10, 1, 2, 3, 4, 5, 6, 7, 8, 9)])
    assert (d.count, d.median, d.p90, d.longest) == (10, 330.0, 540.0, 600.0)
    assert Durations.of([]).as_json() == {"count": 0, "median": None, "p90": None, "max": None}
    assert Durations.of([42.0]).p90 == 42.0


def test_nights_have_the_length_of_their_clocks_in_stockholm() -> None:
    # 2026: clocks forward on 29 March, back on 25 October (both Sundays, 01:00 UTC)
    report = build_report(
        Period(date(2026, 3, 28), date(2026, 3, 29), ZONE), NIGHT, [], [], wing_of_apartment={}
    )
    assert [(n.night, n.hours) for n in report.nights] == [
        (date(2026, 3, 28), 9.0),
        (date(2026, 3, 29), 10.0),
    ]
    autumn = build_report(
        Period(date(2026, 10, 24), date(2026, 10, 24), ZONE), NIGHT, [], [], wing_of_apartment={}
    )
    assert autumn.nights[0].hours == 11.0
    assert autumn.nights[0].start == local(2026, 10, 24, 21).astimezone(UTC)
    assert autumn.nights[0].end == datetime(2026, 10, 25, 6, 0, tzinfo=UTC)  # 07:00 CET


def test_an_alarm_after_midnight_belongs_to_the_night_that_began_the_evening_before() -> None:
    period = Period(date(2026, 10, 24), date(2026, 10, 25), ZONE)
    # 02:30 local happens twice on 25 October: both are the night of the 24th
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET
    morning = local(2026, 10, 25, 7, 5)  # day
    evening = local(2026, 10, 25, 21, 0)  # night of the 25th, at its first minute
    alarms = [
        alarm(first, taken=2, on_site=5, closed=20),
        alarm(second, taken=4, on_site=9, closed=30),
        alarm(morning, taken=1, closed=3),
        alarm(evening, taken=3, closed=10),
    ]
    report = build_report(period, NIGHT, alarms, [], wing_of_apartment=WINGS)
    by_night = {n.night: n for n in report.nights}
    assert by_night[date(2026, 10, 24)].responses.alarms == 2
    assert by_night[date(2026, 10, 24)].responses.taken.median == 180.0
    assert by_night[date(2026, 10, 25)].responses.alarms == 1
    assert report.total.alarms == 4  # the morning one counts for the period, no night


def test_spring_night_counts_an_alarm_at_0330_local_after_the_skipped_hour() -> None:
    period = Period(date(2026, 3, 28), date(2026, 3, 28), ZONE)
    at = local(2026, 3, 29, 3, 30)  # 01:30 UTC, CEST
    report = build_report(
        period, NIGHT, [alarm(at, taken=1, on_site=2, closed=4)], [], wing_of_apartment=WINGS
    )
    assert report.nights[0].responses.alarms == 1
    assert report.nights[0].responses.closed.longest == 240.0


def test_per_wing_response_times_and_night_only_share() -> None:
    period = Period(date(2026, 11, 2), date(2026, 11, 3), ZONE)
    alarms = [
        alarm(local(2026, 11, 2, 22), apartment="101", taken=1, on_site=4, closed=10),
        alarm(local(2026, 11, 2, 23), apartment="102", taken=3, on_site=8, closed=20),
        alarm(local(2026, 11, 3, 14), apartment="101", taken=5, on_site=6, closed=7),
        alarm(local(2026, 11, 3, 2), apartment="201", taken=10, on_site=12, closed=40),
    ]
    report = build_report(period, NIGHT, alarms, [], wing_of_apartment=WINGS, wings=["A", "B", "C"])
    rows = {w.wing: w for w in report.wings}
    assert list(rows) == ["A", "B", "C"]
    a = rows["A"]
    assert (a.responses.alarms, a.at_night.alarms) == (3, 2)
    assert (a.responses.taken.median, a.responses.taken.longest) == (180.0, 300.0)
    assert (a.at_night.on_site.median, a.at_night.on_site.longest) == (360.0, 480.0)
    assert a.responses.closed.p90 == 1200.0
    assert rows["B"].responses.closed.longest == 2400.0
    assert rows["C"].responses.alarms == 0
    assert rows["C"].responses.taken.median is None


def test_kinds_per_night_include_equipment_but_response_times_only_care_alarms() -> None:
    period = Period(date(2026, 11, 2), date(2026, 11, 2), ZONE)
    alarms = [
        alarm(local(2026, 11, 2, 22), kind="help", taken=1, closed=5),
        alarm(local(2026, 11, 2, 23), kind="night_door", taken=2, closed=6),
        alarm(local(2026, 11, 3, 1), kind="battery_low", taken=600, closed=700),
        alarm(local(2026, 11, 3, 3), kind="help", taken=3, closed=9),
    ]
    report = build_report(period, NIGHT, alarms, [], wing_of_apartment=WINGS)
    night = report.nights[0]
    assert night.kinds == {"help": 2, "night_door": 1, "battery_low": 1}
    assert night.responses.alarms == 3
    assert night.responses.taken.longest == 180.0  # not the battery's 10 hours


def test_unanswered_escalations_and_alarms_never_taken() -> None:
    period = Period(date(2026, 11, 2), date(2026, 11, 2), ZONE)
    alarms = [
        alarm(local(2026, 11, 2, 22), taken=12, closed=20, escalations=2),
        alarm(local(2026, 11, 2, 23), escalations=3),  # still open, nobody took it
        alarm(local(2026, 11, 3, 1), closed=30, escalations=1),  # closed untaken
        alarm(local(2026, 11, 3, 2), on_site=4, closed=8),  # taken by arriving
    ]
    report = build_report(period, NIGHT, alarms, [], wing_of_apartment=WINGS)
    esc = report.nights[0].escalations
    assert (esc.steps, esc.alarms_escalated, esc.never_taken) == (6, 3, 2)
    assert report.nights[0].responses.closed.count == 3  # the open one has no close


def test_unlocks_by_reason_count_only_done_unlocks_in_the_period() -> None:
    period = Period(date(2026, 11, 2), date(2026, 11, 2), ZONE)
    audit = [
        unlock(local(2026, 11, 2, 22), "emergency: Astrid fell"),
        unlock(local(2026, 11, 2, 23), "emergency"),
        unlock(local(2026, 11, 2, 10), "care visit"),
        unlock(local(2026, 11, 2, 11), "care visit", outcome="timeout"),  # not done
        unlock(local(2026, 11, 3, 8), "schema", actor="schedule:morning"),
        unlock(local(2026, 11, 4, 8), "care visit"),  # after the period and its night
    ]
    report = build_report(period, NIGHT, [], audit, wing_of_apartment=WINGS)
    assert report.unlocks_by_reason == {"emergency": 2, "care visit": 1}
    assert report.nights[0].unlocks == 2
    issued = AuditRecord(
        ts=local(2026, 11, 2, 22).astimezone(UTC),
        kind=AuditKind.ISSUED,
        command_id="x",
        device="a101-lock",
        action="unlock",
        actor="anna",
        reason="emergency",
    )
    assert build_report(period, NIGHT, [], [issued], wing_of_apartment={}).unlocks_by_reason == {}


def test_a_schedules_unlock_counts_as_schedule() -> None:
    period = Period(date(2026, 11, 2), date(2026, 11, 2), ZONE)
    audit = [unlock(local(2026, 11, 2, 8), "morgon", actor="schedule:s1 for anna")]
    report = build_report(period, NIGHT, [], audit, wing_of_apartment={})
    assert report.unlocks_by_reason == {"schedule": 1}


@pytest.mark.parametrize("text", ["21-07", "21:00", "21:00-21:00", "25:00-07:00", ""])
def test_a_bad_night_window_is_refused(text: str) -> None:
    with pytest.raises(ReportError):
        NightWindow.parse(text)


def test_a_backwards_or_too_long_period_is_refused() -> None:
    with pytest.raises(ReportError):
        Period(date(2026, 11, 3), date(2026, 11, 2), ZONE)
    with pytest.raises(ReportError):
        Period(date(2026, 1, 1), date(2026, 12, 31), ZONE)


def test_a_day_window_not_crossing_midnight() -> None:
    window = NightWindow.parse("00:00-06:00")
    assert window.night_of(local(2026, 11, 2, 5, 59), ZONE) == date(2026, 11, 2)
    assert window.night_of(local(2026, 11, 2, 6, 0), ZONE) is None
