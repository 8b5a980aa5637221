"""Store URLs, the async engine behind them, and running the migrations.

``sqlite:///var/tryggbo.sqlite`` (relative) or ``sqlite:////abs/path.sqlite`` map to
aiosqlite; ``postgresql://user@host/db`` maps to asyncpg. SQLite connections get WAL,
a busy timeout and ``synchronous=NORMAL``; SQLAlchemy (not the sqlite3 module) emits
BEGIN, so DDL is transactional and writers can take the lock up front.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .repository import StoreError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: Milliseconds a SQLite connection waits for another process's lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 10_000
#: Seconds to wait for a PostgreSQL server to answer a connection attempt.
PG_CONNECT_TIMEOUT_S = 10
#: Execution option: begin SQLite transactions with ``BEGIN IMMEDIATE`` (take the write lock).
WRITE_OPTION = "tryggbo_write"
#: Key for PostgreSQL's advisory lock serialising concurrent migrations.
_PG_MIGRATION_LOCK = 0x7479_6767  # "tryg"

_SQLITE_DRIVERS = {"sqlite", "sqlite+aiosqlite"}
_PG_DRIVERS = {"postgresql", "postgres", "postgresql+asyncpg"}


def parse_url(url: str) -> URL:
    """The async SQLAlchemy URL for a store URL; StoreError if it is not one we support."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(f"bad store URL {url!r}: {exc}") from exc
    if parsed.drivername in _SQLITE_DRIVERS:
        return parsed.set(drivername="sqlite+aiosqlite")
    if parsed.drivername in _PG_DRIVERS:
        return parsed.set(drivername="postgresql+asyncpg")
    raise StoreError(
        f"unsupported store URL {parsed.render_as_string(hide_password=True)!r}: "
        "use sqlite:///path/to/file.sqlite or postgresql://user@host/database"
    )


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL, or None for an in-memory database."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def create_engine(url: URL) -> AsyncEngine:
    """An async engine for a URL from :func:`parse_url` (creates a SQLite file's directory)."""
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            try:
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the directory of {path}: {exc}") from exc
            try:
                private_sqlite_files(path)
            except OSError as exc:
                raise StoreError(f"cannot create the store file {path}: {exc}") from exc
        engine = _create(url)
        configure_sqlite(engine.sync_engine)
        return engine
    return _create(url, pool_pre_ping=True, connect_args={"timeout": PG_CONNECT_TIMEOUT_S})


def private_sqlite_files(path: Path) -> None:
    """The store file is its user's alone: created 0600 (SQLite gives its -wal and
    -shm the file's mode), and a store left readable by others (made before this, or
    by hand) tightened to 0600 with its -wal/-shm where we may."""
    with contextlib.suppress(FileExistsError):  # an empty file is a new store
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)
                log.warning("store file %s was readable by others: now 0600", file)
        except FileNotFoundError:
            continue
        except OSError as exc:  # not its owner: say so, the store still opens
            log.warning("store file %s is readable by others, cannot change it: %s", file, exc)


def _create(url: URL, **kwargs: Any) -> AsyncEngine:
    try:
        return create_async_engine(url, **kwargs)
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"the database driver for {url.drivername} is not installed ({exc.name})"
        ) from exc


def configure_sqlite(engine: sa.Engine) -> None:
    """WAL, busy timeout, ``synchronous=NORMAL``, foreign keys; SQLAlchemy emits BEGIN
    (``BEGIN IMMEDIATE`` with :data:`WRITE_OPTION`)."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN (see _on_begin) instead of the sqlite3 module,
        # which skips it for DDL and SELECT.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def alembic_config() -> Config:
    """Alembic configuration built in code, pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    """The newest migration this code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(connection: sa.Connection) -> None:
    """Bring the schema to the newest migration inside ``connection``'s transaction.

    Call through ``AsyncConnection.run_sync``. A no-op when already at head.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
        )
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def current_revision(connection: sa.Connection) -> str | None:
    """The migration the database is at (None before the first). Use via ``run_sync``."""
    return MigrationContext.configure(connection).get_current_revision()
