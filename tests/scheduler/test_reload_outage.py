"""A schedule reload during a database outage logs one line with the reason, not a
chained traceback on every reload (issue 14 item 5b)."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from controller.store import open_store
from controller.store.engine import parse_url
from devices.clock import ManualClock
from scheduler.engine import ScheduleEngine
from tests.pg_server import scratch_pg_database

from .test_engine import SITE, FakeSender, close_wing_a, local


async def test_a_reload_while_the_database_is_gone_logs_one_line_with_the_reason(
    pg_url: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    if pg_url is None:
        pytest.skip("no PostgreSQL: install postgresql (make system-deps)")
    clock = ManualClock(local(2026, 12, 1, 20, 0))
    async with scratch_pg_database(pg_url) as url:
        store = open_store(url)
        await store.open()
        try:
            engine = ScheduleEngine(store, FakeSender(clock), SITE, clock)
            await engine.create(close_wing_a())
            await engine.reload()
            # the database goes away under the open store (its connections terminated)
            admin = create_async_engine(parse_url(pg_url), isolation_level="AUTOCOMMIT")
            async with admin.connect() as conn:
                name = parse_url(url).database
                await conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            await admin.dispose()
            caplog.clear()
            with caplog.at_level(logging.INFO):
                await engine.reload()
                await engine.reload()
        finally:
            await store.close()
    lines = [r for r in caplog.records if r.name == "scheduler.engine"]
    assert len(lines) == 2  # one per reload
    for record in lines:
        assert record.levelno == logging.ERROR
        assert record.exc_info is None
        message = record.getMessage()
        assert message.startswith("schedules not reloaded: cannot "), message
        assert "\n" not in message
    assert "Traceback" not in caplog.text
