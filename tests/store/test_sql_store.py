"""SqlStore against a temporary SQLite file and a real PostgreSQL (tests/store/conftest.py:
the suite starts one, or uses TRYGGBO_TEST_PG_URL).

For PostgreSQL each test gets a scratch database created next to the one in the URL
(the role needs CREATEDB), e.g. ``TRYGGBO_TEST_PG_URL=postgresql://postgres@127.0.0.1/test``.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from controller.store import (
    ApiToken,
    AuditKind,
    AuditRecord,
    EventRecord,
    SqlStore,
    Store,
    StoreError,
    open_store,
)
from controller.store.engine import alembic_config, head_revision, migrations, parse_url
from controller.store.plan_sql import PlanEntryRecord

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[SqlStore]:
    async with SqlStore(db_url) as opened:
        yield opened


@asynccontextmanager
async def raw_engine(url: str) -> AsyncIterator[AsyncEngine]:
    """A plain engine on the same database, bypassing the store."""
    engine = create_async_engine(parse_url(url))
    try:
        yield engine
    finally:
        await engine.dispose()


def issued(command_id: str, device: str = "lock-101", minutes: int = 0) -> AuditRecord:
    return AuditRecord(
        ts=T0 + timedelta(minutes=minutes),
        kind=AuditKind.ISSUED,
        command_id=command_id,
        device=device,
        action="unlock",
        actor="nurse:anna",
        args={"for_s": 5},
        reason="resident asked",
    )


def resolved(command_id: str, device: str = "lock-101", minutes: int = 1) -> AuditRecord:
    return AuditRecord(
        ts=T0 + timedelta(minutes=minutes),
        kind=AuditKind.RESOLVED,
        command_id=command_id,
        device=device,
        action="unlock",
        actor="nurse:anna",
        args={"for_s": 5},
        reason="resident asked",
        outcome="ok",
    )


def token(n: int, **changes: object) -> ApiToken:
    fields: dict[str, object] = {
        "id": f"tok{n}",
        "name": f"token {n}",
        "actor": f"app:{n}",
        "token_hash": f"{n:064x}",
        "created_at": T0 + timedelta(days=n),
    }
    return ApiToken(**(fields | changes))  # type: ignore[arg-type]


async def test_is_a_store_and_open_store_does_not_connect(tmp_path: Path) -> None:
    path = tmp_path / "never" / "db.sqlite"
    store: Store = open_store(f"sqlite:///{path}")
    assert isinstance(store, SqlStore)
    assert not path.parent.exists()
    with pytest.raises(StoreError, match="not open"):
        await store.recent_events()


def test_migrations_read_from_the_files_are_alembics() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    assert migrations() == {
        rev.revision: rev._normalized_down_revisions for rev in script.walk_revisions()
    }
    assert head_revision() == script.get_current_head()


async def test_a_store_at_the_newest_migration_opens_without_alembic(db_url: str) -> None:
    async with SqlStore(db_url):  # creates and migrates the store
        pass
    code = (
        "import asyncio, sys\n"
        "from controller.store import SqlStore\n"
        "async def main():\n"
        "    async with SqlStore(sys.argv[1]) as store:\n"
        "        print(await store.schema_revision())\n"
        "asyncio.run(main())\n"
        "print('alembic' in sys.modules)\n"
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, db_url, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await child.communicate()
    assert child.returncode == 0
    assert out.decode().split() == [head_revision(), "False"]


async def test_migrations_create_the_schema(store: SqlStore, db_url: str) -> None:
    assert await store.schema_revision() == head_revision()
    assert head_revision() is not None
    async with raw_engine(db_url) as engine, engine.connect() as conn:

        def inspect(sync: sa.Connection) -> dict[str, set[tuple[str | None, ...]]]:
            insp = sa.inspect(sync)
            with warnings.catch_warnings():  # ux_alarms_active: an expression, not reflected
                warnings.filterwarnings(
                    "ignore", "Skipped unsupported reflection", sa.exc.SAWarning
                )
                return {
                    table: {tuple(ix["column_names"]) for ix in insp.get_indexes(table)}
                    for table in insp.get_table_names()
                }

        indexes = await conn.run_sync(inspect)
        assert {"events", "audit", "api_tokens", "alembic_version"} <= set(indexes)
        assert ("device", "id") in indexes["events"]
        assert {("command_id",), ("device", "id")} <= indexes["audit"]
        if store.dialect == "sqlite":
            mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            assert mode == "wal"
            triggers = await conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'"
            )
            assert set(triggers.scalars()) == {"audit_no_update", "audit_no_delete"}


async def test_events_roundtrip_newest_first(store: SqlStore) -> None:
    await store.add_events([])
    await store.add_events(
        [
            EventRecord(
                ts=(T0 + timedelta(seconds=i)).astimezone(CET),
                device=device,
                type="door",
                details={"open": i % 2 == 0, "n": i},
            )
            for i, device in enumerate(["lock-101", "lock-102"] * 3)
        ]
    )
    everything = await store.recent_events()
    assert [e.details["n"] for e in everything] == [5, 4, 3, 2, 1, 0]
    newest = everything[0]
    assert newest.ts == T0 + timedelta(seconds=5)
    assert newest.ts.tzinfo is UTC
    assert newest.device == "lock-102"
    assert newest.type == "door"
    assert newest.details == {"open": False, "n": 5}

    assert [e.details["n"] for e in await store.recent_events(limit=2)] == [5, 4]
    assert [e.details["n"] for e in await store.recent_events(device="lock-101")] == [4, 2, 0]
    page = await store.recent_events(device="lock-101", limit=2)
    assert page[-1].id is not None
    older = await store.recent_events(device="lock-101", before_id=page[-1].id)
    assert [e.details["n"] for e in older] == [0]
    assert await store.recent_events(device="nobody") == []


async def test_audit_append_filter_and_unresolved(store: SqlStore) -> None:
    ids = [
        await store.append_audit(issued("c1", minutes=0)),
        await store.append_audit(issued("c2", device="lock-102", minutes=1)),
        await store.append_audit(resolved("c1", minutes=2)),
        await store.append_audit(issued("c3", minutes=3)),
    ]
    assert ids == sorted(ids)
    assert len(set(ids)) == 4

    lines = await store.audit()
    assert [(a.command_id, a.kind) for a in lines] == [
        ("c3", AuditKind.ISSUED),
        ("c1", AuditKind.RESOLVED),
        ("c2", AuditKind.ISSUED),
        ("c1", AuditKind.ISSUED),
    ]
    assert lines[1] == replace(resolved("c1", minutes=2), id=ids[2])
    assert lines[0].ts.tzinfo is UTC
    assert [a.id for a in await store.audit(limit=2)] == [ids[3], ids[2]]
    assert [a.id for a in await store.audit(device="lock-102")] == [ids[1]]
    assert [a.id for a in await store.audit(command_id="c1")] == [ids[2], ids[0]]
    since = (T0 + timedelta(minutes=2)).astimezone(CET)
    assert [a.id for a in await store.audit(since=since)] == [ids[3], ids[2]]

    unresolved = await store.unresolved_commands()
    assert [(a.command_id, a.kind) for a in unresolved] == [
        ("c2", AuditKind.ISSUED),
        ("c3", AuditKind.ISSUED),
    ]
    await store.append_audit(resolved("c2", device="lock-102", minutes=4))
    await store.append_audit(resolved("c3", minutes=5))
    assert await store.unresolved_commands() == []


async def test_audit_is_append_only_in_the_database(store: SqlStore, db_url: str) -> None:
    await store.append_audit(issued("c1"))
    statements = ["UPDATE audit SET actor = 'mallory'", "DELETE FROM audit"]
    if store.dialect == "postgresql":
        statements.append("TRUNCATE audit")
    async with raw_engine(db_url) as engine:
        for statement in statements:
            with pytest.raises(DBAPIError, match="append-only"):
                async with engine.begin() as conn:
                    await conn.exec_driver_sql(statement)
    if store.dialect == "sqlite":  # and with no SQLAlchemy at all
        path = parse_url(db_url).database
        assert path is not None
        with sqlite3.connect(path) as conn, pytest.raises(sqlite3.DatabaseError, match="append"):
            conn.execute("DELETE FROM audit WHERE command_id = 'c1'")
    assert [a.actor for a in await store.audit()] == ["nurse:anna"]


async def test_tokens_add_lookup_revoke(store: SqlStore) -> None:
    await store.add_token(token(2))
    await store.add_token(token(1, created_at=(T0 + timedelta(days=1)).astimezone(CET)))
    assert await store.token_by_hash("f" * 64) is None
    found = await store.token_by_hash(f"{1:064x}")
    assert found == token(1)
    assert found is not None
    assert found.created_at.tzinfo is UTC
    assert [t.id for t in await store.list_tokens()] == ["tok1", "tok2"]

    assert await store.revoke_token("tok1", T0 + timedelta(days=10)) is True
    assert await store.revoke_token("tok1", T0 + timedelta(days=20)) is True
    assert await store.revoke_token("nope", T0) is False
    revoked = await store.token_by_hash(f"{1:064x}")
    assert revoked is not None
    assert revoked.revoked_at == T0 + timedelta(days=10)
    untouched = await store.token_by_hash(f"{2:064x}")
    assert untouched is not None
    assert untouched.revoked_at is None

    with pytest.raises(StoreError, match="add API token tok3"):
        await store.add_token(token(3, token_hash=f"{2:064x}"))


async def test_naive_datetimes_are_refused(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        await store.add_events([EventRecord(ts=datetime(2025, 1, 1), device="d", type="t")])
    with pytest.raises(ValueError, match="naive"):
        await store.audit(since=datetime(2025, 1, 1))


async def test_reopen_keeps_data_and_migrating_again_is_a_noop(db_url: str) -> None:
    async with SqlStore(db_url) as store:
        await store.add_events([EventRecord(ts=T0, device="lock-101", type="door")])
        await store.append_audit(issued("c1"))
        await store.add_token(token(1))
    schema = await _schema_snapshot(db_url)

    for _ in range(2):
        async with SqlStore(db_url) as store:
            assert await store.schema_revision() == head_revision()
            assert [e.device for e in await store.recent_events()] == ["lock-101"]
            assert [a.command_id for a in await store.unresolved_commands()] == ["c1"]
            assert await store.token_by_hash(f"{1:064x}") == token(1)
            await store.open()  # idempotent
        assert await _schema_snapshot(db_url) == schema


async def _schema_snapshot(url: str) -> list[tuple[object, ...]]:
    async with raw_engine(url) as engine, engine.connect() as conn:
        version = (await conn.exec_driver_sql("SELECT * FROM alembic_version")).all()
        if engine.dialect.name == "sqlite":
            rows = await conn.exec_driver_sql("SELECT type, name, sql FROM sqlite_master")
        else:
            rows = await conn.exec_driver_sql(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public'"
            )
        return sorted(tuple(r) for r in [*version, *rows.all()])


async def test_concurrent_writers_on_one_file(db_url: str) -> None:
    async with SqlStore(db_url) as daemon, SqlStore(db_url) as cli:
        await asyncio.gather(
            *(daemon.append_audit(issued(f"d{i}")) for i in range(20)),
            *(cli.append_audit(issued(f"c{i}")) for i in range(20)),
            *(daemon.add_events([EventRecord(ts=T0, device="x", type="t")] * 5) for _ in range(10)),
        )
        assert len(await cli.unresolved_commands()) == 40
        assert len(await daemon.recent_events(limit=1000)) == 50


async def test_memory_database() -> None:
    async with SqlStore("sqlite:///:memory:") as store:
        await asyncio.gather(*(store.append_audit(issued(f"c{i}")) for i in range(10)))
        assert len(await store.unresolved_commands()) == 10


async def test_schema_newer_than_the_code_is_refused(db_url: str) -> None:
    async with SqlStore(db_url):
        pass
    async with raw_engine(db_url) as engine, engine.begin() as conn:
        await conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match="9999"):
        await SqlStore(db_url).open()


@pytest.mark.parametrize(
    "url", ["", "not a url", "mysql://u@localhost/db", "postgresql+psycopg2://u@h/db"]
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(StoreError, match="store URL"):
        SqlStore(url)


async def test_unwritable_path(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot create the directory"):
        await SqlStore(f"sqlite:///{blocker / 'var' / 'db.sqlite'}").open()
    with pytest.raises(StoreError, match="cannot open the store"):
        await SqlStore(f"sqlite:///{tmp_path}").open()  # a directory, not a file


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    tmp_path.chmod(0o500)
    yield tmp_path
    tmp_path.chmod(0o700)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
async def test_read_only_directory(read_only_dir: Path) -> None:
    with pytest.raises(StoreError, match="cannot open the store"):
        await SqlStore(f"sqlite:///{read_only_dir / 'db.sqlite'}").open()


async def test_unreachable_postgres() -> None:
    pytest.importorskip("asyncpg")
    with pytest.raises(StoreError, match=r"cannot open the store at postgresql\+asyncpg://"):
        await SqlStore("postgresql://tryggbo:secret@127.0.0.1:1/tryggbo").open()


async def test_plan_entries_by_day_untimed_first_and_deleted_per_apartment(
    store: SqlStore,
) -> None:
    day, now = date(2026, 12, 1), datetime(2026, 11, 30, 12, tzinfo=UTC)

    def entry(apartment: str, at: str | None, text: str, on: date = day) -> PlanEntryRecord:
        return PlanEntryRecord(apartment, on, at, text, "anna", now)

    for e in (
        entry("101", "14:00", "Kaffe"),
        entry("101", None, "Frisör"),
        entry("101", "09:30", "Sjukgymnast"),
        entry("102", "10:00", "Läkare"),
        entry("101", "08:00", "i morgon", on=date(2026, 12, 2)),
    ):
        await store.add_plan_entry(e)
    listed = await store.plan_entries("101", day)
    assert [(e.at, e.text) for e in listed] == [
        (None, "Frisör"),
        ("09:30", "Sjukgymnast"),
        ("14:00", "Kaffe"),
    ]
    assert all(e.id is not None for e in listed)
    other = (await store.plan_entries("102", day))[0]
    assert await store.delete_plan_entry(other.id, "101") is None  # not 101's entry
    deleted = await store.delete_plan_entry(listed[0].id, "101")
    assert deleted is not None
    assert deleted.text == "Frisör"
    assert [e.text for e in await store.plan_entries("101", day)] == ["Sjukgymnast", "Kaffe"]
    assert len(await store.plan_entries("102", day)) == 1
