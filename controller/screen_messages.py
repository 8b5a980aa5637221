"""When a staff message on a room screen ends if staff give no end time.

A message given by day ends when the site's night begins (``night_window``); one given
at night ends with that night. So "Lunch serveras kl. 12" is not on the screen at 23.10,
and a night's message is gone by morning. The command bus fills ``until`` of every
``show_message`` sent without one (dashboard, API, CLI, schedules alike).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.timing import wall_to_instant


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def message_end(zone: ZoneInfo, night_window: str, now: datetime) -> datetime:
    """The end of a message given at ``now`` without one (an aware instant)."""
    start_text, end_text = night_window.split("-")
    start, end = _hhmm(start_text), _hhmm(end_text)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    crosses = start > end
    at_night = (clock >= start or clock < end) if crosses else start <= clock < end
    if at_night:
        day = local.date() + timedelta(days=1) if crosses and clock >= start else local.date()
        wall = datetime.combine(day, end)
    else:
        day = local.date() if clock < start else local.date() + timedelta(days=1)
        wall = datetime.combine(day, start)
    return wall_to_instant(wall, zone)[0]
