"""Writes events to the store in batches, off the MQTT link's path.

If the store fails (disk full, file unwritable) the writer says so loudly, keeps the
events in memory and retries with backoff: the daemon keeps controlling doors and
nothing is lost while memory holds (capped, with a count of anything beyond it).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from .store import EventRecord, Store

log = logging.getLogger(__name__)


class EventWriter:
    def __init__(self, store: Store, *, max_batch: int = 500, max_buffer: int = 200_000) -> None:
        self.store = store
        self.max_batch = max_batch
        self.max_buffer = max_buffer
        self._buffer: deque[EventRecord] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.written = 0
        self.lost = 0
        self.failing: str | None = None

    def put(self, record: EventRecord) -> None:
        """Queue one event (never blocks)."""
        if len(self._buffer) >= self.max_buffer:
            self.lost += 1
            if self.lost == 1 or self.lost % 1000 == 0:
                log.error("event buffer full (%d): %d events lost", self.max_buffer, self.lost)
            return
        self._buffer.append(record)
        self._idle.clear()
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    async def run(self) -> None:
        delay = 0.5
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._buffer:
                batch = [self._buffer[i] for i in range(min(self.max_batch, len(self._buffer)))]
                try:
                    await self.store.add_events(batch)
                except Exception as exc:  # store trouble must not stop the daemon
                    self.failing = str(exc)
                    log.error(
                        "STORE FAILING: cannot write %d events (%s); retrying in %.1fs",
                        len(self._buffer),
                        exc,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
                    continue
                for _ in batch:
                    self._buffer.popleft()
                self.written += len(batch)
                if self.failing:
                    log.warning("store writable again; event backlog written")
                self.failing = None
                delay = 0.5
            self._idle.set()

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued event is written."""
        async with asyncio.timeout(timeout):
            await self._idle.wait()
