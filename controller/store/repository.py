"""The one repository interface of the store; SQLite and PostgreSQL implement it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from .records import ActivityRecord, ApiToken, AuditRecord, EventRecord


class StoreError(RuntimeError):
    """The store could not do what was asked (unreachable, unwritable, bad URL)."""


class PeopleStore(Protocol):
    """Users and sessions."""


class AlarmStore(Protocol):
    """Alarms and their acknowledgement."""


class Store(PeopleStore, AlarmStore, Protocol):
    """Persistent state of the controller."""

    async def open(self) -> None:
        """Connect and bring the schema to the newest migration."""

    async def close(self) -> None: ...

    async def add_events(self, events: Sequence[EventRecord]) -> None:
        """Append events (one transaction)."""

    async def recent_events(
        self, *, limit: int = 100, device: str | None = None, before_id: int | None = None
    ) -> list[EventRecord]:
        """Newest first."""

    async def append_audit(self, record: AuditRecord) -> int:
        """Append one audit line; returns its id. Audit lines are never changed."""

    async def audit(
        self,
        *,
        limit: int = 100,
        device: str | None = None,
        command_id: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditRecord]:
        """Newest first."""

    async def unresolved_commands(self) -> list[AuditRecord]:
        """``issued`` lines that have no ``resolved`` line (in flight at a crash)."""

    async def add_token(self, token: ApiToken) -> None: ...

    async def token_by_hash(self, token_hash: str) -> ApiToken | None: ...

    async def list_tokens(self) -> list[ApiToken]: ...

    async def revoke_token(self, token_id: str, when: datetime) -> bool:
        """Mark a token revoked; False if there is no such token."""

    async def add_activity(self, record: ActivityRecord) -> int:
        """Append one activity line (sign-in, refusal, alarm action...); returns its id."""

    async def activity(
        self,
        *,
        limit: int = 100,
        actor: str | None = None,
        apartment: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
    ) -> list[ActivityRecord]:
        """Newest first."""
