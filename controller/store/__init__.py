"""Persistent state: events, the append-only audit log, API tokens (SQLite or PostgreSQL)."""

from .records import (
    ActivityRecord,
    ApiToken,
    AuditKind,
    AuditRecord,
    EventRecord,
    SetAsideEvent,
)
from .repository import Store, StoreError
from .sql import SqlStore, open_store

__all__ = [
    "ActivityRecord",
    "ApiToken",
    "AuditKind",
    "AuditRecord",
    "EventRecord",
    "SetAsideEvent",
    "SqlStore",
    "Store",
    "StoreError",
    "open_store",
]
