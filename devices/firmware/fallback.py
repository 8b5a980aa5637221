"""The device's own fallback routines: run only while the controller is ``offline``.

The controller publishes each device's daily routines (``DeviceSchedule``, retained)
and its own availability (``controller/availability``, retained, last will
``offline``). The firmware runs a routine when its wall time (in the schedule's ``tz``,
by the device's clock) passes *while the controller is offline*; while it is online
(or not yet known) the controller fires the schedules itself and the device runs none,
so nothing runs twice. Counting starts when the device learns the controller is
offline: routines that passed before are not caught up. A routine runs at most once
per local date (the repeated autumn hour does not run it twice; one in the spring gap
runs when the clock jumps past it), and not when more than :data:`GRACE` late (a
device whose loop stalled does not run the morning routine at noon).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devices.contract import Availability, DeviceSchedule, FallbackEntry

log = logging.getLogger(__name__)

#: A routine found later than this (a stalled loop, a clock jump) is not run.
GRACE = timedelta(minutes=5)


class Fallback:
    """The last fallback schedule, the controller's availability, what already ran."""

    def __init__(self) -> None:
        self.schedule: DeviceSchedule | None = None
        #: The controller's last availability; None until the device has heard it.
        self.controller: Availability | None = None
        self._cursor: datetime | None = None
        self._ran: dict[tuple[str, str], date] = {}
        self._zone: tzinfo = UTC
        self._changed = asyncio.Event()

    @property
    def active(self) -> bool:
        """True while the routines are the device's to run."""
        return self.controller is Availability.OFFLINE and bool(
            self.schedule and self.schedule.entries
        )

    def set_schedule(self, schedule: DeviceSchedule | None) -> None:
        self.schedule = schedule
        self._ran.clear()
        if schedule is not None:
            try:
                self._zone = ZoneInfo(schedule.tz)
            except (ZoneInfoNotFoundError, ValueError):
                log.warning("unknown time zone %r in the fallback schedule: UTC used", schedule.tz)
                self._zone = UTC
        self._notify()

    def set_controller(self, value: Availability | None, now: datetime) -> None:
        if value is Availability.OFFLINE and self.controller is not Availability.OFFLINE:
            self._cursor = now  # count from here; nothing before is caught up
        self.controller = value
        self._notify()

    def due(self, now: datetime) -> list[FallbackEntry]:
        """The routines whose time passed since the last call (only while offline)."""
        if self.controller is not Availability.OFFLINE or self.schedule is None:
            self._cursor = None
            return []
        start = self._cursor or now
        self._cursor = max(start, now)
        start = max(start, now - GRACE)
        if now <= start:
            return []
        begin = start.astimezone(self._zone).replace(tzinfo=None)
        end = now.astimezone(self._zone).replace(tzinfo=None)
        out: list[FallbackEntry] = []
        day = begin.date()
        while day <= end.date():
            for entry in self.schedule.entries:
                if day.weekday() not in entry.weekdays:
                    continue
                hour, minute = map(int, entry.at.split(":"))
                wall = datetime.combine(day, time(hour, minute))
                key = (entry.at, entry.action)
                if begin < wall <= end and self._ran.get(key) != day:
                    self._ran[key] = day
                    out.append(entry)
            day += timedelta(days=1)
        return out

    async def wait(self, predicate: Callable[[Fallback], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate(self)`` holds (a new schedule or availability)."""
        async with asyncio.timeout(timeout):
            while not predicate(self):
                changed = self._changed
                await changed.wait()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
