"""Initial schema: events, append-only audit log, API tokens.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)
_REFUSAL = "audit log is append-only"

_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER audit_no_{op_name.lower()} BEFORE {op_name} ON audit
    BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END"""
    for op_name in ("UPDATE", "DELETE")
]
_PG_TRIGGERS = [
    f"""CREATE FUNCTION tryggbo_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{_REFUSAL}' USING ERRCODE = 'restrict_violation';
    END
    $$""",
    """CREATE TRIGGER audit_no_update_delete BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION tryggbo_audit_append_only()""",
    """CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION tryggbo_audit_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("ts", _TS, nullable=False),
        sa.Column("device", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("details", _JSON, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_device_id", "events", ["device", "id"])

    op.create_table(
        "audit",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("ts", _TS, nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("command_id", sa.String(), nullable=False),
        sa.Column("device", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("args", _JSON, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('issued', 'resolved')", name="ck_audit_kind"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_command_id", "audit", ["command_id"])
    op.create_index("ix_audit_device_id", "audit", ["device", "id"])

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )

    dialect = op.get_context().dialect.name
    for statement in _PG_TRIGGERS if dialect == "postgresql" else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_no_truncate ON audit")
        op.execute("DROP TRIGGER IF EXISTS audit_no_update_delete ON audit")
        op.execute("DROP FUNCTION IF EXISTS tryggbo_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_no_delete")
    op.drop_table("api_tokens")
    op.drop_index("ix_audit_device_id", table_name="audit")
    op.drop_index("ix_audit_command_id", table_name="audit")
    op.drop_table("audit")
    op.drop_index("ix_events_device_id", table_name="events")
    op.drop_table("events")
