"""The activity log in SQL: sign-ins, refusals, alarm actions (append-only)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from . import schema as t
from .access import SqlAccess
from .records import ActivityRecord
from .schema import as_utc


class ActivityMixin(SqlAccess):
    async def add_activity(self, record: ActivityRecord) -> int:
        """Append one activity line; returns its id."""
        row = {
            "ts": as_utc(record.ts),
            "actor": record.actor,
            "action": record.action,
            "subject": record.subject,
            "apartment": record.apartment,
            "reason": record.reason,
            "outcome": record.outcome,
            "details": record.details,
        }
        async with self._write(f"log activity {record.action}") as conn:
            result = await conn.execute(t.activity.insert().returning(t.activity.c.id), row)
            return int(result.scalar_one())

    async def activity(
        self,
        *,
        limit: int = 100,
        actor: str | None = None,
        apartment: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
    ) -> list[ActivityRecord]:
        """Newest first."""
        c = t.activity.c
        query = sa.select(t.activity).order_by(c.id.desc()).limit(limit)
        if actor is not None:
            query = query.where(c.actor == actor)
        if apartment is not None:
            query = query.where(c.apartment == apartment)
        if action is not None:
            query = query.where(c.action == action)
        if since is not None:
            query = query.where(c.ts >= as_utc(since))
        if until is not None:
            query = query.where(c.ts < as_utc(until))
        if before_id is not None:
            query = query.where(c.id < before_id)
        async with self._read("read the activity log") as conn:
            rows = (await conn.execute(query)).mappings()
            return [
                ActivityRecord(
                    id=r["id"],
                    ts=r["ts"],
                    actor=r["actor"],
                    action=r["action"],
                    subject=r["subject"],
                    apartment=r["apartment"],
                    reason=r["reason"],
                    outcome=r["outcome"],
                    details=r["details"] or {},
                )
                for r in rows
            ]
