"""Invitations for relatives' video calls, their signing key and staff-set visiting
hours, in SQL (tables of migration ``0004_calls``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from . import schema as t
from .access import SqlAccess

call_invitations = sa.Table(
    "call_invitations",
    t.metadata,
    sa.Column("id", sa.String(), primary_key=True),
    sa.Column("apartment", sa.String(), nullable=False, index=True),
    sa.Column("resident", sa.String(), nullable=False),
    sa.Column("relative", sa.String(), nullable=False),
    sa.Column("created_by", sa.String(), nullable=False),
    sa.Column("created_at", t.UtcDateTime(), nullable=False),
    sa.Column("expires_at", t.UtcDateTime(), nullable=False),
    sa.Column("revoked_at", t.UtcDateTime(), nullable=True),
    sa.Column("revoked_by", sa.String(), nullable=True),
)

#: One row: the HMAC key that signs invitation links (made on first use).
call_keys = sa.Table(
    "call_keys",
    t.metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("key_hex", sa.String(), nullable=False),
    sa.Column("created_at", t.UtcDateTime(), nullable=False),
)

visiting_hours = sa.Table(
    "visiting_hours",
    t.metadata,
    sa.Column("apartment", sa.String(), primary_key=True),
    sa.Column("windows", t.Json, nullable=False),
    sa.Column("set_by", sa.String(), nullable=False),
    sa.Column("set_at", t.UtcDateTime(), nullable=False),
)


@dataclass(frozen=True, slots=True)
class InvitationRecord:
    id: str
    apartment: str
    resident: str
    relative: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None


def _invitation(row: sa.RowMapping) -> InvitationRecord:
    return InvitationRecord(**{c: row[c] for c in InvitationRecord.__slots__})


class CallsMixin(SqlAccess):
    async def call_signing_key(self, now: datetime) -> bytes:
        """The invitation signing key, made (32 random bytes) on first use."""
        async with self._write("read the call signing key") as conn:
            row = (await conn.execute(sa.select(call_keys.c.key_hex))).first()
            if row is None:
                key = secrets.token_hex(32)
                await conn.execute(call_keys.insert(), {"id": 1, "key_hex": key, "created_at": now})
                return bytes.fromhex(key)
            return bytes.fromhex(row[0])

    async def add_invitation(self, record: InvitationRecord) -> None:
        async with self._write(f"add invitation {record.id}") as conn:
            await conn.execute(
                call_invitations.insert(),
                {c: getattr(record, c) for c in InvitationRecord.__slots__},
            )

    async def get_invitation(self, invitation_id: str) -> InvitationRecord | None:
        async with self._read(f"read invitation {invitation_id}") as conn:
            row = (
                (
                    await conn.execute(
                        sa.select(call_invitations).where(call_invitations.c.id == invitation_id)
                    )
                )
                .mappings()
                .first()
            )
        return _invitation(row) if row else None

    async def list_invitations(self, apartment: str | None = None) -> list[InvitationRecord]:
        query = sa.select(call_invitations).order_by(call_invitations.c.created_at.desc())
        if apartment is not None:
            query = query.where(call_invitations.c.apartment == apartment)
        async with self._read("list invitations") as conn:
            rows = (await conn.execute(query.limit(500))).mappings().all()
        return [_invitation(r) for r in rows]

    async def revoke_invitation(
        self, invitation_id: str, *, by: str, at: datetime
    ) -> InvitationRecord | None:
        """Revoke (once; a second revoke keeps the first time); the record or None."""
        async with self._write(f"revoke invitation {invitation_id}") as conn:
            await conn.execute(
                call_invitations.update()
                .where(call_invitations.c.id == invitation_id)
                .where(call_invitations.c.revoked_at.is_(None))
                .values(revoked_at=at, revoked_by=by)
            )
            row = (
                (
                    await conn.execute(
                        sa.select(call_invitations).where(call_invitations.c.id == invitation_id)
                    )
                )
                .mappings()
                .first()
            )
        return _invitation(row) if row else None

    async def get_visiting_hours(self) -> dict[str, list[str]]:
        """Staff-set visiting hours: apartment -> windows."""
        async with self._read("read visiting hours") as conn:
            rows = (await conn.execute(sa.select(visiting_hours))).mappings().all()
        return {r["apartment"]: list(r["windows"]) for r in rows}

    async def set_visiting_hours(
        self, apartment: str, windows: list[str] | None, *, by: str, at: datetime
    ) -> None:
        """Set (or with None, clear back to the site file's) an apartment's hours."""
        async with self._write(f"set visiting hours of {apartment}") as conn:
            await conn.execute(
                visiting_hours.delete().where(visiting_hours.c.apartment == apartment)
            )
            if windows is not None:
                await conn.execute(
                    visiting_hours.insert(),
                    {"apartment": apartment, "windows": windows, "set_by": by, "set_at": at},
                )
