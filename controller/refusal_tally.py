"""Refusals of a caller who is already throttled, written to the activity log as one
row per (what, address) and window with the count, not one row each.

Before (issue 15, item 10): every refused invitation link wrote an activity row even
while its address was throttled: 1,000 rows in 4.9 s from one anonymous caller, into
an append-only table kept 730 days (and a full disk refuses every door command by
design). The refusals before the throttle are still written one by one.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from devices.clock import Clock

#: ``Authenticator.note``: append one activity row (never raises).
Note = Callable[..., Awaitable[None]]


@dataclass
class _Tally:
    actor: str
    reason: str
    first: datetime
    last: datetime
    count: int = 1


class RefusalTally:
    """Counts throttled refusals; :meth:`flush` writes the rows of windows that ended."""

    def __init__(
        self,
        note: Note,
        clock: Clock,
        window: timedelta = timedelta(minutes=15),
        capacity: int = 10_000,
    ) -> None:
        self.note = note
        self.clock = clock
        self.window = window
        self.capacity = capacity
        self._open: OrderedDict[tuple[str, str], _Tally] = OrderedDict()

    async def count(
        self, subject: str, address: str, reason: str, actor: str = "anonymous"
    ) -> None:
        """One more refusal of ``subject`` (``GET /api/calls/invitation``) for ``address``."""
        now = self.clock.now()
        await self.flush(now)  # windows that ended, this address's included
        tally = self._open.get((subject, address))
        if tally is None:
            self._open[(subject, address)] = _Tally(actor, reason, now, now)
        else:
            tally.count += 1
            tally.last = now
        while len(self._open) > self.capacity:  # the oldest window is written early
            (old_subject, old_address), oldest = self._open.popitem(last=False)
            await self._write(old_subject, old_address, oldest)

    async def flush(self, now: datetime | None = None) -> int:
        """Write the rows of windows ended by ``now`` (all of them without ``now``:
        on shutdown); the number of rows written. Windows are kept oldest first."""
        written = 0
        while self._open:
            key, tally = next(iter(self._open.items()))
            if now is not None and tally.first + self.window > now:
                break
            del self._open[key]
            await self._write(*key, tally)
            written += 1
        return written

    async def run(self, every_s: float = 30.0) -> None:
        """Write ended windows every ``every_s`` (a quiet attacker's last window too)."""
        while True:
            await asyncio.sleep(every_s)  # a polling period, not a synchronisation
            await self.flush(self.clock.now())

    async def _write(self, subject: str, address: str, tally: _Tally) -> None:
        details: dict[str, Any] = {
            "address": address,
            "count": tally.count,
            "first": tally.first.isoformat(),
            "last": tally.last.isoformat(),
        }
        await self.note(
            tally.actor,
            "refused",
            subject=subject,
            reason=f"{tally.count} refused while throttled: {tally.reason}",
            outcome="throttled",
            details=details,
        )
