"""The schedule engine: fires every enabled schedule once, on time, through the command bus.

Timing. For each schedule the engine keeps, per rule group (:func:`scheduler.targets.plan`:
the schedule's rule, and one group per apartment override), the next due instant
(:func:`scheduler.expand.next_due`) and a heap of the schedules by their earliest one.
:meth:`ScheduleEngine.run` sleeps ``min(earliest due - now, 1 s)`` (``asyncio.sleep``
on the event loop; the clock is re-read after every wake, so a :class:`ManualClock`
that tests move is seen within a second) and wakes at once on any change.
:meth:`ScheduleEngine.run_due` does one pass at a given instant; tests call it directly.

Exactly once. Every due instant is *claimed* in the store before anything is sent
(insert of ``(schedule id, due_at)`` into ``firings``, which refuses a second row):
calling ``run_due`` twice, or a second engine (a restart at the due time) on the same
store, finds it claimed and sends nothing. A process that dies between the claim and
the sends loses that firing (at most once: a door is never moved twice by one firing;
the audit shows what was sent). Firings of the same schedule at the same instant (two
rule groups) are one firing.

Commands go to every target device concurrently with actor ``schedule:<id> for
<owner>`` and the schedule's name (or id) as reason, so each is audited like any
command; the firing's outcome (``ok``, ``partial``, ``failed``, ``refused``, ``held``,
``missed``, ``no_devices``) and each device's outcome are recorded and published on the
event bus (the :class:`~scheduler.firings.FiringReport` itself, through
:class:`~scheduler.ports.FiringSink`).

Owner's rights. A firing runs with its owner's rights at that moment
(:mod:`scheduler.dispatch`): a device the owner may no longer command (user disabled,
a lost role or wing) is refused, audited ``refused``, and nothing is sent to it. Such a
schedule is *suspended* (:meth:`ScheduleEngine.suspensions`, shown on the schedules
page) until its owner has the rights again or an admin takes it over
(:meth:`ScheduleEngine.take_over`).

Restarts and outages. A loaded schedule starts from the later of its last claimed
instant and its last change; firings between then and now go through
:func:`scheduler.expand.catch_up` with the schedule's policy: ``run_latest`` runs the
latest one once if it is at most ``grace_minutes`` late, ``skip`` runs nothing later
than a minute; what is not run is recorded ``missed`` (its first missed instant).
Creating, changing, pausing, resuming or deleting a schedule takes effect at once and
counts from that moment (a resumed schedule does not catch up its pause).

Staff hold (:mod:`scheduler.holds`): a command with outcome ``ok`` whose actor does not
start with ``schedule:`` and whose action is not maintenance (ping, identify, reboot,
update_firmware) nor a call's ring / end_call holds its device from the command's
time until the device's first scheduled due instant after it (any schedule): every
firing for that device at that instant skips that device only (device outcome
``held``; the others get their command), then the hold ends and later firings run
normally. A schedule made after the command is not held by it (it ends the hold): a
relock asked for with an unlock runs. A newer command replaces the hold; a ``missed``
firing does not end it; holds are stored and survive restarts.

Device fallback: :mod:`scheduler.fallback` publishes each device's own daily routines.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from controller.auth.acting_for import Refusal, refusal, standing_of
from controller.auth.principal import Principal
from devices.clock import Clock

from .dispatch import CommandSender, FiringStore, fire
from .expand import Place, catch_up, next_due, upcoming
from .firings import Due, FiringReport, LoadedSchedule, RuleGroupState, firing_json
from .holds import Holds
from .model import Schedule, ScheduleError, parse_schedule
from .ports import (
    CommandFeed,
    FiringSink,
    HoldRecord,
    ResolvedCommand,
    ScheduleRecord,
    ScheduleStoreError,
)
from .targets import check_against_site, plan

if TYPE_CHECKING:
    from config.site import Site

    from .fallback import FallbackPublisher

log = logging.getLogger(__name__)

#: Longest sleep of the run loop between looks at the clock.
MAX_SLEEP_S = 1.0


class ScheduleExists(ValueError):
    """A schedule with this id exists (or existed: ids are not reused)."""


class ScheduleEngine:
    """Loads the schedules, fires them on time exactly once, keeps holds and fallbacks."""

    def __init__(
        self,
        store: FiringStore,
        commands: CommandSender,
        site: Site,
        clock: Clock,
        *,
        bus: FiringSink | None = None,
        commands_seen: CommandFeed | None = None,
        fallback: FallbackPublisher | None = None,
    ) -> None:
        """``bus`` gets each firing's report; ``commands_seen``, the command outcomes the
        staff holds come from (subscribed before anything runs, so none is missed)."""
        self.store = store
        self.commands = commands
        self.site = site
        self.clock = clock
        self.place = Place.of(site)
        self.apartments = {a.number: a for a in site.apartments}
        self.bus = bus
        self.fallback = fallback
        self.holds = Holds()
        self.loaded = asyncio.Event()
        self._sub = commands_seen
        self._schedules: dict[str, LoadedSchedule] = {}
        self._heap: list[tuple[datetime, int, str, int]] = []
        self._seq = itertools.count()
        self._versions = itertools.count(1)
        self._wake = asyncio.Event()
        self._start_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- loading -------------------------------------------------------------------------

    async def start(self) -> None:
        """Load schedules, last firings and holds from the store (once)."""
        async with self._start_lock:
            if self.loaded.is_set():
                return
            records = await self.store.list_schedules()
            last = await self.store.last_firings()
            self.holds.load(await self.store.holds())
            for record in records:
                self._install(
                    record, max(record.updated_at, last.get(record.id, record.updated_at))
                )
            self.loaded.set()
            log.info("%d schedules loaded", len(records))
        self._changed()

    async def sync_from_store(self) -> int:
        """Pick up schedules changed through another controller instance (same store):
        install new and changed ones, drop deleted ones; how many changed. The leader
        runs this every few seconds (controller/leader.py). A schedule created or
        changed here while the store was being read is newer than what was read: kept."""
        await self.start()
        known = dict(self._schedules)
        records = {r.id: r for r in await self.store.list_schedules()}
        last = await self.store.last_firings()
        changed = 0
        for record in records.values():
            mine = self._schedules.get(record.id)
            if mine is not known.get(record.id):
                continue  # changed here meanwhile
            if mine is not None and (mine.record.updated_at, mine.record.enabled) == (
                record.updated_at,
                record.enabled,
            ):
                continue
            self._install(record, max(record.updated_at, last.get(record.id, record.updated_at)))
            changed += 1
        for gone in set(known) - set(records):
            if self._schedules.get(gone) is known[gone]:
                del self._schedules[gone]
                changed += 1
        if changed:
            log.info("%d schedules changed in the store by another instance", changed)
            self._changed()
        return changed

    async def reload(self) -> None:
        """:meth:`sync_from_store` for the periodic reload: a store that fails (an
        outage, every few seconds) is one log line with the reason, no traceback; the
        next reload tries again."""
        try:
            await self.sync_from_store()
        except ScheduleStoreError as exc:
            log.error("schedules not reloaded: %s", " ".join(str(exc).split()))

    def _install(self, record: ScheduleRecord, cursor: datetime) -> LoadedSchedule:
        schedule: Schedule | None = None
        groups: list[RuleGroupState] = []
        problem = None
        try:
            schedule = parse_schedule(
                {**record.definition, "id": record.id, "enabled": record.enabled}
            )
            groups = [RuleGroupState(g.apartment, g.devices) for g in plan(schedule, self.site)]
            groups = [g for g in groups if g.devices]
            if not groups:
                problem = "no device of the target has this action on this site"
        except ScheduleError as exc:
            problem = str(exc)
        if schedule is not None:
            for g in groups:
                g.next = next_due(schedule, cursor, self.place, apartment=g.apartment)
        loaded = LoadedSchedule(record, schedule, groups, cursor, next(self._versions), problem)
        self._schedules[record.id] = loaded
        self._push(loaded)
        return loaded

    def _push(self, loaded: LoadedSchedule) -> None:
        at = loaded.next_at
        if at is not None:
            heapq.heappush(self._heap, (at, next(self._seq), loaded.record.id, loaded.version))

    def _changed(self) -> None:
        self._wake.set()
        if self.fallback is not None:
            self.fallback.changed()

    # -- reading -------------------------------------------------------------------------

    def get(self, schedule_id: str) -> LoadedSchedule | None:
        return self._schedules.get(schedule_id)

    def all(self) -> list[LoadedSchedule]:
        return sorted(self._schedules.values(), key=lambda s: (s.record.created_at, s.record.id))

    def active_schedules(self) -> list[Schedule]:
        """Enabled, valid schedules (what device fallbacks are built from)."""
        return [s.schedule for s in self.all() if s.schedule is not None and s.record.enabled]

    def upcoming(
        self, loaded: LoadedSchedule, now: datetime | None = None, count: int = 3
    ) -> list[dict[str, Any]]:
        """Per rule group: its devices and next ``count`` firings with their notes."""
        if loaded.schedule is None:
            return []
        after = max(now or self.clock.now(), loaded.cursor)
        return [
            {
                "apartment": g.apartment,
                "devices": [d.device_id for d in g.devices],
                "firings": [
                    firing_json(f, self.place)
                    for f in upcoming(
                        loaded.schedule, after, self.place, count, apartment=g.apartment
                    )
                ],
            }
            for g in loaded.groups
        ]

    # -- changing ------------------------------------------------------------------------

    async def create(self, schedule: Schedule) -> LoadedSchedule:
        """Store and start a new schedule; ScheduleError if it does not fit the site,
        ScheduleExists if the id was used."""
        await self.start()
        check_against_site(schedule, self.site)
        now = self.clock.now()
        record = ScheduleRecord(
            id=schedule.id,
            name=schedule.name,
            owner=schedule.owner,
            definition=schedule.model_dump(mode="json"),
            enabled=schedule.enabled,
            created_at=now,
            updated_at=now,
        )
        if not await self.store.add_schedule(record):
            raise ScheduleExists(f"schedule {schedule.id!r} exists")
        loaded = self._install(record, now)
        self._changed()
        return loaded

    async def replace(self, schedule: Schedule) -> LoadedSchedule | None:
        """Replace a schedule's definition (same id); None if there is no such schedule."""
        await self.start()
        check_against_site(schedule, self.site)
        now = self.clock.now()
        record = await self.store.update_schedule(
            schedule.id,
            updated_at=now,
            name=schedule.name,
            definition=schedule.model_dump(mode="json"),
            enabled=schedule.enabled,
        )
        return self._reinstalled(record, now)

    async def take_over(self, schedule_id: str, owner: str) -> LoadedSchedule | None:
        """Make ``owner`` the schedule's owner (its firings run with their rights from
        now on); None if there is no such schedule."""
        await self.start()
        current = self._schedules.get(schedule_id)
        definition = dict(current.record.definition) if current else None
        if definition is not None:
            definition["owner"] = owner
        record = await self.store.update_schedule(
            schedule_id, updated_at=self.clock.now(), definition=definition, owner=owner
        )
        return self._reinstalled(record, self.clock.now())

    async def set_enabled(self, schedule_id: str, enabled: bool) -> LoadedSchedule | None:
        """Pause or resume; None if there is no such schedule."""
        await self.start()
        now = self.clock.now()
        current = self._schedules.get(schedule_id)
        definition = dict(current.record.definition) if current else None
        if definition is not None:
            definition["enabled"] = enabled
        record = await self.store.update_schedule(
            schedule_id, updated_at=now, definition=definition, enabled=enabled
        )
        return self._reinstalled(record, now)

    def _reinstalled(self, record: ScheduleRecord | None, now: datetime) -> LoadedSchedule | None:
        if record is None:
            return None
        loaded = self._install(record, now)
        self._changed()
        return loaded

    async def delete(self, schedule_id: str) -> bool:
        """Delete (the row and its firings are kept); False if there is no such schedule."""
        await self.start()
        if not await self.store.delete_schedule(schedule_id, self.clock.now()):
            return False
        self._schedules.pop(schedule_id, None)
        self._changed()
        return True

    async def release_hold(self, device: str) -> HoldRecord | None:
        """End a device's hold now."""
        hold = self.holds.release(device)
        await self.holds.flush(self.store)
        return hold

    async def suspensions(self, schedules: list[LoadedSchedule]) -> dict[str, str]:
        """Why each suspended schedule's firings would be refused now (its owner may
        not command one or more of its devices), by schedule id; the rule a firing
        applies."""
        standings: dict[str, Principal | Refusal] = {}
        out: dict[str, str] = {}
        for loaded in schedules:
            schedule = loaded.schedule
            if schedule is None:
                continue
            if schedule.owner not in standings:
                standings[schedule.owner] = await standing_of(self.store, schedule.owner)
            standing = standings[schedule.owner]
            for device in (d for g in loaded.groups for d in g.devices):
                apartment = self.apartments.get(device.apartment)
                refused = refusal(standing, device.device_id, apartment, schedule.action)
                if refused is not None:
                    out[schedule.id] = refused.why
                    break
        return out

    # -- firing --------------------------------------------------------------------------

    def note_command(self, outcome: ResolvedCommand) -> HoldRecord | None:
        """A command outcome: may hold its device."""
        return self.holds.note(outcome)

    def _drain_commands(self) -> None:
        if self._sub is None:
            return
        for outcome in self._sub.drain():
            self.note_command(outcome)

    def collect_due(self, now: datetime) -> list[Due]:
        """Take every firing due at ``now`` off the heap (holds applied), in due order."""
        self._drain_commands()
        found: dict[tuple[str, datetime, bool], Due] = {}
        while self._heap and self._heap[0][0] <= now:
            _, _, schedule_id, version = heapq.heappop(self._heap)
            loaded = self._schedules.get(schedule_id)
            if loaded is None or loaded.version != version or loaded.schedule is None:
                continue
            for due in self._due_groups(loaded, loaded.schedule, now):
                key = (schedule_id, due.due_at, due.missed)
                if key in found:
                    found[key].devices.extend(due.devices)
                else:
                    found[key] = due
            loaded.cursor = max(loaded.cursor, now)
            self._push(loaded)
        items = sorted(found.values(), key=lambda d: (d.due_at, d.schedule_id))
        self.holds.apply([d for d in items if not d.missed])
        return items

    def _due_groups(
        self, loaded: LoadedSchedule, schedule: Schedule, now: datetime
    ) -> Iterator[Due]:
        for g in loaded.groups:
            if g.next is None or g.next.at > now:
                continue
            run = catch_up(schedule, loaded.cursor, now, self.place, apartment=g.apartment)
            if run is not None:
                late = (now - run.at).total_seconds()
                yield Due(
                    schedule.id,
                    run.at,
                    list(g.devices),
                    late,
                    False,
                    run.fallback_used,
                    run.reason,
                    made_at=loaded.record.created_at,
                )
            else:
                late = (now - g.next.at).total_seconds()
                why = (
                    f"{late / 60:.0f} min late (missed_policy {schedule.missed_policy}, "
                    f"grace {schedule.grace_minutes} min)"
                )
                yield Due(schedule.id, g.next.at, list(g.devices), late, True, reason=why)
            g.next = next_due(schedule, now, self.place, apartment=g.apartment)

    async def run_due(self, now: datetime | None = None) -> list[FiringReport]:
        """Fire everything due at ``now`` (default: the clock) and wait for the outcomes."""
        await self.start()
        return await self._fire_all(self.collect_due(now or self.clock.now()))

    async def _fire_all(self, items: list[Due]) -> list[FiringReport]:
        await self.holds.flush(self.store)
        return list(await asyncio.gather(*(self._fire(d) for d in items)))

    async def _fire(self, due: Due) -> FiringReport:
        loaded = self._schedules.get(due.schedule_id)
        schedule = loaded.schedule if loaded is not None else None
        return await fire(
            due,
            schedule,
            store=self.store,
            commands=self.commands,
            clock=self.clock,
            apartments=self.apartments,
            bus=self.bus,
        )

    # -- running -------------------------------------------------------------------------

    def wake(self) -> None:
        """Look at the heap again now (after a change, or a test moved the clock)."""
        self._wake.set()

    async def run(self) -> None:
        """Run until cancelled: the firing loop, the hold listener, the fallback publisher."""
        await self.start()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._loop(), name="schedule-loop")
                if self._sub is not None:
                    tasks.create_task(self._listen(), name="schedule-holds")
                if self.fallback is not None:
                    tasks.create_task(
                        self.fallback.run(self.active_schedules), name="schedule-fallback"
                    )
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def settle(self) -> None:
        """Wait until the firings in flight have their outcomes recorded."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            items = self.collect_due(self.clock.now())
            if items or self.holds.owed:
                self._spawn(self._fire_all(items))
            delay = MAX_SLEEP_S
            if self._heap:
                until = (self._heap[0][0] - self.clock.now()).total_seconds()
                delay = min(delay, max(0.0, until))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    async def _listen(self) -> None:
        assert self._sub is not None
        while True:
            self.note_command(await self._sub.get())
            self._drain_commands()
            await self.holds.flush(self.store)

    def _spawn(self, coro: Any) -> None:
        async def guarded() -> None:
            try:
                await coro
            except Exception:
                log.exception("firing schedules failed")

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
