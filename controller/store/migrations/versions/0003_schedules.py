"""Schedules, their firings (one claim per due instant) and staff holds.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("definition", _JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("deleted_at", _TS, nullable=True),
    )
    op.create_table(
        "firings",
        sa.Column("schedule_id", sa.String(), primary_key=True),
        sa.Column("due_at", _TS, primary_key=True),
        sa.Column("fired_at", _TS, nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("details", _JSON, nullable=False),
    )
    op.create_table(
        "schedule_holds",
        sa.Column("device", sa.String(), primary_key=True),
        sa.Column("since", _TS, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("command_id", sa.String(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("schedule_holds")
    op.drop_table("firings")
    op.drop_table("schedules")
