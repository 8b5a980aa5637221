"""Retention and backup/restore on a real PostgreSQL: the ``pg_url`` fixture of the
suite (tests/pg_server.py starts a server, or TRYGGBO_TEST_PG_URL); skipped where
the tree has no such fixture or no PostgreSQL is installed."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from config.site import EXAMPLE_SITE
from controller.store import engine as db

from .test_backup import cli, make_store, snapshot
from .test_retention import check_retention, check_still_append_only


@pytest.fixture
async def pg_db(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    try:
        server = request.getfixturevalue("pg_url")
    except pytest.FixtureLookupError:
        pytest.skip("this tree has no PostgreSQL fixture (tests/pg_server.py)")
    if server is None:
        pytest.skip("no PostgreSQL installed")
    from tests.pg_server import scratch_pg_database  # type: ignore[import-not-found]

    async with scratch_pg_database(server) as url:
        yield url


async def test_retention_on_postgresql(pg_db: str) -> None:
    await check_retention(pg_db)


async def test_audit_stays_append_only_after_retention_on_postgresql(pg_db: str) -> None:
    # a database of its own: the records hold an open alarm, and a store keeps one
    # active alarm per kind and device
    await check_still_append_only(pg_db)


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="no pg_dump")
async def test_backup_wipe_restore_on_postgresql(pg_db: str, tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    shutil.copyfile(EXAMPLE_SITE, site)
    await make_store(pg_db)
    before = await snapshot(pg_db)
    archive = tmp_path / "pg.tar.gz"
    made = await asyncio.to_thread(
        cli, "backup", "--out", str(archive), "--db", pg_db, "--site", str(site)
    )
    assert made.exit_code == 0, made.output
    engine = db.create_engine(db.parse_url(pg_db))
    try:  # wipe
        async with engine.begin() as conn:
            await conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            await conn.execute(sa.text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()
    refused = await asyncio.to_thread(
        cli, "restore", str(archive), "--db", pg_db, "--site", str(site)
    )
    assert refused.exit_code == 1  # replacing a PostgreSQL store needs --force
    restored = await asyncio.to_thread(
        cli, "restore", str(archive), "--db", pg_db, "--site", str(site), "--force"
    )
    assert restored.exit_code == 0, restored.output
    assert await snapshot(pg_db) == before
