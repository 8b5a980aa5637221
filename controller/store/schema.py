"""SQLAlchemy Core description of the store's tables (the migrations create them).

This module mirrors the newest migration; it is what queries are written against and
what ``alembic revision --autogenerate`` compares the database with.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect


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
    sa.Index("ix_events_device_id", "device", "id"),
    sqlite_autoincrement=True,
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
