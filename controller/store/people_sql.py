"""Users and sessions in SQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from . import schema as t
from .access import SqlAccess
from .records import SessionRecord, UserChanges, UserRecord
from .schema import as_utc

_LISTS = ("roles", "units", "apartments")
_TIMES = ("password_changed_at", "locked_until")


def _user_row(changes: UserChanges | UserRecord) -> dict[str, Any]:
    data: dict[str, Any] = (
        dict(changes)
        if isinstance(changes, dict)
        else {f: getattr(changes, f) for f in UserRecord.__dataclass_fields__}
    )
    for key in _LISTS:
        if key in data:
            data[key] = list(data[key])
    for key in (*_TIMES, "created_at"):
        if data.get(key) is not None:
            data[key] = as_utc(data[key])
    return data


def _user(row: sa.RowMapping) -> UserRecord:
    return UserRecord(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        password_hash=row["password_hash"],
        roles=tuple(row["roles"] or ()),
        units=tuple(row["units"] or ()),
        apartments=tuple(row["apartments"] or ()),
        language=row["language"],
        disabled=bool(row["disabled"]),
        failed_logins=int(row["failed_logins"]),
        locked_until=row["locked_until"],
        created_at=row["created_at"],
        password_changed_at=row["password_changed_at"],
    )


def _session(row: sa.RowMapping) -> SessionRecord:
    return SessionRecord(
        id=row["id"],
        user_id=row["user_id"],
        csrf_token=row["csrf_token"],
        created_at=row["created_at"],
        last_seen=row["last_seen"],
        revoked_at=row["revoked_at"],
        user_agent=row["user_agent"],
    )


class PeopleMixin(SqlAccess):
    # -- users ---------------------------------------------------------------------------

    async def add_user(self, user: UserRecord) -> bool:
        """Store a new user; False (nothing stored) if the username is taken."""
        u = t.users.c
        async with self._write(f"add user {user.username}") as conn:
            taken = await conn.execute(sa.select(u.id).where(u.username == user.username))
            if taken.first() is not None:
                return False
            await conn.execute(t.users.insert(), _user_row(user))
            self.auth_generation += 1
            return True

    async def user_by_name(self, username: str) -> UserRecord | None:
        query = sa.select(t.users).where(t.users.c.username == username)
        async with self._read("look up a user") as conn:
            row = (await conn.execute(query)).mappings().first()
            return None if row is None else _user(row)

    async def user_by_id(self, user_id: str) -> UserRecord | None:
        query = sa.select(t.users).where(t.users.c.id == user_id)
        async with self._read("look up a user") as conn:
            row = (await conn.execute(query)).mappings().first()
            return None if row is None else _user(row)

    async def list_users(self) -> list[UserRecord]:
        """Every user, by username."""
        query = sa.select(t.users).order_by(t.users.c.username)
        async with self._read("list users") as conn:
            return [_user(r) for r in (await conn.execute(query)).mappings()]

    async def update_user(self, user_id: str, changes: UserChanges) -> UserRecord | None:
        """Change some fields of a user; the user as now stored, or None if unknown."""
        u = t.users.c
        self.auth_generation += 1
        async with self._write(f"update user {user_id}") as conn:
            if changes:
                await conn.execute(
                    sa.update(t.users).where(u.id == user_id).values(**_user_row(changes))
                )
            row = (await conn.execute(sa.select(t.users).where(u.id == user_id))).mappings().first()
        self.auth_generation += 1  # before and after: a lookup spanning the write sees it
        return None if row is None else _user(row)

    async def count_login_attempt(
        self, user_id: str, now: datetime, *, lock_after: int, lock_for: timedelta
    ) -> UserRecord | None:
        """Count one more consecutive failure *before* the password is checked, in one
        atomic UPDATE; the attempt that reaches ``lock_after`` locks the account until
        ``now + lock_for`` at once (a sign-in that then succeeds clears it). None, and
        nothing counted, while the account is locked (or the user is gone)."""
        u = t.users.c
        async with self._write(f"count a sign-in attempt of {user_id}") as conn:
            counted = await conn.execute(
                sa.update(t.users)
                .where(u.id == user_id, sa.or_(u.locked_until.is_(None), u.locked_until <= now))
                .values(
                    failed_logins=u.failed_logins + 1,
                    locked_until=sa.case(
                        (u.failed_logins + 1 >= lock_after, as_utc(now + lock_for)),
                        else_=u.locked_until,
                    ),
                )
            )
            if counted.rowcount == 0:
                return None
            row = (await conn.execute(sa.select(t.users).where(u.id == user_id))).mappings().first()
            return None if row is None else _user(row)

    async def record_successful_login(self, user_id: str) -> None:
        """Reset the failure count and any lock."""
        query = (
            sa.update(t.users)
            .where(t.users.c.id == user_id)
            .values(failed_logins=0, locked_until=None)
        )
        async with self._write(f"record a sign-in of {user_id}") as conn:
            await conn.execute(query)

    # -- sessions ------------------------------------------------------------------------

    async def create_session(self, session: SessionRecord) -> None:
        row = {
            "id": session.id,
            "user_id": session.user_id,
            "csrf_token": session.csrf_token,
            "created_at": as_utc(session.created_at),
            "last_seen": as_utc(session.last_seen),
            "revoked_at": None if session.revoked_at is None else as_utc(session.revoked_at),
            "user_agent": session.user_agent,
        }
        async with self._write("create a session") as conn:
            await conn.execute(t.sessions.insert(), row)

    async def get_session(self, session_id: str) -> SessionRecord | None:
        """The session with this id (its cookie's SHA-256), revoked or not."""
        query = sa.select(t.sessions).where(t.sessions.c.id == session_id)
        async with self._read("look up a session") as conn:
            row = (await conn.execute(query)).mappings().first()
            return None if row is None else _session(row)

    async def touch_session(self, session_id: str, now: datetime) -> None:
        """Record activity on a live session (never moves ``last_seen`` back)."""
        s = t.sessions.c
        query = (
            sa.update(t.sessions)
            .where(s.id == session_id, s.revoked_at.is_(None), s.last_seen < as_utc(now))
            .values(last_seen=as_utc(now))
        )
        async with self._write("touch a session") as conn:
            await conn.execute(query)

    async def revoke_session(self, session_id: str, now: datetime) -> bool:
        """End one session; False if there is no live session with this id."""
        s = t.sessions.c
        query = (
            sa.update(t.sessions)
            .where(s.id == session_id, s.revoked_at.is_(None))
            .values(revoked_at=as_utc(now))
        )
        async with self._write("revoke a session") as conn:
            return (await conn.execute(query)).rowcount > 0

    async def revoke_all_for_user(
        self, user_id: str, now: datetime, *, keep: str | None = None
    ) -> int:
        """End every live session of a user (except ``keep``); how many were ended."""
        s = t.sessions.c
        query = (
            sa.update(t.sessions)
            .where(s.user_id == user_id, s.revoked_at.is_(None))
            .values(revoked_at=as_utc(now))
        )
        if keep is not None:
            query = query.where(s.id != keep)
        async with self._write(f"revoke the sessions of {user_id}") as conn:
            return int((await conn.execute(query)).rowcount)
