"""A whole SQLite write transaction in one thread hop.

Through SQLAlchemy's asyncio engine every step of a transaction (BEGIN, each
statement, its rows, COMMIT, the pool's reset) is a separate hop to aiosqlite's
thread and back through the event loop: with the loop busy with device traffic,
~3 ms for one audit line, most of a command's round trip. Here a plain SQLAlchemy
connection on one dedicated thread runs the transaction start to end, and the loop
waits once. Used for the audit line a command waits for (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import URL

from . import engine as db

T = TypeVar("T")


class OneHopWriter:
    """Runs ``work(connection)`` inside ``BEGIN IMMEDIATE … COMMIT`` on its own thread."""

    def __init__(self, url: URL) -> None:
        sync_url = url.set(drivername="sqlite")
        # one thread uses the connection; dispose() may run on another
        engine = sa.create_engine(sync_url, connect_args={"check_same_thread": False})
        db.configure_sqlite(engine)
        self._engine = engine.execution_options(**{db.WRITE_OPTION: True})
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")

    async def run(self, work: Callable[[sa.Connection], T], *, inline: bool = False) -> T:
        """The result of ``work`` once its transaction is committed. ``inline``: on the
        calling thread (the event loop), for a transaction of a row or two, whose
        commit (~0.1 ms, ``synchronous=NORMAL``) costs less than the hand-over to the
        thread and back; the caller must hold the store's write gate, so the thread is
        idle meanwhile."""
        if inline:
            return self._transaction(work)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(self._transaction, work)
        )

    def _transaction(self, work: Callable[[sa.Connection], T]) -> T:
        with self._engine.begin() as conn:
            return work(conn)

    def close(self) -> None:
        """Finish queued work, close the connection."""
        self._executor.shutdown(wait=True)
        self._engine.dispose()
