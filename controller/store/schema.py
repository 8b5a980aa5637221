"""SQLAlchemy Core description of the store's tables (the migrations create them).

This module mirrors the newest migration; it is what queries are written against and
what ``alembic revision --autogenerate`` compares the database with.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware timestamp, always stored and returned in UTC.

    SQLite has no time zones: values are stored as naive UTC text (which also sorts
    correctly). PostgreSQL uses ``timestamptz``. Naive datetimes are refused.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw text from a hand-written SQLite row
            value = datetime.fromisoformat(value)
        if not isinstance(value, datetime):
            raise TypeError(f"expected a timestamp from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` converted to UTC; ValueError for a naive datetime."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: the store needs timezone-aware times")
    return value.astimezone(UTC)


#: JSON objects; JSONB on PostgreSQL.
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
#: 64-bit ids on PostgreSQL; SQLite needs plain INTEGER for a rowid alias.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("ts", UtcDateTime(), nullable=False),
    sa.Column("device", sa.String(), nullable=False),
    sa.Column("type", sa.String(), nullable=False),
    sa.Column("details", Json, nullable=False),
    #: a device event's own key (``seq@device ts``): delivered again, stored once
    sa.Column("key", sa.String(), nullable=True),
    sa.Index("ix_events_device_id", "device", "id"),
    sa.Index("ux_events_device_key", "device", "key", unique=True),
    sqlite_autoincrement=True,
)

#: events the store refused (a value the database cannot hold), kept for an admin
set_aside_events = sa.Table(
    "set_aside_events",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("set_aside_at", UtcDateTime(), nullable=False),
    sa.Column("ts", UtcDateTime(), nullable=False),
    sa.Column("device", sa.String(), nullable=False),
    sa.Column("type", sa.String(), nullable=False),
    sa.Column("key", sa.String(), nullable=True),
    sa.Column("details", sa.Text(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("ts", UtcDateTime(), nullable=False),
    sa.Column("kind", sa.String(), nullable=False),
    sa.Column("command_id", sa.String(), nullable=False),
    sa.Column("device", sa.String(), nullable=False),
    sa.Column("action", sa.String(), nullable=False),
    sa.Column("actor", sa.String(), nullable=False),
    sa.Column("args", Json, nullable=False),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.Column("outcome", sa.String(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.CheckConstraint("kind IN ('issued', 'resolved')", name="ck_audit_kind"),
    sa.Index("ix_audit_command_id", "command_id"),
    sa.Index("ix_audit_device_id", "device", "id"),
    sqlite_autoincrement=True,
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(), primary_key=True),
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("actor", sa.String(), nullable=False),
    sa.Column("token_hash", sa.String(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
    sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
)

# --- 0002: people, sessions, the activity log, alarms -----------------------------

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(), primary_key=True),
    sa.Column("username", sa.String(), nullable=False),
    sa.Column("display_name", sa.String(), nullable=False),
    sa.Column("password_hash", sa.String(), nullable=False),
    #: JSON list of roles: admin, staff, technician, relative, screen
    sa.Column("roles", Json, nullable=False),
    #: JSON list of wings/units the user acts on (staff)
    sa.Column("units", Json, nullable=False),
    #: JSON list of apartment numbers (relative, screen)
    sa.Column("apartments", Json, nullable=False),
    sa.Column("language", sa.String(), nullable=False),
    sa.Column("disabled", sa.Boolean(), nullable=False),
    sa.Column("failed_logins", sa.Integer(), nullable=False),
    sa.Column("locked_until", UtcDateTime(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("password_changed_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("username", name="uq_users_username"),
)

sessions = sa.Table(
    "sessions",
    metadata,
    #: SHA-256 of the session cookie's secret
    sa.Column("id", sa.String(), primary_key=True),
    sa.Column("user_id", sa.String(), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("csrf_token", sa.String(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("last_seen", UtcDateTime(), nullable=False),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
    sa.Column("user_agent", sa.String(), nullable=True),
    sa.Index("ix_sessions_user_id", "user_id"),
)

#: Append-only log of what people did that is not a device command: sign-ins,
#: sign-outs, refused requests, alarm actions, user administration.
activity = sa.Table(
    "activity",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("ts", UtcDateTime(), nullable=False),
    sa.Column("actor", sa.String(), nullable=False),
    sa.Column("action", sa.String(), nullable=False),
    sa.Column("subject", sa.String(), nullable=True),
    sa.Column("apartment", sa.String(), nullable=True),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.Column("outcome", sa.String(), nullable=True),
    sa.Column("details", Json, nullable=False),
    sa.Index("ix_activity_actor_id", "actor", "id"),
    sa.Index("ix_activity_apartment_id", "apartment", "id"),
    sqlite_autoincrement=True,
)

#: SQL condition of an active (not closed) alarm
ACTIVE_ALARM = "state IN ('open', 'acknowledged', 'on_site')"

alarms = sa.Table(
    "alarms",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    #: help, night_door, jammed, unknown_state, offline, battery_low, fire
    sa.Column("kind", sa.String(), nullable=False),
    sa.Column("apartment", sa.String(), nullable=True),
    sa.Column("device", sa.String(), nullable=True),
    #: open, acknowledged, on_site, closed
    sa.Column("state", sa.String(), nullable=False),
    sa.Column("raised_at", UtcDateTime(), nullable=False),
    sa.Column("details", Json, nullable=False),
    sa.Column("escalations", sa.Integer(), nullable=False),
    sa.Column("last_escalated_at", UtcDateTime(), nullable=True),
    sa.Column("acked_by", sa.String(), nullable=True),
    sa.Column("acked_at", UtcDateTime(), nullable=True),
    sa.Column("ack_comment", sa.Text(), nullable=True),
    sa.Column("on_site_by", sa.String(), nullable=True),
    sa.Column("on_site_at", UtcDateTime(), nullable=True),
    sa.Column("closed_by", sa.String(), nullable=True),
    sa.Column("closed_at", UtcDateTime(), nullable=True),
    sa.Column("close_note", sa.Text(), nullable=True),
    sa.Index("ix_alarms_state_id", "state", "id"),
    sa.Index("ix_alarms_device_kind", "device", "kind"),
    # 0007: one active alarm per (kind, device or site); inserting a second one
    # conflicts, so of two instances raising the same alarm one raises it
    sa.Index(
        "ux_alarms_active",
        "kind",
        sa.text("coalesce(device, 'site')"),
        unique=True,
        sqlite_where=sa.text(ACTIVE_ALARM),
        postgresql_where=sa.text(ACTIVE_ALARM),
    ),
    sqlite_autoincrement=True,
)

# --- 0003: schedules, their firings, staff holds ------------------------------------

#: Schedules (soft-deleted: ``deleted_at`` set, the row and its firings are kept).
schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("id", sa.String(), primary_key=True),
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("owner", sa.String(), nullable=False),
    #: the scheduler.Schedule model dump (JSON mode)
    sa.Column("definition", Json, nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("deleted_at", UtcDateTime(), nullable=True),
)

#: One row per claimed due instant: inserting it claims the firing (before sending);
#: the primary key refuses a second claim of the same instant.
firings = sa.Table(
    "firings",
    metadata,
    sa.Column("schedule_id", sa.String(), primary_key=True),
    sa.Column("due_at", UtcDateTime(), primary_key=True),
    sa.Column("fired_at", UtcDateTime(), nullable=False),
    #: claimed, ok, partial, failed, held, missed, no_devices
    sa.Column("outcome", sa.String(), nullable=False),
    sa.Column("details", Json, nullable=False),
)

#: Staff holds: one per device, until that device's next scheduled firing.
schedule_holds = sa.Table(
    "schedule_holds",
    metadata,
    sa.Column("device", sa.String(), primary_key=True),
    sa.Column("since", UtcDateTime(), nullable=False),
    sa.Column("actor", sa.String(), nullable=False),
    sa.Column("action", sa.String(), nullable=False),
    sa.Column("command_id", sa.String(), nullable=True),
)

# --- 0004_leases: site-wide duties held by one controller instance at a time ------------

#: ``name`` (e.g. ``scheduler``) is held by ``holder`` until ``expires_at``; the holder
#: renews it, anyone may take it once it has expired (controller/leader.py).
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(), primary_key=True),
    sa.Column("holder", sa.String(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
)


def insert_ignore(conn: AsyncConnection | Connection, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()
