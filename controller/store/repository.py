"""The one repository interface of the store; SQLite and PostgreSQL implement it."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from scheduler.ports import ScheduleStore, ScheduleStoreError

from .alarm_records import AlarmRecord
from .records import (
    ActivityRecord,
    ApiToken,
    AuditRecord,
    EventRecord,
    SessionRecord,
    SetAsideEvent,
    UserChanges,
    UserRecord,
)

if TYPE_CHECKING:
    from .plan_sql import PlanEntryRecord


class StoreError(ScheduleStoreError):
    """The store could not do what was asked (unreachable, unwritable, bad URL); the
    error the scheduler expects of its store port (:mod:`scheduler.ports`)."""


class PeopleStore(Protocol):
    """Users and sessions."""

    #: Bumped by every change to users or API tokens made through this store object
    #: (lets a cache of token principals notice at once; see auth.service).
    auth_generation: int

    async def add_user(self, user: UserRecord) -> bool:
        """Store a new user; False (nothing stored) if the username is taken."""

    async def user_by_name(self, username: str) -> UserRecord | None: ...

    async def user_by_id(self, user_id: str) -> UserRecord | None: ...

    async def list_users(self) -> list[UserRecord]:
        """Every user, by username."""

    async def update_user(self, user_id: str, changes: UserChanges) -> UserRecord | None:
        """Change some fields; the user as now stored, or None if unknown."""

    async def count_login_attempt(
        self, user_id: str, now: datetime, *, lock_after: int, lock_for: timedelta
    ) -> UserRecord | None:
        """Atomically count an attempt as a failure before its password is checked (the
        one reaching ``lock_after`` locks); None, nothing counted, while locked."""

    async def record_successful_login(self, user_id: str) -> None:
        """Reset the failure count and any lock."""

    async def create_session(self, session: SessionRecord) -> None: ...

    async def get_session(self, session_id: str) -> SessionRecord | None:
        """The session with this id (its cookie's SHA-256), revoked or not."""

    async def touch_session(self, session_id: str, now: datetime) -> None:
        """Record activity on a live session."""

    async def revoke_session(self, session_id: str, now: datetime) -> bool:
        """End one session; False if there is no live session with this id."""

    async def revoke_all_for_user(
        self, user_id: str, now: datetime, *, keep: str | None = None
    ) -> int:
        """End every live session of a user (except ``keep``); how many were ended."""


class AlarmStore(Protocol):
    """Alarms and their acknowledgement (never deleted)."""

    async def add_alarm(self, alarm: AlarmRecord) -> AlarmRecord:
        """Store a new alarm; returns it with its id. AlarmConflict carrying the active
        alarm of the same kind and device (or site) if one is stored already."""

    async def repeat_alarm(
        self, alarm_id: int, *, event_key: str | None, now: datetime, keep: int
    ) -> tuple[AlarmRecord, bool]:
        """Count one more event of an active alarm, unless its ``event_key`` was
        counted; the alarm and whether it was counted. AlarmNotFound / AlarmConflict."""

    async def get_alarm(self, alarm_id: int) -> AlarmRecord | None: ...

    async def update_alarm(
        self,
        alarm_id: int,
        *,
        from_states: Collection[str],
        changes: Mapping[str, Any],
        expect_escalations: int | None = None,
        activity: ActivityRecord | None = None,
        wanted: str = "change",
    ) -> AlarmRecord:
        """Change an alarm only if it is in one of ``from_states`` (optimistic check);
        ``activity`` is logged in the same transaction. AlarmNotFound / AlarmConflict."""

    async def active_alarms(self) -> list[AlarmRecord]:
        """Every alarm not closed, oldest first."""

    async def alarms(
        self,
        *,
        limit: int = 100,
        state: str | None = None,
        apartment: str | None = None,
        since: datetime | None = None,
        kinds: Collection[str] | None = None,
        before_id: int | None = None,
    ) -> list[AlarmRecord]:
        """Newest first; ``state`` is ``active``, ``closed``, one state or None (all)."""


class LeaseStore(Protocol):
    """Site-wide duties held by one controller instance at a time (controller/leader.py)."""

    async def acquire_lease(
        self, name: str, holder: str, now: datetime, expires_at: datetime
    ) -> bool:
        """Take or renew ``name`` for ``holder``; False while another holder's runs."""

    async def release_lease(self, name: str, holder: str) -> bool: ...

    async def lease_holder(self, name: str, now: datetime) -> str | None: ...


class PlanStore(Protocol):
    """Staff-entered day-plan entries of the residents (controller/store/plan_sql.py)."""

    async def add_plan_entry(self, entry: PlanEntryRecord) -> PlanEntryRecord: ...
    async def plan_entries(self, apartment: str, day: date | None) -> list[PlanEntryRecord]: ...
    async def delete_plan_entry(self, entry_id: int, apartment: str) -> PlanEntryRecord | None: ...


class Store(PeopleStore, AlarmStore, ScheduleStore, LeaseStore, PlanStore, Protocol):
    """Persistent state of the controller."""

    async def open(self) -> None:
        """Connect and bring the schema to the newest migration."""

    async def close(self) -> None: ...

    async def add_events(self, events: Sequence[EventRecord]) -> None:
        """Append events (one transaction); one whose device and key are stored is
        skipped."""

    async def set_aside_event(self, record: SetAsideEvent) -> None:
        """Keep an event the store refused, with the reason."""

    async def set_aside_events(self, *, limit: int = 100) -> list[SetAsideEvent]:
        """The events the store refused, newest first."""

    async def recent_events(
        self, *, limit: int = 100, device: str | None = None, before_id: int | None = None
    ) -> list[EventRecord]:
        """Newest first."""

    async def append_audit(self, record: AuditRecord) -> int:
        """Append one audit line; returns its id. Audit lines are never changed."""

    async def append_audit_kept(self, record: AuditRecord) -> int:
        """Append an audit line of what has already happened (a command's ``resolved``
        line); returns its id once committed. A failed commit is retried until the line
        is written, never reported to the caller."""

    @property
    def audit_unwritten(self) -> str | None:
        """Why audit lines wait to be written (they are retried), or None."""

    async def audit(
        self,
        *,
        limit: int = 100,
        device: str | None = None,
        command_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        devices: Sequence[str] | None = None,
    ) -> list[AuditRecord]:
        """Newest first; ``devices`` keeps lines of any of these devices."""

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
