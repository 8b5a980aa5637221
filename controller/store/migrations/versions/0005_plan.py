"""Staff-entered entries of a resident's day plan, shown on the room screen.

Revision ID: 0005_plan
Revises: 0004_leases
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_plan"
down_revision: str | Sequence[str] | None = "0004_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "plan_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("apartment", sa.String(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("at", sa.String(), nullable=True),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_plan_entries_apartment_day", "plan_entries", ["apartment", "day"])


def downgrade() -> None:
    op.drop_index("ix_plan_entries_apartment_day", table_name="plan_entries")
    op.drop_table("plan_entries")
