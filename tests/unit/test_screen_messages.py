"""A staff message without an end time ends when the night begins, or with the night
it was given in (controller/screen_messages.py), in Stockholm time across DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from controller.screen_messages import message_end

ZONE = ZoneInfo("Europe/Stockholm")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZONE)


@pytest.mark.parametrize(
    ("given", "ends"),
    [
        (local(2026, 11, 2, 11, 0), local(2026, 11, 2, 22, 0)),  # by day: tonight at 22
        (local(2026, 11, 2, 22, 0), local(2026, 11, 3, 6, 0)),  # night begins: its morning
        (local(2026, 11, 2, 23, 10), local(2026, 11, 3, 6, 0)),
        (local(2026, 11, 3, 2, 0), local(2026, 11, 3, 6, 0)),  # after midnight
        (local(2026, 11, 3, 6, 0), local(2026, 11, 3, 22, 0)),  # the night has ended
        (local(2026, 3, 28, 23, 0), local(2026, 3, 29, 6, 0)),  # the night of 23 hours' day
    ],
)
def test_a_message_ends_at_the_next_edge_of_the_night(given: datetime, ends: datetime) -> None:
    assert message_end(ZONE, "22:00-06:00", given) == ends.astimezone(UTC)


def test_a_night_not_crossing_midnight() -> None:
    assert message_end(ZONE, "00:30-06:00", local(2026, 11, 2, 23, 0)) == local(
        2026, 11, 3, 0, 30
    ).astimezone(UTC)
    assert message_end(ZONE, "00:30-06:00", local(2026, 11, 3, 1, 0)) == local(
        2026, 11, 3, 6, 0
    ).astimezone(UTC)


def test_a_night_starting_in_the_skipped_hour_starts_when_the_clocks_go_on() -> None:
    # 02:30 does not exist on 29 March 2026: the night starts at 03:00 CEST
    assert message_end(ZONE, "02:30-06:00", local(2026, 3, 29, 1, 0)) == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC
    )
