"""One leader per site for the scheduler, by a lease in the shared store.

Several controller instances may run on one site (one PostgreSQL, shared MQTT
subscriptions: docs/architecture.md "Scale-out"). Whatever must happen once per site
(firing schedules, publishing the devices' fallback routines) runs only in the instance
holding the ``scheduler`` lease. The holder renews it every ``renew_s``; it lasts
``ttl_s``. An instance that dies stops renewing and another takes the lease once it has
expired (within ``ttl_s + renew_s``); one that stops cleanly releases it at once. A
holder that cannot renew steps down before its lease can expire, so two leaders never
overlap (and the store's one-claim-per-firing stops a second firing even then).
Instants come from the injected clock; instances are assumed NTP-synchronised to well
within ``renew_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from devices.clock import Clock

from .store import Store, StoreError

log = logging.getLogger(__name__)


class LeaderLease:
    """Keeps trying to hold lease ``name``; ``leading`` is set while it does."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        holder: str,
        *,
        name: str = "scheduler",
        ttl_s: float = 6.0,
        renew_s: float = 2.0,
    ) -> None:
        if renew_s * 2 > ttl_s:
            raise ValueError("renew at least twice per lease (renew_s <= ttl_s / 2)")
        self.store = store
        self.clock = clock
        self.holder = holder
        self.name = name
        self.ttl = timedelta(seconds=ttl_s)
        self.renew_s = renew_s
        self.leading = asyncio.Event()
        self._changed = asyncio.Condition()
        self._valid_until: datetime | None = None

    async def run(self) -> None:
        """Take or renew the lease every ``renew_s`` until cancelled (then release it)."""
        try:
            while True:
                await self.try_once()
                await asyncio.sleep(self.renew_s)  # the renewal period, not a sync
        finally:
            if self.leading.is_set():
                with contextlib.suppress(StoreError):
                    await asyncio.shield(self.store.release_lease(self.name, self.holder))
                log.info("%s: released the %s lease", self.holder, self.name)
            await self._set(False)

    async def try_once(self) -> bool:
        """One attempt to take or renew the lease; whether this instance leads now."""
        now = self.clock.now()
        try:
            held = await self.store.acquire_lease(self.name, self.holder, now, now + self.ttl)
        except StoreError as exc:
            # keep leading only while the last renewal is certainly still valid
            margin = timedelta(seconds=self.renew_s)
            held = self._valid_until is not None and now + margin < self._valid_until
            log.error("%s: cannot renew the %s lease: %s", self.holder, self.name, exc)
        else:
            self._valid_until = now + self.ttl if held else None
        await self._set(held)
        return held

    async def _set(self, leading: bool) -> None:
        if leading == self.leading.is_set():
            return
        if leading:
            self.leading.set()
            log.info("%s: now the %s leader", self.holder, self.name)
        else:
            self.leading.clear()
            self._valid_until = None
            log.warning("%s: no longer the %s leader", self.holder, self.name)
        async with self._changed:
            self._changed.notify_all()

    async def wait_not_leading(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: not self.leading.is_set())


async def while_leading(
    lease: LeaderLease, duty: Callable[[], Awaitable[None]], *, retry_s: float = 2.0
) -> None:
    """Run ``duty()`` whenever ``lease`` is held; cancel it as soon as it is not. A duty
    that fails (the store gone down just as it started reading, a bug) is logged and
    started again ``retry_s`` later if the lease is still held: the daemon never stops
    for it (it did, when PostgreSQL went down right after the lease was taken)."""
    while True:
        await lease.leading.wait()
        task = asyncio.ensure_future(duty())
        lost = asyncio.ensure_future(lease.wait_not_leading())
        try:
            await asyncio.wait({task, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (task, lost):
                t.cancel()
            await asyncio.gather(task, lost, return_exceptions=True)
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error(
                "%s: the %s leader's duty failed; again in %.0f s if still leading",
                lease.holder,
                lease.name,
                retry_s,
                exc_info=task.exception(),
            )
            await asyncio.sleep(retry_s)  # a pause before the retry, not a synchronisation
