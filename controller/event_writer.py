"""Writes events to the store in batches, off the MQTT link's path.

Each event holds the receipt of the broker message it came from until its batch is
committed (controller/receipts.py): the broker hears a message arrived only once its
event is stored.

If a batch fails, its events are written one by one: an event the store refuses
while it takes others (a value the database cannot hold) is set aside with the reason
(``set_aside_events``, ``GET /api/events/set-aside``) and the rest go on. If the store
takes nothing (disk full, database down) the writer says so loudly, keeps the events
in memory and retries with backoff: the daemon keeps controlling doors and nothing is
lost while memory holds (capped; messages beyond the cap are not acknowledged, so
the broker delivers them again).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from devices.clock import Clock

from .receipts import Receipt
from .store import EventRecord, SetAsideEvent, Store, StoreError

log = logging.getLogger(__name__)


class EventWriter:
    def __init__(
        self, store: Store, clock: Clock, *, max_batch: int = 500, max_buffer: int = 200_000
    ) -> None:
        self.store = store
        self.clock = clock
        self.max_batch = max_batch
        self.max_buffer = max_buffer
        self._buffer: deque[tuple[EventRecord, Receipt | None]] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.written = 0
        self.lost = 0
        self.set_aside = 0
        self.failing: str | None = None

    def put(self, record: EventRecord, receipt: Receipt | None = None) -> None:
        """Queue one event (never blocks); ``receipt`` is held until it is committed."""
        if len(self._buffer) >= self.max_buffer:
            self.lost += 1
            if receipt is not None:
                receipt.abandon()  # not acknowledged: the broker delivers it again
            if self.lost == 1 or self.lost % 1000 == 0:
                log.error("event buffer full (%d): %d events lost", self.max_buffer, self.lost)
            return
        if receipt is not None:
            receipt.hold()
        self._buffer.append((record, receipt))
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
                n = min(self.max_batch, len(self._buffer))
                try:
                    await self.store.add_events([self._buffer[i][0] for i in range(n)])
                    self._done(n)
                except Exception as exc:  # store trouble must not stop the daemon
                    if await self._one_by_one(n):
                        continue  # the store takes events: the bad ones are set aside
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
                if self.failing:
                    log.warning("store writable again; event backlog written")
                self.failing = None
                delay = 0.5
            self._idle.set()

    def _done(self, n: int, *, set_aside: bool = False) -> None:
        """The first ``n`` buffered events are durable (written, or set aside): release
        their receipts."""
        for _ in range(n):
            _, receipt = self._buffer.popleft()
            if receipt is not None:
                receipt.release()
        if set_aside:
            self.set_aside += n
        else:
            self.written += n

    async def _one_by_one(self, n: int) -> bool:
        """Write the first ``n`` events singly, setting aside each one the store refuses
        while it can still write (the refusal then is the event's, not the store's).
        True if anything was written or set aside."""
        progress = False
        for _ in range(n):
            record = self._buffer[0][0]
            try:
                await self.store.add_events([record])
                self._done(1)
                progress = True
                continue
            except Exception as exc:
                reason = str(exc)
            try:
                await self.store.set_aside_event(
                    SetAsideEvent(set_aside_at=self.clock.now(), event=record, reason=reason)
                )
            except (StoreError, OSError):
                return progress  # the store is failing, not this event
            self._done(1, set_aside=True)
            progress = True
            log.error(
                "event %s of %s refused by the store, set aside: %s",
                record.type,
                record.device,
                reason,
            )
        return progress

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued event is written."""
        async with asyncio.timeout(timeout):
            await self._idle.wait()
