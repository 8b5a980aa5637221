"""The store on SQLAlchemy Core's asyncio engine: SQLite by default, PostgreSQL alike."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import engine as db
from . import schema as t
from .activity_sql import ActivityMixin
from .alarms_sql import AlarmsMixin
from .calls_sql import CallsMixin
from .group_commit import GroupCommit
from .leases_sql import LeaseMixin
from .live import live_channel
from .one_hop import OneHopWriter
from .people_sql import PeopleMixin
from .plan_sql import PlanMixin
from .records import ApiToken, AuditKind, AuditRecord, EventRecord, SetAsideEvent
from .repository import StoreError
from .schedules_sql import ScheduleMixin
from .schema import as_utc
from .write_gate import WriteGate

log = logging.getLogger(__name__)

#: audit transactions of at most this many rows (a lone command's line) are committed
#: on the event loop itself rather than handed to the writer thread (one_hop.py)
INLINE_AUDIT_ROWS = 4


class SqlStore(
    ActivityMixin, PeopleMixin, AlarmsMixin, ScheduleMixin, CallsMixin, LeaseMixin, PlanMixin
):
    """:class:`~controller.store.repository.Store` on SQLite or PostgreSQL.

    ``SqlStore("sqlite:///var/tryggbo.sqlite")`` only checks the URL; :meth:`open`
    connects and migrates. Usable as ``async with SqlStore(url) as store``.
    """

    def __init__(self, url: str) -> None:
        self._url = db.parse_url(url)
        self._engine: AsyncEngine | None = None
        self._writer: AsyncEngine | None = None
        # A :memory: SQLite database is one shared connection: one operation at a time.
        memory = self._url.get_backend_name() == "sqlite" and db.sqlite_path(self._url) is None
        self._lock: asyncio.Lock | None = asyncio.Lock() if memory else None
        # SQLite writers of this process take turns here, the audit first (write_gate).
        sqlite_file = self._url.get_backend_name() == "sqlite" and not memory
        self._gate: WriteGate | None = WriteGate() if sqlite_file else None
        self._audit_commits = GroupCommit(self._insert_audit, "audit line")
        #: the audit lines of a SQLite file: one thread hop per transaction (one_hop)
        self._one_hop: OneHopWriter | None = None
        self.auth_generation = 0
        self.instance_id = uuid.uuid4().hex
        if self._url.get_backend_name() == "postgresql":
            self.live_channel = live_channel(db.pg_schema(self._url))

    @property
    def url(self) -> str:
        """The database URL (password hidden)."""
        return self._url.render_as_string(hide_password=True)

    def pg_dsn(self) -> str:
        """A PostgreSQL store's connection string for a connection of one's own (e.g.
        ``LISTEN``, controller/live_relay.py): libpq form, password included."""
        plain = db.without_schema(self._url.set(drivername="postgresql"))
        return plain.render_as_string(hide_password=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._url.get_backend_name()

    def __repr__(self) -> str:
        return f"SqlStore({self.url!r})"

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        """Connect and bring the schema to the newest migration (idempotent)."""
        if self._engine is not None:
            return
        engine = db.create_engine(self._url)
        writer = engine.execution_options(**{db.WRITE_OPTION: True})
        try:
            async with writer.begin() as conn:
                before = await conn.run_sync(db.current_revision)
                await conn.run_sync(db.upgrade, db.pg_schema(self._url))
                after = await conn.run_sync(db.current_revision)
        except (SQLAlchemyError, OSError, db.MigrationFailed) as exc:
            await engine.dispose()
            raise StoreError(f"cannot open the store at {self.url}: {_reason(exc)}") from exc
        except BaseException:
            await engine.dispose()
            raise
        if before != after:
            log.info("store %s migrated from %s to %s", self.url, before, after)
        self._engine, self._writer = engine, writer
        if self._gate is not None:
            self._one_hop = OneHopWriter(self._url)

    async def close(self) -> None:
        """Release all connections (idempotent), after one more try of the queued audit
        lines."""
        await self._audit_commits.close()
        engine, self._engine, self._writer = self._engine, None, None
        one_hop, self._one_hop = self._one_hop, None
        if one_hop is not None:
            await asyncio.to_thread(one_hop.close)
        if engine is not None:
            await engine.dispose()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def schema_revision(self) -> str | None:
        """The migration the database is at."""
        async with self._read("read the schema revision") as conn:
            return await conn.run_sync(db.current_revision)

    # -- events --------------------------------------------------------------------------

    async def add_events(self, records: Sequence[EventRecord]) -> None:
        """Append events (one transaction); an event whose device and key are stored
        already is skipped (delivered again after a crash)."""
        if not records:
            return
        rows = [
            {
                "ts": as_utc(r.ts),
                "device": r.device,
                "type": r.type,
                "details": r.details,
                "key": r.key,
            }
            for r in records
        ]
        async with self._write(f"store {len(rows)} events") as conn:
            await conn.execute(t.insert_ignore(conn, t.events), rows)

    async def set_aside_event(self, record: SetAsideEvent) -> None:
        """Keep an event the store refused, with the reason (details as JSON text,
        values JSON cannot hold written as text)."""
        event = record.event
        row = {
            "set_aside_at": as_utc(record.set_aside_at),
            "ts": as_utc(event.ts),
            "device": event.device[:200],
            "type": event.type[:200],
            "key": event.key,
            "details": json.dumps(event.details, default=repr),
            "reason": record.reason[:2000],
        }
        async with self._write("set aside an event", urgent=True) as conn:
            await conn.execute(t.set_aside_events.insert(), row)

    async def set_aside_events(self, *, limit: int = 100) -> list[SetAsideEvent]:
        """The events the store refused, newest first."""
        c = t.set_aside_events.c
        query = sa.select(t.set_aside_events).order_by(c.id.desc()).limit(limit)
        async with self._read("read set-aside events") as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            SetAsideEvent(
                id=row["id"],
                set_aside_at=row["set_aside_at"],
                reason=row["reason"],
                event=EventRecord(
                    ts=row["ts"],
                    device=row["device"],
                    type=row["type"],
                    key=row["key"],
                    details={"raw": row["details"]},
                ),
            )
            for row in rows
        ]

    async def recent_events(
        self, *, limit: int = 100, device: str | None = None, before_id: int | None = None
    ) -> list[EventRecord]:
        """Newest first (by id); ``before_id`` pages back from an earlier answer."""
        query = sa.select(t.events).order_by(t.events.c.id.desc()).limit(limit)
        if device is not None:
            query = query.where(t.events.c.device == device)
        if before_id is not None:
            query = query.where(t.events.c.id < before_id)
        async with self._read("read events") as conn:
            result = await conn.execute(query)
            return [_event(row) for row in result.mappings()]

    # -- audit ---------------------------------------------------------------------------

    async def append_audit(self, record: AuditRecord) -> int:
        """Append one audit line; returns its id once committed. Audit lines are never
        changed. Concurrent appends share a transaction (group commit)."""
        return await self._audit_commits.submit(_audit_row(record))

    async def append_audit_kept(self, record: AuditRecord) -> int:
        """Append an audit line of what has already happened; returns its id once
        committed. A failed commit keeps the line and retries it (backing off) until it
        is written; :attr:`audit_unwritten` says so meanwhile."""
        return await self._audit_commits.submit_kept(_audit_row(record))

    @property
    def audit_unwritten(self) -> str | None:
        """Why audit lines wait to be written (they are retried), or None."""
        return self._audit_commits.failing

    async def _insert_audit(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        what = f"append {len(rows)} audit lines"
        work = functools.partial(_insert_audit_rows, rows=rows)
        if self._one_hop is not None and self._gate is not None:  # a SQLite file
            async with self._gate.hold(urgent=True), self._guard(what):
                return await self._one_hop.run(work, inline=len(rows) <= INLINE_AUDIT_ROWS)
        async with self._write(what, urgent=True) as conn:
            return await conn.run_sync(work)

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
        """Newest first (by id); ``since <= ts < until``; ``devices`` keeps lines of any
        of these devices."""
        query = sa.select(t.audit).order_by(t.audit.c.id.desc()).limit(limit)
        if device is not None:
            query = query.where(t.audit.c.device == device)
        if devices is not None:
            query = query.where(t.audit.c.device.in_(list(devices)))
        if command_id is not None:
            query = query.where(t.audit.c.command_id == command_id)
        if actor is not None:
            query = query.where(t.audit.c.actor == actor)
        if since is not None:
            query = query.where(t.audit.c.ts >= as_utc(since))
        if until is not None:
            query = query.where(t.audit.c.ts < as_utc(until))
        async with self._read("read the audit log") as conn:
            result = await conn.execute(query)
            return [_audit(row) for row in result.mappings()]

    async def unresolved_commands(self) -> list[AuditRecord]:
        """``issued`` lines with no ``resolved`` line for their command, oldest first."""
        resolved = t.audit.alias("resolved")
        query = (
            sa.select(t.audit)
            .where(t.audit.c.kind == AuditKind.ISSUED.value)
            .where(
                ~sa.exists().where(
                    resolved.c.command_id == t.audit.c.command_id,
                    resolved.c.kind == AuditKind.RESOLVED.value,
                )
            )
            .order_by(t.audit.c.id)
        )
        async with self._read("find unresolved commands") as conn:
            result = await conn.execute(query)
            return [_audit(row) for row in result.mappings()]

    # -- API tokens ----------------------------------------------------------------------

    async def add_token(self, token: ApiToken) -> None:
        """Store a new token; StoreError if its id or hash exists already."""
        row = {
            "id": token.id,
            "name": token.name,
            "actor": token.actor,
            "token_hash": token.token_hash,
            "created_at": as_utc(token.created_at),
            "revoked_at": None if token.revoked_at is None else as_utc(token.revoked_at),
        }
        async with self._write(f"add API token {token.id}") as conn:
            await conn.execute(t.api_tokens.insert(), row)

    async def token_by_hash(self, token_hash: str) -> ApiToken | None:
        """The token with this hash, revoked or not (the caller checks ``revoked_at``)."""
        query = sa.select(t.api_tokens).where(t.api_tokens.c.token_hash == token_hash)
        async with self._read("look up an API token") as conn:
            row = (await conn.execute(query)).mappings().first()
            return None if row is None else _token(row)

    async def list_tokens(self) -> list[ApiToken]:
        """All tokens, oldest first, revoked ones included."""
        query = sa.select(t.api_tokens).order_by(t.api_tokens.c.created_at, t.api_tokens.c.id)
        async with self._read("list API tokens") as conn:
            result = await conn.execute(query)
            return [_token(row) for row in result.mappings()]

    async def revoke_token(self, token_id: str, when: datetime) -> bool:
        """Mark a token revoked (keeps an earlier revocation time); False if unknown."""
        query = (
            sa.update(t.api_tokens)
            .where(t.api_tokens.c.id == token_id)
            .values(revoked_at=sa.func.coalesce(t.api_tokens.c.revoked_at, as_utc(when)))
        )
        self.auth_generation += 1
        async with self._write(f"revoke API token {token_id}") as conn:
            result = await conn.execute(query)
            revoked = result.rowcount > 0
        self.auth_generation += 1
        return revoked

    # -- plumbing ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _read(self, what: str) -> AsyncIterator[AsyncConnection]:
        if self._engine is None:
            raise StoreError(f"cannot {what}: the store is not open")
        async with self._guard(what), self._engine.connect() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _write(self, what: str, *, urgent: bool = False) -> AsyncIterator[AsyncConnection]:
        if self._writer is None:
            raise StoreError(f"cannot {what}: the store is not open")
        async with (
            self._gate.hold(urgent=urgent) if self._gate else contextlib.nullcontext(),
            self._guard(what),
            self._writer.begin() as conn,
        ):
            yield conn

    @contextlib.asynccontextmanager
    async def _guard(self, what: str) -> AsyncIterator[None]:
        """Serialise for :memory: databases; turn database errors into StoreError."""
        async with self._lock or contextlib.nullcontext():
            try:
                yield
            except (SQLAlchemyError, OSError) as exc:
                raise StoreError(f"cannot {what} ({self.url}): {_reason(exc)}") from exc


def _insert_audit_rows(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert audit lines; their ids in the rows' order."""
    if len(rows) == 1:
        result = conn.execute(t.audit.insert().returning(t.audit.c.id), rows[0])
        return [int(result.scalar_one())]
    # one multi-row INSERT ("insertmanyvalues"), ids in the rows' order
    insert = t.audit.insert().returning(t.audit.c.id, sort_by_parameter_order=True)
    return [int(row_id) for row_id in conn.execute(insert, list(rows)).scalars()]


