"""Staff-entered entries of a resident's day plan ("Sjukgymnast 10.00"), shown on the
room screen beside the apartment's scheduled routines (table of migration ``0005_plan``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from . import schema as t
from .access import SqlAccess

plan_entries = sa.Table(
    "plan_entries",
    t.metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("apartment", sa.String(), nullable=False),
    sa.Column("day", sa.Date(), nullable=False),
    #: site-local "HH:MM", or None for "during the day"
    sa.Column("at", sa.String(), nullable=True),
    sa.Column("text", sa.String(), nullable=False),
    sa.Column("created_by", sa.String(), nullable=False),
    sa.Column("created_at", t.UtcDateTime(), nullable=False),
    sa.Index("ix_plan_entries_apartment_day", "apartment", "day"),
)


@dataclass(frozen=True, slots=True)
class PlanEntryRecord:
    apartment: str
    day: date
    at: str | None
    text: str
    created_by: str
    created_at: datetime
    id: int | None = None


def _entry(row: sa.RowMapping) -> PlanEntryRecord:
    return PlanEntryRecord(**{c: row[c] for c in PlanEntryRecord.__slots__})


class PlanMixin(SqlAccess):
    async def add_plan_entry(self, entry: PlanEntryRecord) -> PlanEntryRecord:
        """Store an entry; it with its id."""
        values = {c: getattr(entry, c) for c in PlanEntryRecord.__slots__ if c != "id"}
        async with self._write(f"add a plan entry for {entry.apartment}") as conn:
            result = await conn.execute(sa.insert(plan_entries).values(**values))
            new_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        return PlanEntryRecord(**values, id=new_id)

    async def plan_entries(self, apartment: str, day: date | None) -> list[PlanEntryRecord]:
        """An apartment's entries of one day (``None``: of every day, by day), untimed
        first, then by time."""
        which = plan_entries.c.apartment == apartment
        if day is not None:
            which &= plan_entries.c.day == day
        query = (
            sa.select(plan_entries)
            .where(which)
            .order_by(
                plan_entries.c.day,
                plan_entries.c.at.is_not(None),
                plan_entries.c.at,
                plan_entries.c.id,
            )
        )
        async with self._read(f"read the plan of {apartment}") as conn:
            return [_entry(r) for r in (await conn.execute(query)).mappings()]

    async def delete_plan_entry(self, entry_id: int, apartment: str) -> PlanEntryRecord | None:
        """Delete an apartment's entry; what was deleted, or None if it has none such."""
        which = (plan_entries.c.id == entry_id) & (plan_entries.c.apartment == apartment)
        async with self._write(f"delete plan entry {entry_id}") as conn:
            row = (await conn.execute(sa.select(plan_entries).where(which))).mappings().first()
            if row is None:
                return None
            await conn.execute(sa.delete(plan_entries).where(which))
        return _entry(row)
