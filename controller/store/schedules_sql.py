"""Schedules, firing claims and staff holds in SQL.

A firing is claimed by inserting its ``(schedule_id, due_at)`` row with
``ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL alike): the one insert that adds the
row owns the firing; every other claim of the same instant gets False.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from scheduler.ports import CLAIMED, FiringRecord, HoldRecord, ScheduleRecord

from . import schema as t
from .access import SqlAccess
from .schema import as_utc


def _schedule(row: sa.RowMapping) -> ScheduleRecord:
    return ScheduleRecord(
        id=row["id"],
        name=row["name"],
        owner=row["owner"],
        definition=dict(row["definition"] or {}),
        enabled=bool(row["enabled"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
    )


def _firing(row: sa.RowMapping) -> FiringRecord:
    return FiringRecord(
        schedule_id=row["schedule_id"],
        due_at=row["due_at"],
        fired_at=row["fired_at"],
        outcome=row["outcome"],
        details=dict(row["details"] or {}),
    )


class ScheduleMixin(SqlAccess):
    # -- schedules -----------------------------------------------------------------------

    async def add_schedule(self, record: ScheduleRecord) -> bool:
        """Store a new schedule; False (nothing stored) if the id exists (even deleted)."""
        row = {
            "id": record.id,
            "name": record.name,
            "owner": record.owner,
            "definition": record.definition,
            "enabled": record.enabled,
            "created_at": as_utc(record.created_at),
            "updated_at": as_utc(record.updated_at),
            "deleted_at": None,
        }
        async with self._write(f"add schedule {record.id}") as conn:
            result = await conn.execute(t.insert_ignore(conn, t.schedules), row)
            return result.rowcount > 0

    async def update_schedule(
        self,
        schedule_id: str,
        *,
        updated_at: datetime,
        name: str | None = None,
        definition: dict[str, Any] | None = None,
        enabled: bool | None = None,
        owner: str | None = None,
    ) -> ScheduleRecord | None:
        """Change a live (not deleted) schedule; the schedule as now stored, or None."""
        c = t.schedules.c
        values: dict[str, Any] = {"updated_at": as_utc(updated_at)}
        if name is not None:
            values["name"] = name
        if definition is not None:
            values["definition"] = definition
        if enabled is not None:
            values["enabled"] = enabled
        if owner is not None:
            values["owner"] = owner
        live = sa.and_(c.id == schedule_id, c.deleted_at.is_(None))
        async with self._write(f"update schedule {schedule_id}") as conn:
            done = await conn.execute(sa.update(t.schedules).where(live).values(**values))
            if done.rowcount == 0:
                return None
            row = (await conn.execute(sa.select(t.schedules).where(live))).mappings().first()
            return None if row is None else _schedule(row)

    async def delete_schedule(self, schedule_id: str, now: datetime) -> bool:
        """Soft-delete; False if there is no live schedule with this id."""
        c = t.schedules.c
        query = (
            sa.update(t.schedules)
            .where(c.id == schedule_id, c.deleted_at.is_(None))
            .values(deleted_at=as_utc(now), updated_at=as_utc(now), enabled=False)
        )
        async with self._write(f"delete schedule {schedule_id}") as conn:
            return (await conn.execute(query)).rowcount > 0

    async def get_schedule(
        self, schedule_id: str, *, include_deleted: bool = False
    ) -> ScheduleRecord | None:
        query = sa.select(t.schedules).where(t.schedules.c.id == schedule_id)
        if not include_deleted:
            query = query.where(t.schedules.c.deleted_at.is_(None))
        async with self._read("read a schedule") as conn:
            row = (await conn.execute(query)).mappings().first()
            return None if row is None else _schedule(row)

    async def list_schedules(self, *, include_deleted: bool = False) -> list[ScheduleRecord]:
        """Schedules by creation time (then id)."""
        c = t.schedules.c
        query = sa.select(t.schedules).order_by(c.created_at, c.id)
        if not include_deleted:
            query = query.where(c.deleted_at.is_(None))
        async with self._read("list schedules") as conn:
            return [_schedule(r) for r in (await conn.execute(query)).mappings()]

    # -- firings -------------------------------------------------------------------------

    async def claim_firing(self, schedule_id: str, due_at: datetime, now: datetime) -> bool:
        """Claim one due instant before acting on it: True for the one caller that
        inserted its row, False if it was claimed already (it ran, or is running)."""
        row = {
            "schedule_id": schedule_id,
            "due_at": as_utc(due_at),
            "fired_at": as_utc(now),
            "outcome": CLAIMED,
            "details": {},
        }
        async with self._write(f"claim firing {schedule_id}@{due_at.isoformat()}") as conn:
            result = await conn.execute(t.insert_ignore(conn, t.firings), row)
            return result.rowcount > 0

    async def finish_firing(
        self, schedule_id: str, due_at: datetime, outcome: str, details: dict[str, Any]
    ) -> None:
        """Record the outcome of a claimed firing."""
        c = t.firings.c
        query = (
            sa.update(t.firings)
            .where(c.schedule_id == schedule_id, c.due_at == as_utc(due_at))
            .values(outcome=outcome, details=details)
        )
        async with self._write(f"record firing {schedule_id}@{due_at.isoformat()}") as conn:
            await conn.execute(query)

    async def last_firings(self) -> dict[str, datetime]:
        """The latest claimed due instant of every schedule that has one."""
        c = t.firings.c
        query = sa.select(
            c.schedule_id, sa.func.max(c.due_at, type_=t.UtcDateTime()).label("due_at")
        ).group_by(c.schedule_id)
        async with self._read("read the last firings") as conn:
            rows = (await conn.execute(query)).mappings()
            return {r["schedule_id"]: r["due_at"] for r in rows}

    async def firings(
        self, *, schedule_id: str | None = None, limit: int = 100
    ) -> list[FiringRecord]:
        """Newest due instant first."""
        c = t.firings.c
        query = sa.select(t.firings).order_by(c.due_at.desc()).limit(limit)
        if schedule_id is not None:
            query = query.where(c.schedule_id == schedule_id)
        async with self._read("read firings") as conn:
            return [_firing(r) for r in (await conn.execute(query)).mappings()]

    # -- holds ---------------------------------------------------------------------------

    async def put_hold(self, hold: HoldRecord) -> None:
        """Set the device's hold (replacing an older one)."""
        row = {
            "device": hold.device,
            "since": as_utc(hold.since),
            "actor": hold.actor,
            "action": hold.action,
            "command_id": hold.command_id,
        }
        async with self._write(f"hold {hold.device}") as conn:
            await conn.execute(
                sa.delete(t.schedule_holds).where(t.schedule_holds.c.device == hold.device)
            )
            await conn.execute(t.schedule_holds.insert(), row)

    async def delete_hold(self, device: str, since: datetime | None = None) -> bool:
        """Release a device's hold (only the one set at ``since`` when given)."""
        c = t.schedule_holds.c
        query = sa.delete(t.schedule_holds).where(c.device == device)
        if since is not None:
            query = query.where(c.since == as_utc(since))
        async with self._write(f"release the hold on {device}") as conn:
            return (await conn.execute(query)).rowcount > 0

    async def holds(self) -> list[HoldRecord]:
        query = sa.select(t.schedule_holds).order_by(t.schedule_holds.c.device)
        async with self._read("read holds") as conn:
            return [
                HoldRecord(
                    device=r["device"],
                    since=r["since"],
                    actor=r["actor"],
                    action=r["action"],
                    command_id=r["command_id"],
                )
                for r in (await conn.execute(query)).mappings()
            ]
