"""At most one active alarm per (kind, device or site): the store decides which of two
controller instances raising the same alarm raised it.

Active alarms already stored twice (two instances before this) keep the newest; the
older copies are closed with a note.

Revision ID: 0007_one_active_alarm
Revises: 0006_event_keys
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0007_one_active_alarm"
down_revision: str | Sequence[str] | None = "0006_event_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = "state IN ('open', 'acknowledged', 'on_site')"


def upgrade() -> None:
    now = datetime.now(UTC)
    closed_at = now.replace(tzinfo=None) if op.get_bind().dialect.name == "sqlite" else now
    op.execute(
        sa.text(
            "UPDATE alarms SET state = 'closed', closed_by = 'tryggbo', closed_at = :now,"
            " close_note = 'duplicate of a newer active alarm (one active alarm per device"
            f" and kind)' WHERE {_ACTIVE} AND EXISTS (SELECT 1 FROM alarms AS newer"
            " WHERE newer.kind = alarms.kind"
            " AND coalesce(newer.device, 'site') = coalesce(alarms.device, 'site')"
            f" AND newer.id > alarms.id AND newer.{_ACTIVE})"
        ).bindparams(now=closed_at)
    )
    op.create_index(
        "ux_alarms_active",
        "alarms",
        ["kind", sa.text("coalesce(device, 'site')")],
        unique=True,
        sqlite_where=sa.text(_ACTIVE),
        postgresql_where=sa.text(_ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("ux_alarms_active", table_name="alarms")
