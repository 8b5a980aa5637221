"""Device fallback: each device's own daily routines, on its retained ``schedule`` topic.

What goes to a device (:func:`device_fallbacks`): every enabled schedule that targets it
and is active today (site-local date inside ``active_from``/``active_until``, today not
an exception), whose rule is a time of day:

* ``daily`` → that time, every weekday; ``weekdays`` → that time on those days;
* ``sun`` → its ``fallback`` time every day (a device has no sun tables);
* ``cron`` with one minute and hour and ``*`` day and month (``30 7 * * 1-5``) → that
  time on those weekdays; other cron rules and ``once`` rules are not sent;
* a per-apartment override gives that apartment's devices its own time.

Only actions their type marks ``fallback`` are sent (locks: ``lock`` only, a door is
never unlocked without the controller).
At most 64 routines per device (the contract's limit; the rest are dropped with a
warning). Exceptions and active ranges are applied when the list is built, not on the
device: the lists are rebuilt and republished when schedules change, on every broker
connect, and when the site's date changes.

The firmware runs these routines only while the controller's availability is
``offline`` (see :mod:`devices.firmware.fallback`), so nothing runs twice.
``version`` increases with every publication (at least the Unix time in seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import date, time
from typing import Protocol

from config.site import Site
from devices.clock import Clock
from devices.contract import Channel, DeviceSchedule, FallbackEntry, SiteTopics, encode, spec_for

from .model import CronRule, DailyRule, Rule, Schedule, SunRule, WeekdaysRule
from .targets import command_args, plan

log = logging.getLogger(__name__)

MAX_ENTRIES = 64
ALL_DAYS = (0, 1, 2, 3, 4, 5, 6)
#: Seconds between looks for a new local date (and retries after a failed publish).
RECHECK_S = 5.0


def _cron_days(field: str) -> tuple[int, ...] | None:
    """Cron day-of-week (Sunday 0 or 7) as Monday-0 weekdays; None if not plain numbers."""
    if field == "*":
        return ALL_DAYS
    days: set[int] = set()
    for part in field.split(","):
        lo, _, hi = part.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            return None
        first, last = int(lo), int(hi or lo)
        if not 0 <= first <= last <= 7:
            return None
        days.update((d - 1) % 7 for d in range(first, last + 1))
    return tuple(sorted(days))


def time_of_day(rule: Rule) -> tuple[time, tuple[int, ...]] | None:
    """The (time, weekdays) a device can run for ``rule``, or None."""
    if isinstance(rule, DailyRule):
        return rule.time, ALL_DAYS
    if isinstance(rule, WeekdaysRule):
        return rule.time, tuple(rule.weekdays)
    if isinstance(rule, SunRule):
        return rule.fallback, ALL_DAYS
    if isinstance(rule, CronRule):
        minute, hour, day, month, weekday = rule.expr.split(" ")
        days = _cron_days(weekday)
        if minute.isdigit() and hour.isdigit() and day == month == "*" and days:
            return time(int(hour), int(minute)), days
    return None


def _active(schedule: Schedule, today: date) -> bool:
    if not schedule.enabled or schedule.is_exception(today):
        return False
    if schedule.active_from is not None and today < schedule.active_from:
        return False
    return schedule.active_until is None or today <= schedule.active_until


def device_fallbacks(
    schedules: Iterable[Schedule], site: Site, today: date
) -> dict[str, list[FallbackEntry]]:
    """Every device of the site with its fallback routines (empty list: none)."""
    out: dict[str, list[FallbackEntry]] = {dev.id: [] for _apt, dev in site.devices()}
    for schedule in schedules:
        if not _active(schedule, today):
            continue
        for group in plan(schedule, site):
            when = time_of_day(group.rule)
            if when is None:
                continue
            at, days = when
            for device in group.devices:
                action = spec_for(device.device_type).actions.get(schedule.action)
                if action is None or not action.fallback:
                    continue
                entry = FallbackEntry(
                    at=at.strftime("%H:%M"),
                    weekdays=list(days),
                    action=schedule.action,
                    args=command_args(schedule, device.device_type),
                )
                out.setdefault(device.device_id, []).append(entry)
    for device_id, entries in out.items():
        entries.sort(key=lambda e: (e.at, e.action))
        if len(entries) > MAX_ENTRIES:
            log.warning(
                "%s has %d fallback routines; only the first %d are sent",
                device_id,
                len(entries),
                MAX_ENTRIES,
            )
            del entries[MAX_ENTRIES:]
    return out


class Publisher(Protocol):
    """What the fallback publisher needs of :class:`controller.mqtt_link.MqttLink`."""

    connected: asyncio.Event
    connects: int

    async def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, timeout: float = 10
    ) -> None: ...


class FallbackPublisher:
    """Keeps every device's retained ``schedule`` topic equal to its fallback routines."""

    def __init__(self, link: Publisher, site: Site, clock: Clock) -> None:
        self.link = link
        self.site = site
        self.clock = clock
        self.topics = SiteTopics(site.slug)
        self.version = 0
        #: device -> the routines last published to it (a tuple: most devices have none,
        #: and one empty tuple serves them all)
        self.published: dict[str, tuple[FallbackEntry, ...]] = {}
        self.publications = 0
        self._dirty = asyncio.Event()

    def changed(self) -> None:
        """Schedules changed: republish what differs."""
        self._dirty.set()

    def _next_version(self) -> int:
        self.version = max(self.version + 1, int(self.clock.now().timestamp()))
        return self.version

    async def publish(self, schedules: Iterable[Schedule], *, everything: bool = False) -> int:
        """Publish the devices whose routines differ from the last publication (all of
        them with ``everything``); how many were published."""
        today = self.clock.now().astimezone(self.site.zone).date()
        wanted = device_fallbacks(schedules, self.site, today)
        count = 0
        for device_id, listed in wanted.items():
            entries = tuple(listed)
            if not everything and self.published.get(device_id) == entries:
                continue
            payload = DeviceSchedule(
                version=self._next_version(), tz=self.site.site.timezone, entries=listed
            )
            await self.link.publish(
                self.topics.device(device_id, Channel.SCHEDULE), encode(payload), retain=True
            )
            self.published[device_id] = entries
            count += 1
        self.publications += count
        return count

    async def run(self, schedules: Callable[[], Iterable[Schedule]]) -> None:
        """Publish on every connect, on changes and when the date changes; until cancelled."""
        connects, day = -1, None
        while True:
            await self.link.connected.wait()
            today = self.clock.now().astimezone(self.site.zone).date()
            everything = self.link.connects != connects or today != day
            if everything or self._dirty.is_set():
                self._dirty.clear()
                try:
                    count = await self.publish(schedules(), everything=everything)
                except Exception as exc:  # the broker went away mid-way: all again later
                    log.warning("fallback schedules not published: %s", exc)
                    connects = -1
                else:
                    connects, day = self.link.connects, today
                    if count:
                        log.info("fallback schedules published to %d devices", count)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RECHECK_S):
                    await self._dirty.wait()
