"""Group commit: concurrent single-row appends share one transaction.

A caller's row is committed before its submit returns: a command's ``issued`` line
before the command leaves, its ``resolved`` line before anyone is told the outcome.
While one transaction is being written, newly submitted rows wait and all go in the
next one: a lone command pays one commit, 5,000 concurrent commands pay a handful.

:meth:`GroupCommit.submit` hands the store's error to its caller (a command not yet
sent is refused). :meth:`GroupCommit.submit_kept` is for a row that records what has
already happened: a failed commit keeps it, and it is tried again (backing off from
:data:`RETRY_FIRST_S` to :data:`RETRY_MAX_S`, sooner with the next submitted row) until
it is written; :attr:`GroupCommit.failing` says why rows wait meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

Writer = Callable[[Sequence[dict[str, Any]]], Awaitable[list[int]]]
#: seconds before a kept row's first retry; doubled after each failure up to RETRY_MAX_S
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 5.0


@dataclass(slots=True)
class _Row:
    row: dict[str, Any]
    future: asyncio.Future[int]
    kept: bool


class GroupCommit:
    """Rows in, ids out; one writer task while there is work."""

    def __init__(self, write: Writer, what: str) -> None:
        self._write = write
        self._what = what
        self._queue: list[_Row] = []
        #: kept rows whose commit failed, waiting for their retry
        self._held: list[_Row] = []
        self._task: asyncio.Task[None] | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._delay = RETRY_FIRST_S
        self._error: Exception | None = None

    @property
    def failing(self) -> str | None:
        """Why kept rows are not written yet (they are retried), or None."""
        if not self._held or self._error is None:
            return None
        return f"{self._what}s not written yet ({len(self._held)}), retried: {self._error}"

    async def submit(self, row: dict[str, Any]) -> int:
        """Queue a row and wait until it is committed; its id, or the store's error."""
        # shield: a cancelled caller must not cancel the row's future under the writer.
        return await asyncio.shield(self._enqueue(row, kept=False))

    async def submit_kept(self, row: dict[str, Any]) -> int:
        """Queue a row and wait until it is committed, however many tries it takes; its
        id. A cancelled caller leaves the row queued."""
        return await asyncio.shield(self._enqueue(row, kept=True))

    def _enqueue(self, row: dict[str, Any], *, kept: bool) -> asyncio.Future[int]:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append(_Row(row, future, kept))
        self._start()
        return future

    def _start(self) -> None:
        """Write now (unless a writer is at it: it takes the rest next)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"group-commit-{self._what}"
            )

    def _retry_now(self) -> None:
        self._retry = None
        self._start()

    async def _run(self) -> None:
        # held rows go with every new batch, and alone once their backoff is over
        while self._queue or (self._held and self._retry is None):
            batch, self._held, self._queue = self._held + self._queue, [], []
            try:
                ids = await self._write([r.row for r in batch])
            except Exception as exc:
                self._failed(batch, exc)
            else:
                self._written(batch, ids)

    def _failed(self, batch: list[_Row], exc: Exception) -> None:
        for r in batch:
            if r.kept:
                self._held.append(r)
            elif not r.future.done():
                r.future.set_exception(exc)
        if not self._held:
            return
        if self._error is None:
            log.error("%s not written, kept and retried until it is: %s", self._what, exc)
        self._error = exc
        if self._retry is None:
            loop = asyncio.get_running_loop()
            self._retry = loop.call_later(self._delay, self._retry_now)
            self._delay = min(self._delay * 2, RETRY_MAX_S)

    def _written(self, batch: list[_Row], ids: list[int]) -> None:
        for r, row_id in zip(batch, ids, strict=True):
            if not r.future.done():
                r.future.set_result(row_id)
        if self._error is not None:
            log.warning("%ss written again after: %s", self._what, self._error)
            self._error = None
        self._delay = RETRY_FIRST_S
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    async def close(self) -> None:
        """Try every queued row once more now; kept rows still not written then fail
        with the store's error (the process is stopping: their callers get no answer)."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        self._start()
        while self._task is not None and not self._task.done():
            await asyncio.wait([self._task])
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        held, self._held = self._held, []
        for r in held:
            if not r.future.done():
                r.future.set_exception(self._error or RuntimeError("store closed"))
        if held:
            log.error("%d %ss never written: %s", len(held), self._what, self._error)