def _reason(exc: BaseException) -> str:
    """The driver's message without SQLAlchemy's statement dump."""
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).strip() or type(exc).__name__


def _event(row: sa.RowMapping) -> EventRecord:
    return EventRecord(
        id=row["id"],
        ts=row["ts"],
        device=row["device"],
        type=row["type"],
        details=dict(row["details"] or {}),
        key=row["key"],
    )


def _audit(row: sa.RowMapping) -> AuditRecord:
    return AuditRecord(
        id=row["id"],
        ts=row["ts"],
        kind=AuditKind(row["kind"]),
        command_id=row["command_id"],
        device=row["device"],
        action=row["action"],
        actor=row["actor"],
        args=dict(row["args"] or {}),
        reason=row["reason"],
        outcome=row["outcome"],
        error=row["error"],
    )


def _token(row: sa.RowMapping) -> ApiToken:
    return ApiToken(
        id=row["id"],
        name=row["name"],
        actor=row["actor"],
        token_hash=row["token_hash"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


def open_store(url: str) -> SqlStore:
    """The store for a URL, not yet opened (call ``await store.open()``)."""
    return SqlStore(url)


def _audit_row(record: AuditRecord) -> dict[str, Any]:
    return {
        "ts": as_utc(record.ts),
        "kind": AuditKind(record.kind).value,
        "command_id": record.command_id,
        "device": record.device,
        "action": record.action,
        "actor": record.actor,
        "args": record.args,
        "reason": record.reason,
        "outcome": record.outcome,
        "error": record.error,
    }
