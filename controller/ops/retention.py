"""Retention: delete what is older than the settings say, and nothing else (GDPR).

The audit and activity tables are append-only: database triggers refuse every UPDATE
and DELETE. Retention is the one permitted delete, and it is done so that the rule
holds for everybody else at every moment:

- one write transaction (SQLite ``BEGIN IMMEDIATE``; PostgreSQL takes the table lock
  with ``ALTER TABLE``) that lifts the table's delete guard, deletes rows older than
  the cut-off, puts the guard back exactly as it was, and commits. No other
  connection can write in between, and a failure rolls all of it back, guard included;
- only rows older than the cut-off go, and a command's audit lines go together (a
  command with any line newer than the cut-off is kept whole);
- the transaction itself appends an activity line (actor ``retention``, action
  ``retention``) with the cut-offs and how many rows went, so deleting is audited.

Events go after ``events_days``; audit and activity after ``audit_days``; closed
alarms (their notes name residents) after ``alarms_days``. 0 keeps forever.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from controller.store import engine as db
from controller.store import schema as t
from devices.clock import Clock

log = logging.getLogger(__name__)

ACTOR = "retention"
#: SQLite trigger and PostgreSQL trigger that guard each append-only table's deletes.
_GUARDS = {
    "audit": ("audit_no_delete", "audit_no_update_delete"),
    "activity": ("activity_no_delete", "activity_no_update_delete"),
}


@dataclass(frozen=True)
class RetentionPolicy:
    """Days to keep each kind of record (0: forever)."""

    events_days: int = 90
    audit_days: int = 730
    alarms_days: int = 730

    @property
    def keeps_everything(self) -> bool:
        return not (self.events_days or self.audit_days or self.alarms_days)


@dataclass
class RetentionReport:
    """What one run deleted, per table, and the cut-offs used."""

    at: datetime
    cutoffs: dict[str, str] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "cutoffs": self.cutoffs, "deleted": self.deleted}


async def apply_retention(
    db_url: str, policy: RetentionPolicy, now: datetime, *, engine: AsyncEngine | None = None
) -> RetentionReport:
    """Delete what ``policy`` no longer keeps at ``now``; one transaction."""
    report = RetentionReport(at=now)
    own = engine is None
    engine = engine or db.create_engine(db.parse_url(db_url))
    writer = engine.execution_options(**{db.WRITE_OPTION: True})
    try:
        async with writer.begin() as conn:
            if policy.events_days:
                cutoff = now - timedelta(days=policy.events_days)
                report.cutoffs["events"] = cutoff.isoformat()
                result = await conn.execute(sa.delete(t.events).where(t.events.c.ts < cutoff))
                report.deleted["events"] = result.rowcount
            if policy.alarms_days:
                cutoff = now - timedelta(days=policy.alarms_days)
                report.cutoffs["alarms"] = cutoff.isoformat()
                a = t.alarms.c
                result = await conn.execute(
                    sa.delete(t.alarms).where(a.state == "closed", a.closed_at < cutoff)
                )
                report.deleted["alarms"] = result.rowcount
            if policy.audit_days:
                cutoff = now - timedelta(days=policy.audit_days)
                report.cutoffs["audit"] = report.cutoffs["activity"] = cutoff.isoformat()
                newer = sa.select(t.audit.c.command_id).where(t.audit.c.ts >= cutoff)
                audit_delete = sa.delete(t.audit).where(
                    t.audit.c.ts < cutoff, t.audit.c.command_id.not_in(newer)
                )
                report.deleted["audit"] = await _guarded_delete(conn, "audit", audit_delete)
                activity_delete = sa.delete(t.activity).where(t.activity.c.ts < cutoff)
                report.deleted["activity"] = await _guarded_delete(
                    conn, "activity", activity_delete
                )
            await conn.execute(
                t.activity.insert().values(
                    ts=now,
                    actor=ACTOR,
                    action="retention",
                    subject=None,
                    apartment=None,
                    reason="retention settings",
                    outcome="ok",
                    details=report.to_dict(),
                )
            )
    finally:
        if own:
            await engine.dispose()
    log.info("retention: deleted %s (cut-offs %s)", report.deleted, report.cutoffs)
    return report


async def _guarded_delete(conn: AsyncConnection, table: str, delete: sa.Delete) -> int:
    """Run ``delete`` on an append-only table with its guard lifted for this
    transaction only (see the module docstring)."""
    sqlite_trigger, pg_trigger = _GUARDS[table]
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER {pg_trigger}"))
        result = await conn.execute(delete)
        await conn.execute(sa.text(f"ALTER TABLE {table} ENABLE TRIGGER {pg_trigger}"))
        return int(result.rowcount)
    row = (
        await conn.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :name"),
            {"name": sqlite_trigger},
        )
    ).first()
    if row is None:
        raise RuntimeError(f"the append-only guard {sqlite_trigger} of {table} is missing")
    await conn.execute(sa.text(f"DROP TRIGGER {sqlite_trigger}"))
    result = await conn.execute(delete)
    await conn.execute(sa.text(row[0]))
    return int(result.rowcount)


def next_run(now: datetime, hour: int, zone: Any) -> datetime:
    """The next ``hour``:00 site time after ``now``."""
    local = now.astimezone(zone)
    run = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if run <= local:
        run = (local + timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return run


async def run_daily(
    db_url: str, policy: RetentionPolicy, clock: Clock, zone: Any, hour: int = 3
) -> None:
    """Apply retention every day at ``hour`` site time (until cancelled); a failure is
    logged and tried again the next day."""
    if policy.keeps_everything:
        return
    while True:
        now = clock.now()
        await asyncio.sleep((next_run(now, hour, zone) - now).total_seconds())
        try:
            await apply_retention(db_url, policy, clock.now())
        except Exception:
            log.exception("retention failed; trying again tomorrow")
