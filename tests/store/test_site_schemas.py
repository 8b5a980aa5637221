"""Many homes on one PostgreSQL (issue 16 item 4): one schema per home named by the
store URL (``?schema=``), each migrated, backed up, restored and pruned on its own; a
home's own role cannot read another home; the regional role reads only the open alarms
of the homes granted to it."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from config.site import EXAMPLE_SITE, SECOND_EXAMPLE_SITE
from controller.ops.region import open_alarms_per_home, region_grants
from controller.store import SqlStore, StoreError
from controller.store import engine as db
from controller.store.alarm_records import AlarmRecord
from tests.ops.records import NEW
from tests.ops.test_backup import cli, make_store, snapshot
from tests.ops.test_retention import check_retention
from tests.pg_server import scratch_pg_database

HOMES = ("solgarden", "bjorkbacken")


@pytest.fixture
async def pg_db(pg_url: str | None) -> AsyncIterator[str]:
    if pg_url is None:
        pytest.skip("no PostgreSQL installed")
    async with scratch_pg_database(pg_url) as url:
        yield url


def in_schema(url: str, schema: str) -> str:
    return f"{url}?schema={schema}"


def as_role(url: str, role: str) -> str:
    parsed = db.parse_url(url).set(drivername="postgresql", username=role)
    return parsed.render_as_string(hide_password=False)


async def execute(url: str, *statements: str) -> None:
    engine = db.create_engine(db.parse_url(url))
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def login_role(url: str) -> AsyncIterator[str]:
    """A new PostgreSQL login role (trust auth on the test server), dropped after."""
    role = f"r_{uuid.uuid4().hex[:10]}"
    await execute(url, f'CREATE ROLE "{role}" LOGIN')
    try:
        yield role
    finally:
        await execute(url, f'DROP OWNED BY "{role}"', f'DROP ROLE "{role}"')


async def tables_in(url: str, schema: str) -> set[str]:
    engine = db.create_engine(db.parse_url(url))
    try:
        async with engine.connect() as conn:
            query = sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :s")
            return {str(r[0]) for r in await conn.execute(query, {"s": schema})}
    finally:
        await engine.dispose()


async def add_help(url: str, apartment: str, state: str = "open") -> None:
    async with SqlStore(url) as store:
        await store.add_alarm(
            AlarmRecord(
                kind="help",
                apartment=apartment,
                device=f"a{apartment}-screen",
                state=state,
                raised_at=NEW,
                closed_by="nurse1" if state == "closed" else None,
                closed_at=NEW if state == "closed" else None,
            )
        )


def test_the_schema_option_is_a_plain_postgresql_name() -> None:
    assert db.pg_schema(db.parse_url("postgresql://h/d?schema=solgarden")) == "solgarden"
    assert db.pg_schema(db.parse_url("postgresql://h/d")) is None
    for bad in ("Solgarden", "sol-garden", "pg_catalog", "1home", 'a";drop', "x" * 64):
        with pytest.raises(StoreError, match="bad schema"):
            db.parse_url(f"postgresql://h/d?schema={bad}")
    with pytest.raises(StoreError, match="for PostgreSQL"):
        db.parse_url("sqlite:///x.sqlite?schema=solgarden")


async def test_each_home_is_migrated_in_its_own_schema_and_sees_only_its_own(
    pg_db: str,
) -> None:
    one, two = (in_schema(pg_db, h) for h in HOMES)
    await make_store(one)  # users, audit, events, activity, alarms, a schedule
    async with SqlStore(two) as store:
        assert await store.schema_revision() == db.head_revision()
        assert await store.list_users() == []
        assert await store.audit(limit=100) == []
        assert await store.recent_events(limit=100) == []
        assert await store.alarms(limit=100) == []
        assert await store.activity(limit=100) == []
    assert "users" in await tables_in(pg_db, "solgarden")
    assert await tables_in(pg_db, "solgarden") == await tables_in(pg_db, "bjorkbacken")
    assert await tables_in(pg_db, "public") == set()  # nothing of a home outside its schema


async def test_a_home_role_cannot_read_another_home(pg_db: str) -> None:
    """With a role per home owning its schema, a daemon misconfigured with another
    home's schema cannot open it, nor read its tables by name."""
    async with login_role(pg_db) as role:
        await make_store(in_schema(pg_db, "bjorkbacken"))  # the other home, by its owner
        await execute(pg_db, f'CREATE SCHEMA solgarden AUTHORIZATION "{role}"')
        own = in_schema(as_role(pg_db, role), "solgarden")
        async with SqlStore(own) as store:  # migrates its own schema as its own role
            assert await store.schema_revision() == db.head_revision()
        with pytest.raises(StoreError, match="permission denied"):
            await SqlStore(in_schema(as_role(pg_db, role), "bjorkbacken")).open()
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            await execute(own, "SELECT * FROM bjorkbacken.users")


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="no pg_dump")
async def test_one_home_is_backed_up_and_restored_without_touching_the_other(
    pg_db: str, tmp_path: Path
) -> None:
    one, two = (in_schema(pg_db, h) for h in HOMES)
    await make_store(one)
    await make_store(two)
    await add_help(two, "107")
    before_one, before_two = await snapshot(one), await snapshot(two)
    site = tmp_path / "site.toml"
    shutil.copyfile(EXAMPLE_SITE, site)
    archive = tmp_path / "solgarden.tar.gz"
    made = await asyncio.to_thread(
        cli, "backup", "--out", str(archive), "--db", one, "--site", str(site)
    )
    assert made.exit_code == 0, made.output
    await execute(pg_db, "DROP SCHEMA solgarden CASCADE")  # the home's data lost
    restored = await asyncio.to_thread(
        cli, "restore", str(archive), "--db", one, "--site", str(site), "--force"
    )
    assert restored.exit_code == 0, restored.output
    assert await snapshot(one) == before_one
    assert await snapshot(two) == before_two


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="no pg_dump")
async def test_a_home_backup_is_refused_for_another_home(pg_db: str, tmp_path: Path) -> None:
    one, two = (in_schema(pg_db, h) for h in HOMES)
    await make_store(one)
    await make_store(two)
    await add_help(two, "107")
    before_one, before_two = await snapshot(one), await snapshot(two)
    site = tmp_path / "site.toml"
    shutil.copyfile(SECOND_EXAMPLE_SITE, site)
    archive = tmp_path / "solgarden.tar.gz"
    made = await asyncio.to_thread(
        cli, "backup", "--out", str(archive), "--db", one, "--site", str(EXAMPLE_SITE)
    )
    assert made.exit_code == 0, made.output
    refused = await asyncio.to_thread(
        cli, "restore", str(archive), "--db", two, "--site", str(site), "--force"
    )
    assert refused.exit_code == 1
    assert "backup is of schema solgarden" in refused.output
    assert await snapshot(two) == before_two
    assert await snapshot(one) == before_one
    assert site.read_text() == SECOND_EXAMPLE_SITE.read_text()


