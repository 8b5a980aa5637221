"""Relatives' video link: invitations, the key that signs them, staff-set visiting hours.

Revision ID: 0004_calls
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_calls"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "call_invitations",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("apartment", sa.String(), nullable=False),
        sa.Column("resident", sa.String(), nullable=False),
        sa.Column("relative", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.Column("revoked_by", sa.String(), nullable=True),
    )
    op.create_index("ix_call_invitations_apartment", "call_invitations", ["apartment"])
    op.create_table(
        "call_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key_hex", sa.String(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "visiting_hours",
        sa.Column("apartment", sa.String(), primary_key=True),
        sa.Column("windows", _JSON, nullable=False),
        sa.Column("set_by", sa.String(), nullable=False),
        sa.Column("set_at", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("visiting_hours")
    op.drop_table("call_keys")
    op.drop_index("ix_call_invitations_apartment", "call_invitations")
    op.drop_table("call_invitations")
