"""One writer at a time for a SQLite file, with the command audit first in line.

SQLite has a single writer. Writers of this process queue here instead of in
SQLite's busy handler (which sleeps up to 100 ms between tries). Urgent writers (the
audit group commit: a command waits for its line before it may leave) go before the
queued others (holds, events, alarms), so a burst of those cannot delay a door
command behind thousands of small transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator


class WriteGate:
    """An asyncio lock with two queues; urgent waiters are served first."""

    def __init__(self) -> None:
        self._busy = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    @contextlib.asynccontextmanager
    async def hold(self, *, urgent: bool = False) -> AsyncIterator[None]:
        if self._busy:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            (self._urgent if urgent else self._normal).append(future)
            try:
                await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    self._release()  # handed the gate just as we were cancelled
                raise
        else:
            self._busy = True
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        for queue in (self._urgent, self._normal):
            while queue:
                future = queue.popleft()
                if not future.done():
                    future.set_result(None)  # handed over: stays busy
                    return
        self._busy = False
