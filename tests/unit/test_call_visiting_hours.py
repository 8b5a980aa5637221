"""Visiting hours for relatives' video calls: parsing, open/closed, next opening (local
wall time, across days and the DST change)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from controller.calls.visiting import VisitingHours, VisitingHoursError, parse_windows

ZONE = ZoneInfo("Europe/Stockholm")


def hours(*windows: str) -> VisitingHours:
    return VisitingHours(parse_windows(windows), ZONE)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "mon 10-11",
        "funday 10:00-11:00",
        "mon 11:00-10:00",
        "mon 10:00-24:30",
        "mon-xyz 1:00-2:00",
    ],
)
def test_bad_windows_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(VisitingHoursError):
        parse_windows([text])


def test_open_inside_a_window_only_local_time() -> None:
    h = hours("mon-fri 10:00-19:00")
    # Thursday 2026-11-26 09:30 UTC is 10:30 in Stockholm (CET)
    assert h.is_open(datetime(2026, 11, 26, 9, 30, tzinfo=UTC))
    assert not h.is_open(datetime(2026, 11, 26, 8, 59, tzinfo=UTC))  # 09:59
    assert not h.is_open(datetime(2026, 11, 26, 18, 0, tzinfo=UTC))  # 19:00, end exclusive
    assert not h.is_open(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))  # Saturday


def test_next_open_is_the_next_window_start() -> None:
    h = hours("mon-fri 10:00-19:00", "sat,sun 11:00-16:00")
    friday_evening = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)  # 20:00 Friday
    assert h.next_open(friday_evening) == datetime(2026, 11, 28, 11, 0, tzinfo=ZONE)
    inside = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    assert h.next_open(inside) == inside


def test_day_ranges_wrap_and_daily_and_whole_day() -> None:
    assert hours("fri-mon 10:00-11:00").windows[0].days == frozenset({4, 5, 6, 0})
    assert hours("daily 00:00-24:00").is_open(datetime(2026, 11, 29, 23, 59, tzinfo=UTC))


def test_next_open_across_the_spring_dst_change() -> None:
    # Sunday 2026-03-29: clocks go 02:00 -> 03:00; 10:00 local is 08:00 UTC that day
    h = hours("sun 10:00-12:00")
    saturday = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    assert h.next_open(saturday) == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)


def test_no_window_means_no_next_opening() -> None:
    assert VisitingHours((), ZONE).next_open(datetime(2026, 11, 26, tzinfo=UTC)) is None
