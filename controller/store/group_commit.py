"""Group commit: concurrent single-row appends share one transaction.

A caller's row is committed before :meth:`GroupCommit.submit` returns (so the audit
line of a command is durable before the command leaves). While one transaction is
being written, newly submitted rows wait and all go in the next one: a lone command
pays one commit as before, 5,000 concurrent commands pay a handful.

A row nobody waits for (:meth:`GroupCommit.submit_later`: a command's ``resolved``
line) waits up to :data:`LATER_S` for a row somebody waits for and shares its
transaction; written at once, it held up the next command's ``issued`` line by a
whole transaction. Reads call :meth:`GroupCommit.idle`, which writes it first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

Writer = Callable[[Sequence[dict[str, Any]]], Awaitable[list[int]]]
#: seconds a row nobody waits for may wait for company
LATER_S = 0.05


class GroupCommit:
    """Rows in, ids out; one writer task while there is work."""

    def __init__(self, write: Writer, what: str) -> None:
        self._write = write
        self._what = what
        self._queue: list[tuple[dict[str, Any], asyncio.Future[int]]] = []
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def submit_nowait(self, row: dict[str, Any]) -> asyncio.Future[int]:
        """Queue a row; the future gets its id once committed (or the store's error)."""
        future = self._enqueue(row)
        self._start()
        return future

    def _enqueue(self, row: dict[str, Any]) -> asyncio.Future[int]:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append((row, future))
        return future

    def _start(self) -> None:
        """Write the queue now (unless a writer is at it: it takes the rest next)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._queue and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"group-commit-{self._what}"
            )

    async def submit(self, row: dict[str, Any]) -> int:
        """Queue a row and wait until it is committed; its id."""
        # shield: a cancelled caller must not cancel the row's future under the writer.
        return await asyncio.shield(self.submit_nowait(row))

    def submit_later(self, row: dict[str, Any]) -> None:
        """Queue a row nobody waits for (written within :data:`LATER_S`, with the next
        waited-for row if one comes); a failure is logged."""
        self._enqueue(row).add_done_callback(self._log_failure)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(LATER_S, self._start)

    def _log_failure(self, future: asyncio.Future[int]) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.error("%s not written: %s", self._what, future.exception())

    async def idle(self) -> None:
        """Write every queued row now and wait until it is written (or failed)."""
        self._start()
        while self._task is not None and not self._task.done():
            await asyncio.wait([self._task])

    async def _run(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                ids = await self._write([row for row, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for (_, future), row_id in zip(batch, ids, strict=True):
                    if not future.done():
                        future.set_result(row_id)
