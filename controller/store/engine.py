"""Store URLs, the async engine behind them, and running the migrations.

``sqlite:///var/tryggbo.sqlite`` (relative) or ``sqlite:////abs/path.sqlite`` map to
aiosqlite; ``postgresql://user@host/db`` maps to asyncpg. Several homes share one
PostgreSQL database with one schema each: ``postgresql://user@host/db?schema=solgarden``
makes that schema the connection's whole ``search_path`` (no ``public`` behind it), so
every table, migration and query of the store is the site's own (docs/architecture.md,
"Many homes"). SQLite connections get WAL,
a busy timeout and ``synchronous=NORMAL``; SQLAlchemy (not the sqlite3 module) emits
BEGIN, so DDL is transactional and writers can take the lock up front.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .repository import StoreError

if TYPE_CHECKING:  # alembic (with Mako and Pygments) is imported only to migrate
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: Alembic's table holding the store's migration.
VERSION_TABLE = "alembic_version"
#: Milliseconds a SQLite connection waits for another process's lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 10_000
#: Seconds to wait for a PostgreSQL server to answer a connection attempt.
PG_CONNECT_TIMEOUT_S = 10
#: Execution option: begin SQLite transactions with ``BEGIN IMMEDIATE`` (take the write lock).
WRITE_OPTION = "tryggbo_write"
#: Key for PostgreSQL's advisory lock serialising concurrent migrations.
_PG_MIGRATION_LOCK = 0x7479_6767  # "tryg"

#: The PostgreSQL URL option naming the site's schema.
SCHEMA_OPTION = "schema"
#: A schema name needing no quoting, and not one of PostgreSQL's own (``pg_*``).
_SCHEMA_NAME = re.compile(r"(?!pg_)[a-z_][a-z0-9_]{0,62}")

_SQLITE_DRIVERS = {"sqlite", "sqlite+aiosqlite"}
_PG_DRIVERS = {"postgresql", "postgres", "postgresql+asyncpg"}


def parse_url(url: str) -> URL:
    """The async SQLAlchemy URL for a store URL; StoreError if it is not one we support."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(f"bad store URL {url!r}: {exc}") from exc
    schema = parsed.query.get(SCHEMA_OPTION)
    if parsed.drivername in _SQLITE_DRIVERS:
        if schema is not None:
            raise StoreError("the schema option is for PostgreSQL; a SQLite store is one file")
        return parsed.set(drivername="sqlite+aiosqlite")
    if parsed.drivername in _PG_DRIVERS:
        if schema is not None and (not isinstance(schema, str) or not is_plain_name(schema)):
            raise StoreError(
                f"bad schema {schema!r} in the store URL: lower-case letters, digits and _ "
                "(at most 63, not starting with a digit or pg_)"
            )
        return parsed.set(drivername="postgresql+asyncpg")
    raise StoreError(
        f"unsupported store URL {parsed.render_as_string(hide_password=True)!r}: "
        "use sqlite:///path/to/file.sqlite or postgresql://user@host/database"
    )


def is_plain_name(name: str) -> bool:
    """A PostgreSQL schema or role name Tryggbo accepts: lower-case letters, digits and
    ``_`` (at most 63, not starting with a digit or ``pg_``), so it needs no quoting."""
    return _SCHEMA_NAME.fullmatch(name) is not None


def pg_schema(url: URL) -> str | None:
    """The site's schema a PostgreSQL URL names (``?schema=``), or None (the server's
    default ``search_path``, i.e. ``public``: one home in its own database)."""
    schema = url.query.get(SCHEMA_OPTION)
    return schema if isinstance(schema, str) else None


def without_schema(url: URL) -> URL:
    """``url`` without the ``schema`` option (which drivers and libpq do not know)."""
    return url.difference_update_query([SCHEMA_OPTION])


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
    connect_args: dict[str, Any] = {"timeout": PG_CONNECT_TIMEOUT_S}
    schema = pg_schema(url)
    if schema is not None:  # set at connect: every connection of the pool is the site's
        connect_args["server_settings"] = {"search_path": schema}
    return _create(without_schema(url), pool_pre_ping=True, connect_args=connect_args)


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


class MigrationFailed(StoreError):
    """Alembic could not bring the store to the newest migration (e.g. the store is at
    a migration this code does not know)."""


def alembic_config() -> Config:
    """Alembic configuration built in code, pointing at the packaged migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@functools.cache
def migrations() -> dict[str, tuple[str, ...]]:
    """Each migration this code has -> the migrations it follows, read from the files'
    ``revision`` and ``down_revision`` (without importing alembic; checked against
    alembic's own reading by tests/store/test_sql_store.py)."""
    out: dict[str, tuple[str, ...]] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        names = _module_constants(path, ("revision", "down_revision"))
        down = names.get("down_revision")
        out[names["revision"]] = (
            () if down is None else (down,) if isinstance(down, str) else tuple(down)
        )
    return out


def _module_constants(path: Path, wanted: tuple[str, ...]) -> dict[str, Any]:
    """The literal values of a Python file's module-level assignments to ``wanted``."""
    out = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in wanted:
            out[target.id] = ast.literal_eval(value)
    return out


def head_revision() -> str | None:
    """The newest migration this code knows."""
    revisions = migrations()
    followed = {down for downs in revisions.values() for down in downs}
    heads = [rev for rev in revisions if rev not in followed]
    if len(heads) > 1:
        raise StoreError(f"the migrations have more than one head: {sorted(heads)}")
    return heads[0] if heads else None


def upgrade(connection: sa.Connection, schema: str | None = None) -> None:
    """Bring the store to the newest migration inside ``connection``'s transaction,
    creating the site's PostgreSQL ``schema`` first if it is named and missing (each
    site's schema is migrated on its own, by its own daemon).

    Call through ``AsyncConnection.run_sync``. A no-op when already at head: alembic
    is imported only when there is something to migrate (or the store is at a
    migration this code does not know: :class:`MigrationFailed`).
    """
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
        )
        if schema is not None:
            _ensure_schema(connection, schema)
    if current_revision(connection) == head_revision():
        return
    from alembic import command
    from alembic.util import CommandError

    config = alembic_config()
    config.attributes["connection"] = connection
    try:
        command.upgrade(config, "head")
    except CommandError as exc:
        raise MigrationFailed(str(exc)) from exc


def _ensure_schema(connection: sa.Connection, schema: str) -> None:
    """Create the site's schema if missing; StoreError if it is another role's."""
    query = sa.text(
        "SELECT has_schema_privilege(oid, 'USAGE') FROM pg_namespace WHERE nspname = :name"
    )
    usable = connection.execute(query, {"name": schema}).scalar()
    if usable is None:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    elif not usable:
        raise StoreError(f"schema {schema} is not this database role's (permission denied)")


def current_revision(connection: sa.Connection) -> str | None:
    """The migration the database is at (None before the first), read from alembic's
    version table (in the connection's ``search_path`` on PostgreSQL, as alembic reads
    it). Use via ``run_sync``."""
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(rows) > 1:
        raise StoreError(f"the store is at more than one migration: {sorted(rows)}")
    return rows[0] if rows else None
