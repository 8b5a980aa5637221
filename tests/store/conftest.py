"""Every store test runs on SQLite and on a real PostgreSQL (``pg_url``, tests/pg_server.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.pg_server import scratch_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, pg_url: str | None
) -> AsyncIterator[str]:
    """A store URL for an empty database; the SQLite directory does not exist yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'tryggbo.sqlite'}"
        return
    if pg_url is None:
        pytest.skip(
            "no PostgreSQL: install postgresql (make system-deps) or set TRYGGBO_TEST_PG_URL"
        )
    async with scratch_pg_database(pg_url) as url:
        yield url
