"""The in-process event bus: twins, events and command outcomes fan out to listeners.

Publishing never blocks: each subscriber has a bounded queue; a subscriber that falls
behind loses its oldest messages and is told how many (``dropped``), so one slow
WebSocket client can never stall the MQTT link.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from .receipts import Receipt

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BusMessage:
    """One thing that happened: ``kind`` is twin, event, command or alarm. ``receipt``:
    the broker message it came from, for a subscriber that must make it durable."""

    kind: str
    data: dict[str, Any]
    receipt: Receipt | None = None


@dataclass(eq=False)
class Subscription:
    """A listener's queue; iterate it with ``async for``."""

    queue: asyncio.Queue[BusMessage]
    kinds: frozenset[str] | None = None
    dropped: int = 0
    #: takes a hold on each message's receipt (an unbounded subscriber that makes what
    #: it reads durable: the alarm service); it must ``release`` each one
    holds_receipts: bool = False
    _bus: EventBus | None = field(default=None, repr=False)

    def __aiter__(self) -> AsyncIterator[BusMessage]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[BusMessage]:
        while True:
            yield await self.queue.get()

    async def get(self, timeout: float | None = None) -> BusMessage:
        """The next message (raises TimeoutError after ``timeout`` seconds)."""
        async with asyncio.timeout(timeout):
            return await self.queue.get()

    def drain(self, limit: int | None = None) -> list[BusMessage]:
        """The messages already queued (at most ``limit``), without waiting."""
        out: list[BusMessage] = []
        while not self.queue.empty() and (limit is None or len(out) < limit):
            out.append(self.queue.get_nowait())
        return out

    def close(self) -> None:
        if self._bus is not None:
            self._bus._subscribers.discard(self)
            self._bus = None

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def latest_twins(batch: list[BusMessage]) -> list[BusMessage]:
    """``batch`` without the ``twin`` messages of a device that has a later one in it
    (a twin message is the whole twin: the last one says all the earlier ones did)."""
    last = {m.data.get("id"): i for i, m in enumerate(batch) if m.kind == "twin"}
    return [m for i, m in enumerate(batch) if m.kind != "twin" or last[m.data.get("id")] == i]


class EventBus:
    """Fan-out of :class:`BusMessage` to every subscriber, without blocking."""

    def __init__(self, queue_size: int = 2000) -> None:
        self._queue_size = queue_size
        self._subscribers: set[Subscription] = set()

    def subscribe(
        self,
        kinds: set[str] | None = None,
        *,
        queue_size: int | None = None,
        holds_receipts: bool = False,
    ) -> Subscription:
        """A new subscription to ``kinds`` (all kinds when None). ``queue_size=0`` is
        unbounded: for a listener that must never lose a message (the alarms), which
        may also hold the messages' receipts (``holds_receipts``)."""
        size = self._queue_size if queue_size is None else queue_size
        if holds_receipts and size != 0:
            raise ValueError("only an unbounded subscription can hold receipts")
        sub = Subscription(
            asyncio.Queue(size),
            frozenset(kinds) if kinds else None,
            holds_receipts=holds_receipts,
            _bus=self,
        )
        self._subscribers.add(sub)
        return sub

    def publish(self, kind: str, data: dict[str, Any], receipt: Receipt | None = None) -> None:
        """Hand ``data`` to every subscriber of ``kind``; those that hold receipts take
        a hold on ``receipt``."""
        msg = BusMessage(kind, data, receipt)
        for sub in self._subscribers:
            if sub.kinds is not None and kind not in sub.kinds:
                continue
            if receipt is not None and sub.holds_receipts:
                receipt.hold()
            if sub.queue.full():
                sub.queue.get_nowait()
                sub.dropped += 1
            sub.queue.put_nowait(msg)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