async def test_retention_of_one_home_leaves_the_other_whole(pg_db: str) -> None:
    one, two = (in_schema(pg_db, h) for h in HOMES)
    await make_store(two)
    before_two = await snapshot(two)
    await check_retention(one)  # deletes what the policy says, in solgarden only
    assert await snapshot(two) == before_two


async def test_regional_role_reads_open_alarms_per_home_and_nothing_else(
    pg_db: str, tmp_path: Path
) -> None:
    one, two = (in_schema(pg_db, h) for h in HOMES)
    await make_store(one)  # one open help alarm (101) and two closed
    await make_store(in_schema(pg_db, "third_home"))  # not granted to the region
    async with SqlStore(two):
        pass
    await add_help(two, "105")
    await add_help(two, "108", state="closed")
    async with login_role(pg_db) as region:
        await execute(pg_db, *(g for h in HOMES for g in region_grants(h, region)))
        regional = as_role(pg_db, region)
        homes = await open_alarms_per_home(regional)
        by_home = {h.home: [(a.kind, a.apartment, a.state) for a in h.alarms] for h in homes}
        assert by_home == {"bjorkbacken": [("help", "105", "open")], "solgarden": [
            ("help", "101", "open")
        ]}  # fmt: skip
        shown = await asyncio.to_thread(cli, "region", "alarms", "--db", regional, "--json")
        assert shown.exit_code == 0, shown.output
        listed = {h["home"]: h["open"] for h in json.loads(shown.output)["homes"]}
        assert listed == {"bjorkbacken": 1, "solgarden": 1}
        with pytest.raises(StoreError, match="third_home"):
            await open_alarms_per_home(regional, ["third_home"])
        for forbidden in (
            "SELECT * FROM solgarden.users",
            "SELECT * FROM solgarden.audit",
            "SELECT * FROM bjorkbacken.events",
            "SELECT details FROM solgarden.alarms",
            "UPDATE solgarden.alarms SET state = 'closed'",
        ):
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                await execute(regional, forbidden)


def test_region_grants_refuse_names_needing_quotes() -> None:
    with pytest.raises(ValueError, match="bad schema"):
        region_grants('x"; DROP TABLE users; --', "region")
    assert (
        region_grants("solgarden", "region")[0] == 'GRANT USAGE ON SCHEMA "solgarden" TO "region"'
    )
