"""Leases in SQL: one atomic upsert takes or renews a lease (SQLite and PostgreSQL).

``INSERT ... ON CONFLICT (name) DO UPDATE ... WHERE holder = me OR expires_at < now``:
the row is written only for its holder or once it has expired, and the statement is
atomic on both databases, so two instances can never both hold it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from . import schema as t
from .access import SqlAccess
from .schema import as_utc


class LeaseMixin(SqlAccess):
    async def acquire_lease(
        self, name: str, holder: str, now: datetime, expires_at: datetime
    ) -> bool:
        """Take or renew lease ``name`` for ``holder`` until ``expires_at``; True if
        ``holder`` holds it now, False while another holder's lease runs."""
        async with self._write(f"take lease {name}") as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            insert = dialect.insert(t.leases).values(
                name=name, holder=holder, expires_at=as_utc(expires_at)
            )
            upsert = insert.on_conflict_do_update(
                index_elements=[t.leases.c.name],
                set_={"holder": holder, "expires_at": as_utc(expires_at)},
                where=sa.or_(t.leases.c.holder == holder, t.leases.c.expires_at < as_utc(now)),
            )
            result = await conn.execute(upsert)
            return result.rowcount > 0

    async def release_lease(self, name: str, holder: str) -> bool:
        """Give lease ``name`` up (only its holder can); True if it was held."""
        async with self._write(f"release lease {name}") as conn:
            result = await conn.execute(
                t.leases.delete().where(t.leases.c.name == name, t.leases.c.holder == holder)
            )
            return result.rowcount > 0

    async def lease_holder(self, name: str, now: datetime) -> str | None:
        """Who holds lease ``name`` at ``now`` (None: nobody, or expired)."""
        async with self._read(f"read lease {name}") as conn:
            row = (
                await conn.execute(
                    sa.select(t.leases.c.holder).where(
                        t.leases.c.name == name, t.leases.c.expires_at >= as_utc(now)
                    )
                )
            ).first()
            return None if row is None else str(row[0])
