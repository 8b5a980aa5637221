"""Plain records the store reads and writes (no SQL types leak out of the store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict


class AuditKind(StrEnum):
    #: Written before a command is published.
    ISSUED = "issued"
    #: Written once the command has an outcome.
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class EventRecord:
    """Something a device or the controller reported (door opened, went offline...)."""

    ts: datetime
    device: str
    type: str
    details: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    #: a device event's own key (``seq@device ts``); None for the controller's events
    key: str | None = None


@dataclass(frozen=True, slots=True)
class SetAsideEvent:
    """An event the store refused (a value it cannot hold), kept with the reason."""

    set_aside_at: datetime
    event: EventRecord
    reason: str
    id: int | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One append-only line of the audit log: who ordered what, why, and what came of it."""

    ts: datetime
    kind: AuditKind
    command_id: str
    device: str
    action: str
    actor: str
    args: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    outcome: str | None = None
    error: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An API token's record; only the SHA-256 of the secret is stored."""

    id: str
    name: str
    actor: str
    token_hash: str
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ActivityRecord:
    """One append-only line of what a person did that is not a device command:
    ``signin``, ``signin_failed``, ``signout``, ``refused``, ``alarm_ack``,
    ``alarm_on_site``, ``alarm_close``, ``user_add``..."""

    ts: datetime
    actor: str
    action: str
    subject: str | None = None
    apartment: str | None = None
    reason: str | None = None
    outcome: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A person (or a room screen) who signs in; only an argon2 hash of the password."""

    id: str
    username: str
    display_name: str
    password_hash: str
    #: admin, staff, technician, relative, screen
    roles: tuple[str, ...]
    #: wings the user acts on (staff)
    units: tuple[str, ...]
    #: apartment numbers (relative, screen)
    apartments: tuple[str, ...]
    language: str
    disabled: bool
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime
    password_changed_at: datetime


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A browser session; ``id`` is the SHA-256 of the cookie's secret."""

    id: str
    user_id: str
    csrf_token: str
    created_at: datetime
    last_seen: datetime
    revoked_at: datetime | None = None
    user_agent: str | None = None


class UserChanges(TypedDict, total=False):
    """Fields ``update_user`` may change."""

    display_name: str
    password_hash: str
    password_changed_at: datetime
    roles: tuple[str, ...]
    units: tuple[str, ...]
    apartments: tuple[str, ...]
    language: str
    disabled: bool
    failed_logins: int
    locked_until: datetime | None
