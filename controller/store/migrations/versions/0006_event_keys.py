"""Device events stored once per event key; events the store refused, set aside.

Revision ID: 0006_event_keys
Revises: 0005_plan
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_event_keys"
down_revision: str | Sequence[str] | None = "0005_plan"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # NULL for the controller's own events (availability, stale, fire): never equal
    op.add_column("events", sa.Column("key", sa.String(), nullable=True))
    op.create_index("ux_events_device_key", "events", ["device", "key"], unique=True)
    op.create_table(
        "set_aside_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("set_aside_at", _TS, nullable=False),
        sa.Column("ts", _TS, nullable=False),
        sa.Column("device", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("set_aside_events")
    op.drop_index("ux_events_device_key", table_name="events")
    op.drop_column("events", "key")
