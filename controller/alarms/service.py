"""The alarm service: raises, dedupes, escalates and stores alarms; staff act on them.

It listens to the bus (``TwinChanged``, ``DeviceEvent``, ``FireChanged``) on an
unbounded subscription, so no device message is ever dropped on its way to the rules,
and checks every twin and every open alarm about once a second. All times come from the
injected clock.

- One active alarm per (device, kind) (the fire alarm: per site). A repeated help
  press or night door while one is active adds to its ``count`` and is pushed again
  (``change: repeated``). Lasting conditions (offline, unknown_state, jammed,
  battery_low, fire) raise one alarm per episode: closing it while the condition
  persists does not raise a new one; it can be raised again once the condition
  ended (``cleared_at`` in the details) and came back. After a daemon restart a
  condition that persists raises again once (the safe side).
- An ``open`` alarm is escalated every ``escalate_after`` (the site file's minutes or
  seconds) after it was raised or last escalated (``change: escalated``,
  ``escalated: true``); once after a restart however long the daemon was down. Only
  the site leader escalates (``escalates``: the scheduler's lease); it takes the
  active alarms from the store each tick first.
- Several instances may see the same device message: the store keeps one active alarm
  per key (``add_alarm`` conflicts with the one another instance stored first, which
  this instance then joins, counting only event keys it has not counted) and counts a
  repeat in one transaction (``repeat_alarm``).
- While the controller's own MQTT link is down devices cannot be seen: no
  per-device offline alarm, but one site-wide ``offline`` alarm (reason
  ``broker_unreachable``) after ``offline_alarm_minutes``.
- Every change is stored first, then published on the bus (``AlarmChanged``). If the
  store fails when an alarm is raised, the alarm is published anyway (``id: null``,
  ``stored: false``) and storing is retried every tick; ``store_failing`` says why.
- Staff actions (:meth:`act`) write their activity-log line in the same transaction.
- Acknowledged means stored: the service holds the receipt of each device message it
  reads (controller/receipts.py) until what it decided is stored; a message whose
  handling failed on the store is handled again every tick until it succeeds. A
  device event counts once per event key (kept in the alarm's ``event_keys``), so
  one delivered again after a crash does not count the alarm up.
- A help press is confirmed to its screen (``confirm``, with its ``press_id``) once
  its alarm is stored; the screen repeats the press until then.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from config.site import Site
from devices.clock import Clock

from ..bus_messages import AlarmChanged, DeviceEvent, FireChanged, TwinChanged
from ..event_bus import EventBus, latest_twins, receipt_of
from ..receipts import Receipt
from ..store import ActivityRecord, Store, StoreError
from ..store.alarm_records import AlarmConflict, AlarmNotFound, AlarmRecord
from ..twins import Twin, TwinRegistry
from . import rules
from .model import (
    ACTION_FROM,
    ACTIVE,
    CONDITION_KINDS,
    SITE,
    TYPE_KINDS,
    AlarmKind,
    AlarmState,
    alarm_json,
    alarm_key,
)

log = logging.getLogger(__name__)

Key = tuple[str, str]
_TWIN_KINDS: tuple[str, ...] = (
    AlarmKind.OFFLINE,
    AlarmKind.UNKNOWN_STATE,
    AlarmKind.JAMMED,
    AlarmKind.BATTERY_LOW,
    *sorted(TYPE_KINDS),
)
#: what the service reads of the bus
Heard = TwinChanged | DeviceEvent | FireChanged
#: every twin is judged at least this often (ticks), whatever changed
FULL_SWEEP_TICKS = 60
#: event keys remembered per alarm (a repeat of one of them is not counted again)
EVENT_KEYS_KEPT = 32
#: ``confirm(device, press_id, alarm)``: tell a screen its help press is stored
Confirm = Callable[[str, str, dict[str, Any]], None]


class AlarmService:
    """Long-running task (:meth:`run`) plus the staff actions the API calls."""

    def __init__(
        self,
        *,
        store: Store,
        bus: EventBus,
        twins: TwinRegistry,
        site: Site,
        clock: Clock,
        connected: Callable[[], bool] | None = None,
        tick_s: float = 1.0,
        confirm: Confirm | None = None,
        escalates: Callable[[], bool] | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.twins = twins
        self.site = site
        self.clock = clock
        self.connected = connected or (lambda: True)
        self.tick_s = tick_s
        self._store_error: str | None = None
        self.loaded = asyncio.Event()
        self._active: dict[Key, AlarmRecord] = {}
        self._latched: set[Key] = set()
        self._first_seen: dict[Key, datetime] = {}
        self._unsaved: dict[Key, AlarmRecord] = {}
        self._lock = asyncio.Lock()
        #: twins with a condition not yet due (judged every tick)
        self._watch: set[str] = set()
        self._ticks = 0
        self._was_connected: bool | None = None
        #: each twin's revision when it was last judged
        self._judged: dict[str, int] = {}
        self.confirm = confirm
        #: whether this instance escalates now (the site leader)
        self.escalates = escalates or (lambda: True)
        #: bus messages whose handling failed on the store: handled again each tick
        self._retry: list[Heard] = []
        #: receipts and events waiting for an unsaved alarm to be stored
        self._unsaved_receipts: dict[Key, list[Receipt]] = {}
        self._unsaved_events: dict[Key, list[DeviceEvent]] = {}
        #: the receipt of the message being handled
        self._receipt: Receipt | None = None

    @property
    def store_failing(self) -> str | None:
        """Why alarms are waiting to be stored (or active ones cannot be loaded)."""
        if self._unsaved or not self.loaded.is_set():
            return self._store_error
        return None

    @property
    def escalate_after(self) -> timedelta:
        return self.site.site.escalate_after

    def active(self) -> list[AlarmRecord]:
        """The active alarms as this service knows them, oldest first."""
        return sorted(self._active.values(), key=lambda a: a.id or 0)

    def to_json(self, alarm: AlarmRecord) -> dict[str, Any]:
        return alarm_json(alarm, self.site)

    # ------------------------------------------------------------------ the task

    async def run(self) -> None:
        """Load active alarms, then handle bus messages and tick until cancelled."""
        loop = asyncio.get_running_loop()
        # subscribe before any await
        with self.bus.subscribe(
            TwinChanged, DeviceEvent, FireChanged, queue_size=0, holds_receipts=True
        ) as sub:
            await self.load()
            next_tick = loop.time()
            while True:
                try:
                    first = await sub.get(timeout=max(0.0, next_tick - loop.time()))
                except TimeoutError:
                    first = None
                if first is not None:  # and everything queued behind it, in one go
                    # (the rules read the twin registry: a device's last twin message
                    # of the batch stands for the earlier ones)
                    for msg in latest_twins([first, *sub.drain()]):
                        await self._handle_held(msg)
                if loop.time() >= next_tick:
                    await self._guarded(self.tick(), "tick")
                    next_tick = loop.time() + self.tick_s

    async def load(self) -> None:
        """Take over the active alarms from the store (retried until it answers)."""
        async with self._lock:
            while True:
                try:
                    stored = await self.store.active_alarms()
                    break
                except StoreError as exc:
                    self._store_error = str(exc)
                    log.error("cannot load active alarms, retrying: %s", exc)
                    await asyncio.sleep(self.tick_s)
            self._store_error = None
            for alarm in stored:
                key = alarm_key(alarm.kind, alarm.device)
                if key in self._active:
                    log.error("two active %s alarms for %s: keeping the newer", *key[::-1])
                self._active[key] = alarm
                if alarm.kind in CONDITION_KINDS:
                    self._latched.add(key)
            log.info("%d active alarms loaded", len(stored))
        self.loaded.set()

    async def _guarded(self, work: Any, what: str) -> None:
        """One failing message or tick is logged; the service keeps running."""
        try:
            await work
        except StoreError as exc:  # the next tick retries
            log.error("alarms: cannot %s: %s", what, exc)
        except Exception:
            log.exception("alarms: %s failed", what)

    async def _handle_held(self, msg: Heard) -> None:
        """Handle a message, then release its receipt; on a store failure keep it (and
        its receipt) to be handled again by the next tick."""
        receipt = self._receipt = receipt_of(msg)
        try:
            await self.handle(msg)
        except StoreError as exc:
            self._store_error = str(exc)
            log.error("alarms: cannot handle %s yet (retrying): %s", type(msg).__name__, exc)
            self._retry.append(msg)
            return
        except Exception:
            log.exception("alarms: handle %s failed", type(msg).__name__)
        finally:
            self._receipt = None
        if receipt is not None:
            receipt.release()

    async def handle(self, msg: Heard) -> None:
        """Apply one bus message to the rules."""
        async with self._lock:
            if isinstance(msg, DeviceEvent):
                now = msg.ts
                candidate = rules.from_event(msg, self.site, now)
                if candidate is None:
                    return
                if candidate.kind in CONDITION_KINDS:
                    await self._condition_seen(candidate, now)
                else:
                    await self._raise(candidate, now, event=msg)
            elif isinstance(msg, TwinChanged):
                twin = self.twins.get(msg.id)
                if twin is not None:
                    await self._check_twin(twin, self.clock.now())
            else:
                now = self.clock.now()
                candidate = rules.from_fire(msg, self.site)
                if candidate is not None:
                    await self._condition_seen(candidate, now)
                else:
                    await self._condition_ended((SITE, AlarmKind.FIRE), now, mark=True)

    async def tick(self) -> None:
        """Retry unsaved alarms, judge lasting conditions, escalate open alarms.

        A twin's conditions change only when the twin does (its ``revision``; the
        bus ``twin`` message has it judged at once already) or with time while a
        condition waits to become due (``_watch``); so a tick judges those twins,
        and every twin when the MQTT link came or went and every
        :data:`FULL_SWEEP_TICKS` ticks. Judging all 10,000 twins every second cost
        ~15 % of a core.
        """
        retry, self._retry = self._retry, []
        for msg in retry:
            await self._handle_held(msg)
        async with self._lock:
            now = self.clock.now()
            for key, pending in list(self._unsaved.items()):
                await self._store_new(key, pending, announce=False)
            await self._check_link(now)
            connected = self.connected()
            full = connected != self._was_connected or self._ticks % FULL_SWEEP_TICKS == 0
            self._was_connected = connected
            self._ticks += 1
            if full:
                twins = self.twins.all()
            else:  # changed since last judged (unjudged if no bus message did it), or waiting
                twins = [
                    t
                    for t in self.twins.all()
                    if self._judged.get(t.id) != t.revision or t.id in self._watch
                ]
            for twin in twins:
                await self._check_twin(twin, now)
            if not self.escalates():
                return
            await self._sync_active()
            for key, alarm in list(self._active.items()):
                base = alarm.last_escalated_at or alarm.raised_at
                if alarm.state == AlarmState.OPEN and now - base >= self.escalate_after:
                    await self._escalate(key, alarm, now)

    async def _sync_active(self) -> None:
        """Take the active alarms as stored (other instances raise, escalate and close
        them too); from memory while the store cannot answer."""
        try:
            stored = await self.store.active_alarms()
        except StoreError:
            return  # the escalation's own write fails and says so
        ids = {a.id for a in stored}
        for key, alarm in list(self._active.items()):
            if alarm.id not in ids:
                del self._active[key]
        for alarm in stored:
            self._active[alarm_key(alarm.kind, alarm.device)] = alarm

    # ------------------------------------------------------------------ conditions

    async def _check_link(self, now: datetime) -> None:
        key = (SITE, AlarmKind.OFFLINE)
        if self.connected():
            self._first_seen.pop(key, None)
            await self._condition_ended(key, now, mark=True)
            return
        first = self._first_seen.setdefault(key, now)
        hold = timedelta(minutes=self.site.site.offline_alarm_minutes)
        if now - first >= hold:
            details = {"reason": "broker_unreachable", "since": first.isoformat()}
            candidate = rules.AlarmCandidate(AlarmKind.OFFLINE, None, None, details)
            await self._condition_seen(candidate, now)

    async def _check_twin(self, twin: Twin, now: datetime) -> None:
        self._judged[twin.id] = twin.revision
        found = {c.kind: c for c in rules.twin_conditions(twin, self.site)}
        if not self.connected():  # nothing can be told about devices without the link
            found.pop(AlarmKind.OFFLINE, None)
        if not found and not self._remembers(twin.id):
            self._watch.discard(twin.id)
            return  # a healthy twin with nothing to clear: the common case, kept cheap
        waiting = False
        for kind in _TWIN_KINDS:
            key = (twin.id, kind)
            condition = found.get(kind)
            if condition is None:
                seen = self._first_seen.pop(key, None) is not None
                await self._condition_ended(key, now, mark=seen)
                continue
            first = self._first_seen.setdefault(key, now)
            if key not in self._latched:
                if condition.due(first, now):
                    await self._condition_seen(
                        rules.from_condition(condition, twin, self.site), now
                    )
                waiting = waiting or key not in self._latched
        if waiting:
            self._watch.add(twin.id)
        else:
            self._watch.discard(twin.id)

    def _remembers(self, device: str) -> bool:
        """Whether any condition of ``device`` is being timed or latched."""
        return any(
            (device, kind) in self._first_seen or (device, kind) in self._latched
            for kind in _TWIN_KINDS
        )

    async def _condition_seen(self, candidate: rules.AlarmCandidate, now: datetime) -> None:
        key = alarm_key(candidate.kind, candidate.device)
        if key in self._latched:
            return
        self._latched.add(key)
        await self._raise(candidate, now)

    async def _condition_ended(self, key: Key, now: datetime, *, mark: bool) -> None:
        if key not in self._latched:
            return
        self._latched.discard(key)
        alarm = self._active.get(key)
        if alarm is None or not mark:
            return
        details = {**alarm.details, "cleared_at": now.isoformat()}
        await self._update(key, alarm, {"details": details}, "cleared")

    # ------------------------------------------------------------------ raising

    async def _raise(
        self,
        candidate: rules.AlarmCandidate,
        now: datetime,
        event: DeviceEvent | None = None,
    ) -> None:
        key = alarm_key(candidate.kind, candidate.device)
        alarm = self._active.get(key)
        event_key = event.key if event else None
        if alarm is not None:
            assert alarm.id is not None
            seen = list(alarm.details.get("event_keys") or [])
            counted: bool | None = None
            if event_key is not None and event_key in seen:
                counted = False
            else:
                try:
                    alarm, counted = await self.store.repeat_alarm(
                        alarm.id, event_key=event_key, now=now, keep=EVENT_KEYS_KEPT
                    )
                except (AlarmConflict, AlarmNotFound) as exc:  # closed meanwhile
                    self._forget(key, exc.current if isinstance(exc, AlarmConflict) else None)
            if counted is not None:
                self._active[key] = alarm
                if counted:
                    self._push(alarm, "repeated")
                else:  # delivered again, or counted by another instance
                    _counted_already(alarm, event_key)
                self._confirmed(alarm, event)
                return
            # it was closed meanwhile: raise a new one
        keys = [event_key] if event_key is not None else []
        pending = self._unsaved.get(key)
        if pending is not None:
            seen = list(pending.details.get("event_keys") or [])
            if event_key is not None and event_key in seen:
                self._wait_for_store(key, event)
                return
            count = int(pending.details.get("count", 1)) + 1
            details = {**pending.details, "count": count, "event_keys": [*seen, *keys]}
            pending = replace(pending, details=details)
        else:
            pending = AlarmRecord(
                kind=str(candidate.kind),
                apartment=candidate.apartment,
                device=candidate.device,
                state=AlarmState.OPEN.value,
                raised_at=now,
                details={**candidate.details, "count": 1, **({"event_keys": keys} if keys else {})},
            )
        stored = await self._store_new(key, pending, announce=True)
        if stored is not None:
            self._confirmed(stored, event)
        else:
            self._wait_for_store(key, event)

    def _wait_for_store(self, key: Key, event: DeviceEvent | None) -> None:
        """The message being handled is done only when the unsaved alarm ``key`` is
        stored (its receipt is held until then; the confirmation waits too)."""
        if self._receipt is not None:
            self._unsaved_receipts.setdefault(key, []).append(self._receipt.hold())
        if event is not None:
            self._unsaved_events.setdefault(key, []).append(event)

    def _confirmed(self, alarm: AlarmRecord, event: DeviceEvent | None) -> None:
        """Tell the screen its help press is stored (the press id is in the event)."""
        if self.confirm is None or event is None or alarm.device is None:
            return
        press_id = event.details.get("press_id")
        if isinstance(press_id, str) and event.type == "help_pressed":
            self.confirm(alarm.device, press_id, self.to_json(alarm))

    async def _store_new(
        self, key: Key, pending: AlarmRecord, *, announce: bool
    ) -> AlarmRecord | None:
        """Store a new alarm (or join the one another instance stored first, or find
        its events counted by one staff closed already); None if the store failed
        (kept unsaved, retried)."""
        try:
            stored, change = await self._add_or_join(pending)
        except (StoreError, AlarmConflict, AlarmNotFound) as exc:  # or closed meanwhile
            self._unsaved[key] = pending
            self._store_error = str(exc)
            if announce:  # ring anyway: the alarm must not wait for the database
                log.error("%s alarm for %s NOT STORED (retrying): %s", pending.kind, key[0], exc)
                self._push(pending, "raised", stored=False)
            return None
        self._unsaved.pop(key, None)
        if not stored.active:  # handled and closed already: nothing to raise
            self._forget(key, stored)
            if not announce:  # told unstored before: it is closed
                self._push(stored, stored.state)
        else:
            self._active[key] = stored
            if change == "raised":
                log.warning("alarm %s raised: %s %s", stored.id, stored.kind, key[0])
            if change is not None or not announce:  # (told unstored before: now stored)
                self._push(stored, change or "raised")
        for event in self._unsaved_events.pop(key, []):
            self._confirmed(stored, event)
        for receipt in self._unsaved_receipts.pop(key, []):
            receipt.release()
        return stored

    async def _add_or_join(self, pending: AlarmRecord) -> tuple[AlarmRecord, str | None]:
        """Store ``pending``; if another instance stored this alarm first, it is that
        one, counting the pending events it has not counted. The alarm and the change
        to push (None: nothing new)."""
        try:
            return await self.store.add_alarm(pending), "raised"
        except AlarmConflict as exc:
            alarm = exc.current
        alarm_id = alarm.id
        assert alarm_id is not None
        if not alarm.active:  # every event of it counted by an alarm staff closed
            log.info(
                "alarm %s: %s %s handled already (closed): not raised again",
                alarm_id,
                pending.kind,
                pending.device or SITE,
            )
            return alarm, None
        log.info(
            "alarm %s: %s %s raised by another instance",
            alarm_id,
            pending.kind,
            pending.device or SITE,
        )
        if pending.kind in CONDITION_KINDS:
            return alarm, None
        count = int(pending.details.get("count", 1))
        keys: list[str | None] = list(pending.details.get("event_keys") or [None] * count)
        change = None
        for event_key in keys:
            alarm, counted = await self.store.repeat_alarm(
                alarm_id, event_key=event_key, now=self.clock.now(), keep=EVENT_KEYS_KEPT
            )
            if counted:
                change = "repeated"
            else:
                _counted_already(alarm, event_key)
        return alarm, change

    async def _update(
        self, key: Key, alarm: AlarmRecord, changes: dict[str, Any], change: str
    ) -> bool:
        """Store a service-side change of an active alarm and push it; False if the
        alarm was closed meanwhile (then it is forgotten)."""
        assert alarm.id is not None
        try:
            stored = await self.store.update_alarm(
                alarm.id, from_states=ACTIVE, changes=changes, wanted=change
            )
        except (AlarmConflict, AlarmNotFound) as exc:
            self._forget(key, exc.current if isinstance(exc, AlarmConflict) else None)
            return False
        self._active[key] = stored
        self._push(stored, change)
        return True

    async def _escalate(self, key: Key, alarm: AlarmRecord, now: datetime) -> None:
        assert alarm.id is not None
        try:
            stored = await self.store.update_alarm(
                alarm.id,
                from_states={AlarmState.OPEN},
                expect_escalations=alarm.escalations,
                changes={"escalations": alarm.escalations + 1, "last_escalated_at": now},
                wanted="escalate",
            )
        except AlarmConflict as exc:
            self._forget(key, exc.current)
            return
        except AlarmNotFound:
            self._forget(key, None)
            return
        self._active[key] = stored
        log.warning("alarm %s escalated (%d): nobody took it", stored.id, stored.escalations)
        self._push(stored, "escalated")

    def _forget(self, key: Key, current: AlarmRecord | None) -> None:
        """Replace the remembered alarm by ``current`` (dropped if closed or gone)."""
        if current is not None and current.active:
            self._active[key] = current
        elif key in self._active and (current is None or self._active[key].id == current.id):
            del self._active[key]

    def _push(self, alarm: AlarmRecord, change: str, *, stored: bool = True) -> None:
        self.bus.publish(AlarmChanged(alarm, change, stored))

    # ------------------------------------------------------------------ staff actions

    async def get(self, alarm_id: int) -> AlarmRecord | None:
        return await self.store.get_alarm(alarm_id)

    async def act(
        self, alarm_id: int, action: str, *, actor: str, text: str | None = None
    ) -> AlarmRecord:
        """``ack`` (text: comment), ``on_site``, ``close`` (text: note) by ``actor``.

        Returns the stored alarm; AlarmNotFound, or AlarmConflict if its state does not
        allow the action (another nurse took or closed it first).
        """
        allowed = ACTION_FROM[action]
        async with self._lock:
            now = self.clock.now()
            current = await self.store.get_alarm(alarm_id)
            if current is None:
                raise AlarmNotFound(alarm_id)
            if current.state not in allowed:
                raise AlarmConflict(current, action)
            changes: dict[str, Any]
            if action == "ack":
                changes = {"acked_by": actor, "acked_at": now, "ack_comment": text}
                target = AlarmState.ACKNOWLEDGED
            elif action == "on_site":
                changes = {"on_site_by": actor, "on_site_at": now}
                if current.state == AlarmState.OPEN:  # taking it implicitly
                    changes |= {"acked_by": actor, "acked_at": now}
                target = AlarmState.ON_SITE
            else:
                changes = {"closed_by": actor, "closed_at": now, "close_note": text}
                target = AlarmState.CLOSED
            activity = ActivityRecord(
                ts=now,
                actor=actor,
                action=f"alarm_{action}",
                subject=str(alarm_id),
                apartment=current.apartment,
                reason=text,
                outcome="ok",
                details={"kind": current.kind, "device": current.device, "from": current.state},
            )
            key = alarm_key(current.kind, current.device)
            try:
                stored = await self.store.update_alarm(
                    alarm_id,
                    from_states={current.state},
                    changes={**changes, "state": target.value},
                    activity=activity,
                    wanted=action,
                )
            except AlarmConflict as exc:
                self._forget(key, exc.current)
                raise
            if stored.active:
                self._active[key] = stored
            else:
                self._forget(key, stored)
            log.info("alarm %s %s by %s", alarm_id, target.value, actor)
            self._push(stored, target.value)
            return stored

    async def note(
        self,
        alarm_id: int,
        details: dict[str, Any],
        activity: ActivityRecord,
        *,
        comment: str | None = None,
    ) -> AlarmRecord:
        """Add ``details`` to an active alarm (what was done about its door) and, with
        ``comment``, set its comment, with its activity line in the same transaction;
        push it (``change: noted``). AlarmNotFound, or AlarmConflict if it is closed."""
        async with self._lock:
            current = await self.store.get_alarm(alarm_id)
            if current is None:
                raise AlarmNotFound(alarm_id)
            if not current.active:
                raise AlarmConflict(current, "note")
            key = alarm_key(current.kind, current.device)
            try:
                stored = await self.store.update_alarm(
                    alarm_id,
                    from_states={current.state},
                    changes={
                        "details": {**current.details, **details},
                        **({"ack_comment": comment} if comment is not None else {}),
                    },
                    activity=activity,
                    wanted="note",
                )
            except AlarmConflict as exc:
                self._forget(key, exc.current)
                raise
            self._active[key] = stored
            self._push(stored, "noted")
            return stored


def _counted_already(alarm: AlarmRecord, event_key: str | None) -> None:
    """Log an event the alarm has counted (delivered again, or counted by another
    instance), naming the alarm's kind and device."""
    log.info(
        "alarm %s: %s %s: event %s counted already",
        alarm.id,
        alarm.kind,
        alarm.device or SITE,
        event_key,
    )
