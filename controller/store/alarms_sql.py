"""Alarms in SQL: raised, changed under an optimistic state check, never deleted.

Every change names the states it may start from (``from_states``); the UPDATE's WHERE
clause checks them, so of two nurses taking one alarm exactly one succeeds and the
other gets :class:`AlarmConflict` with the alarm as it now is. A change may carry its
activity-log line, written in the same transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from . import schema as t
from .access import SqlAccess
from .alarm_records import (
    ACTIVE_STATES,
    ALARM_CHANGEABLE,
    AlarmConflict,
    AlarmNotFound,
    AlarmRecord,
)
from .live import AlarmNote
from .records import ActivityRecord
from .repository import StoreError
from .schema import as_utc

#: the device of a site-wide alarm in the one-active-alarm index (0007)
SITE = "site"
#: closed alarms of a kind and device whose event keys a new one is checked against
RECENT_CLOSED = 5


class AlarmsMixin(SqlAccess):
    async def _tell_others(self, conn: AsyncConnection, alarm_id: int, change: str) -> None:
        """Announce a change to the other instances on this site's PostgreSQL, heard
        when this transaction commits (controller/store/live.py)."""
        if self.live_channel is None or conn.dialect.name != "postgresql":
            return
        note = AlarmNote(self.instance_id, int(alarm_id), change)
        await conn.execute(sa.select(sa.func.pg_notify(self.live_channel, note.payload())))

    async def add_alarm(self, alarm: AlarmRecord) -> AlarmRecord:
        """Store a new alarm; returns it with its id. An active alarm of the same kind
        and device (or site) stored already (another instance raised it) is not added
        again: AlarmConflict with that alarm; nor one whose every event key a recently
        closed alarm counted: AlarmConflict with that closed alarm."""
        row = {k: v for k, v in _row(alarm).items() if k != "id"}
        c = t.alarms.c
        same = sa.select(t.alarms).where(
            c.kind == alarm.kind,
            sa.func.coalesce(c.device, SITE) == (alarm.device or SITE),
            c.state.in_(sorted(ACTIVE_STATES)),
        )
        async with self._write(f"raise a {alarm.kind} alarm") as conn:
            handled = await self._handled_already(conn, alarm)
            if handled is not None:
                raise AlarmConflict(handled, "raise")
            # the active one may be closed between the two statements: then try again
            for _ in range(3):
                insert = t.insert_ignore(conn, t.alarms).returning(*t.alarms.c)
                added = (await conn.execute(insert, row)).mappings().first()
                if added is not None:
                    await self._tell_others(conn, added["id"], "raise")
                    return _alarm(added)
                current = (await conn.execute(same)).mappings().first()
                if current is not None:
                    raise AlarmConflict(_alarm(current), "raise")
            raise StoreError(f"cannot raise a {alarm.kind} alarm: it keeps conflicting")

    async def _handled_already(
        self, conn: AsyncConnection, alarm: AlarmRecord
    ) -> AlarmRecord | None:
        """A recently closed alarm of the same kind and device that counted every event
        ``alarm`` would be raised for (an instance hearing a press late, e.g. from its
        session after a restart, after staff closed its alarm), or None."""
        keys = set(alarm.details.get("event_keys") or [])
        if not keys:
            return None
        c = t.alarms.c
        recent = (
            sa.select(t.alarms)
            .where(
                c.kind == alarm.kind,
                sa.func.coalesce(c.device, SITE) == (alarm.device or SITE),
                c.state == "closed",
            )
            .order_by(c.id.desc())
            .limit(RECENT_CLOSED)
        )
        closed = [_alarm(r) for r in (await conn.execute(recent)).mappings()]
        counted = {k for a in closed for k in a.details.get("event_keys") or []}
        if not keys <= counted:
            return None  # a press not counted yet: raise (never lose one)
        return next(a for a in closed if keys & set(a.details.get("event_keys") or []))

    async def repeat_alarm(
        self, alarm_id: int, *, event_key: str | None, now: datetime, keep: int
    ) -> tuple[AlarmRecord, bool]:
        """Count one more event of an active alarm (``count``, ``last_at``, the last
        ``keep`` event keys; ``cleared_at`` reset), in one transaction that holds the
        row, so two instances never overwrite each other's count. Returns the alarm and
        whether it was counted: an event whose key it has counted already is not.
        AlarmNotFound, or AlarmConflict when the alarm is closed."""
        c = t.alarms.c
        query = sa.select(t.alarms).where(c.id == alarm_id)
        async with self._write(f"count alarm {alarm_id} up") as conn:
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            row = (await conn.execute(query)).mappings().first()
            if row is None:
                raise AlarmNotFound(alarm_id)
            current = _alarm(row)
            if not current.active:
                raise AlarmConflict(current, "repeat")
            seen = list(current.details.get("event_keys") or [])
            if event_key is not None and event_key in seen:
                return current, False
            details = {
                **current.details,
                "count": int(current.details.get("count", 1)) + 1,
                "last_at": now.isoformat(),
                "cleared_at": None,
            }
            if event_key is not None:
                details["event_keys"] = [*seen, event_key][-keep:]
            update = (
                sa.update(t.alarms)
                .where(c.id == alarm_id)
                .values(details=details)
                .returning(*t.alarms.c)
            )
            counted = _alarm((await conn.execute(update)).mappings().one())
            await self._tell_others(conn, alarm_id, "repeat")
            return counted, True

    async def get_alarm(self, alarm_id: int) -> AlarmRecord | None:
        query = sa.select(t.alarms).where(t.alarms.c.id == alarm_id)
        async with self._read(f"read alarm {alarm_id}") as conn:
            row = (await conn.execute(query)).mappings().first()
            return None if row is None else _alarm(row)

    async def update_alarm(
        self,
        alarm_id: int,
        *,
        from_states: Collection[str],
        changes: Mapping[str, Any],
        expect_escalations: int | None = None,
        activity: ActivityRecord | None = None,
        wanted: str = "change",
    ) -> AlarmRecord:
        """Change an alarm that is in one of ``from_states`` (and, if given, has
        ``expect_escalations``); returns it as stored. AlarmNotFound, or AlarmConflict
        with the current alarm when the check fails (nothing is then written)."""
        unknown = set(changes) - ALARM_CHANGEABLE
        if unknown:
            raise ValueError(f"alarm columns {sorted(unknown)} cannot be changed")
        c = t.alarms.c
        query = (
            sa.update(t.alarms)
            .where(c.id == alarm_id, c.state.in_(list(from_states)))
            .values(**changes)
            .returning(*t.alarms.c)
        )
        if expect_escalations is not None:
            query = query.where(c.escalations == expect_escalations)
        async with self._write(f"{wanted} alarm {alarm_id}") as conn:
            row = (await conn.execute(query)).mappings().first()
            if row is None:
                current = (
                    (await conn.execute(sa.select(t.alarms).where(c.id == alarm_id)))
                    .mappings()
                    .first()
                )
                if current is None:
                    raise AlarmNotFound(alarm_id)
                raise AlarmConflict(_alarm(current), wanted)
            if activity is not None:
                await conn.execute(t.activity.insert(), _activity_row(activity))
            await self._tell_others(conn, alarm_id, wanted)
            return _alarm(row)

    async def active_alarms(self) -> list[AlarmRecord]:
        """Every alarm not closed, oldest first."""
        query = (
            sa.select(t.alarms)
            .where(t.alarms.c.state.in_(sorted(ACTIVE_STATES)))
            .order_by(t.alarms.c.id)
        )
        async with self._read("read active alarms") as conn:
            return [_alarm(r) for r in (await conn.execute(query)).mappings()]

    async def alarms(
        self,
        *,
        limit: int = 100,
        state: str | None = None,
        apartment: str | None = None,
        since: datetime | None = None,
        kinds: Collection[str] | None = None,
        before_id: int | None = None,
    ) -> list[AlarmRecord]:
        """Newest first. ``state``: ``active`` (not closed), ``closed``, one state, or
        None for all; ``since`` keeps alarms raised at or after it."""
        c = t.alarms.c
        query = sa.select(t.alarms).order_by(c.id.desc()).limit(limit)
        if state == "active":
            query = query.where(c.state.in_(sorted(ACTIVE_STATES)))
        elif state is not None:
            query = query.where(c.state == state)
        if apartment is not None:
            query = query.where(c.apartment == apartment)
        if since is not None:
            query = query.where(c.raised_at >= as_utc(since))
        if kinds is not None:
            query = query.where(c.kind.in_(sorted(kinds)))
        if before_id is not None:
            query = query.where(c.id < before_id)
        async with self._read("read alarms") as conn:
            return [_alarm(r) for r in (await conn.execute(query)).mappings()]


def _row(alarm: AlarmRecord) -> dict[str, Any]:
    return {name: getattr(alarm, name) for name in t.alarms.c.keys()}  # noqa: SIM118


def _alarm(row: sa.RowMapping) -> AlarmRecord:
    data = {name: row[name] for name in t.alarms.c.keys()}  # noqa: SIM118
    data["details"] = dict(data["details"] or {})
    return AlarmRecord(**data)


def _activity_row(record: ActivityRecord) -> dict[str, Any]:
    return {
        "ts": as_utc(record.ts),
        "actor": record.actor,
        "action": record.action,
        "subject": record.subject,
        "apartment": record.apartment,
        "reason": record.reason,
        "outcome": record.outcome,
        "details": record.details,
    }
