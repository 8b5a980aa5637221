"""People and sessions, the append-only activity log, alarms; API tokens get a user.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)
_REFUSAL = "activity log is append-only"


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("username", sa.String(), nullable=False),
        sa.Column("display_name", sa.String(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("roles", _JSON, nullable=False),
        sa.Column("units", _JSON, nullable=False),
        sa.Column("apartments", _JSON, nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("password_changed_at", _TS, nullable=False),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("user_id", sa.String(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("csrf_token", sa.String(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_seen", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.Column("user_agent", sa.String(), nullable=True),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "activity",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("ts", _TS, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("apartment", sa.String(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("details", _JSON, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_activity_actor_id", "activity", ["actor", "id"])
    op.create_index("ix_activity_apartment_id", "activity", ["apartment", "id"])
    op.create_table(
        "alarms",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("apartment", sa.String(), nullable=True),
        sa.Column("device", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("raised_at", _TS, nullable=False),
        sa.Column("details", _JSON, nullable=False),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("last_escalated_at", _TS, nullable=True),
        sa.Column("acked_by", sa.String(), nullable=True),
        sa.Column("acked_at", _TS, nullable=True),
        sa.Column("ack_comment", sa.Text(), nullable=True),
        sa.Column("on_site_by", sa.String(), nullable=True),
        sa.Column("on_site_at", _TS, nullable=True),
        sa.Column("closed_by", sa.String(), nullable=True),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("close_note", sa.Text(), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_alarms_state_id", "alarms", ["state", "id"])
    op.create_index("ix_alarms_device_kind", "alarms", ["device", "kind"])
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            f"""CREATE FUNCTION tryggbo_activity_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{_REFUSAL}' USING ERRCODE = 'restrict_violation';
            END
            $$"""
        )
        op.execute(
            """CREATE TRIGGER activity_no_update_delete BEFORE UPDATE OR DELETE ON activity
            FOR EACH ROW EXECUTE FUNCTION tryggbo_activity_append_only()"""
        )
    else:
        for op_name in ("UPDATE", "DELETE"):
            op.execute(
                f"""CREATE TRIGGER activity_no_{op_name.lower()} BEFORE {op_name} ON activity
                BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END"""
            )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS activity_no_update_delete ON activity")
        op.execute("DROP FUNCTION IF EXISTS tryggbo_activity_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS activity_no_update")
        op.execute("DROP TRIGGER IF EXISTS activity_no_delete")
    op.drop_index("ix_alarms_device_kind", table_name="alarms")
    op.drop_index("ix_alarms_state_id", table_name="alarms")
    op.drop_table("alarms")
    op.drop_index("ix_activity_apartment_id", table_name="activity")
    op.drop_index("ix_activity_actor_id", table_name="activity")
    op.drop_table("activity")
    op.drop_index("ix_sessions_user_id", table_name="sessions")
    op.drop_table("sessions")
    op.drop_table("users")
