"""The in-process event bus: twins, events, command outcomes and alarms fan out to listeners.

It carries typed messages (:mod:`controller.bus_messages`); a subscriber names the
types it wants (``bus.subscribe(TwinChanged, DeviceEvent)``) and gets exactly those.

Publishing never blocks: each subscriber has a bounded queue; a subscriber that falls
behind loses its oldest messages and is told how many (``dropped``), so one slow
WebSocket client can never stall the MQTT link.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

from .bus_messages import BusMessage, TwinChanged
from .receipts import Receipt

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BusMessage)
N = TypeVar("N", bound=BusMessage)
O = TypeVar("O", bound=BusMessage)  # noqa: E741


def receipt_of(message: BusMessage) -> Receipt | None:
    """The broker message's receipt a message carries (device events, fire signals)."""
    receipt: Receipt | None = getattr(message, "receipt", None)
    return receipt


@dataclass(eq=False)
class Subscription(Generic[M]):
    """A listener's queue of the message types it subscribed to; iterate it with
    ``async for``."""

    queue: asyncio.Queue[M]
    #: the message types it gets (None: every type)
    types: frozenset[type] | None = None
    dropped: int = 0
    #: takes a hold on each message's receipt (an unbounded subscriber that makes what
    #: it reads durable: the alarm service); it must ``release`` each one
    holds_receipts: bool = False
    _bus: EventBus | None = field(default=None, repr=False)

    def __aiter__(self) -> AsyncIterator[M]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[M]:
        while True:
            yield await self.queue.get()

    async def get(self, timeout: float | None = None) -> M:
        """The next message (raises TimeoutError after ``timeout`` seconds)."""
        async with asyncio.timeout(timeout):
            return await self.queue.get()

    def drain(self, limit: int | None = None) -> list[M]:
        """The messages already queued (at most ``limit``), without waiting."""
        out: list[M] = []
        while not self.queue.empty() and (limit is None or len(out) < limit):
            out.append(self.queue.get_nowait())
        return out

    def close(self) -> None:
        if self._bus is not None:
            self._bus._subscribers.discard(self)
            self._bus = None

    def __enter__(self) -> Subscription[M]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def latest_twins(batch: list[M]) -> list[M]:
    """``batch`` without the :class:`TwinChanged` of a device that has a later one in it
    (a twin message is the whole twin: the last one says all the earlier ones did)."""
    last = {m.id: i for i, m in enumerate(batch) if isinstance(m, TwinChanged)}
    return [m for i, m in enumerate(batch) if not isinstance(m, TwinChanged) or last[m.id] == i]


class EventBus:
    """Fan-out of typed messages to every subscriber of their type, without blocking."""

    def __init__(self, queue_size: int = 2000) -> None:
        self._queue_size = queue_size
        self._subscribers: set[Subscription[BusMessage]] = set()

    @overload
    def subscribe(
        self, kind: type[M], /, *, queue_size: int | None = None, holds_receipts: bool = False
    ) -> Subscription[M]: ...

    @overload
    def subscribe(
        self,
        kind: type[M],
        other: type[N],
        /,
        *,
        queue_size: int | None = None,
        holds_receipts: bool = False,
    ) -> Subscription[M | N]: ...

    @overload
    def subscribe(
        self,
        kind: type[M],
        other: type[N],
        third: type[O],
        /,
        *,
        queue_size: int | None = None,
        holds_receipts: bool = False,
    ) -> Subscription[M | N | O]: ...

    @overload
    def subscribe(
        self,
        *kinds: type[BusMessage],
        queue_size: int | None = None,
        holds_receipts: bool = False,
    ) -> Subscription[BusMessage]: ...

    def subscribe(
        self,
        *kinds: type[Any],
        queue_size: int | None = None,
        holds_receipts: bool = False,
    ) -> Subscription[Any]:
        """A new subscription to the message types ``kinds`` (every type when none).
        ``queue_size=0`` is unbounded: for a listener that must never lose a message
        (the alarms), which may also hold the messages' receipts (``holds_receipts``)."""
        size = self._queue_size if queue_size is None else queue_size
        if holds_receipts and size != 0:
            raise ValueError("only an unbounded subscription can hold receipts")
        sub: Subscription[BusMessage] = Subscription(
            asyncio.Queue(size),
            frozenset(kinds) if kinds else None,
            holds_receipts=holds_receipts,
            _bus=self,
        )
        self._subscribers.add(sub)
        return sub

    def publish(self, message: BusMessage) -> None:
        """Hand ``message`` to every subscriber of its type; those that hold receipts
        take a hold on its receipt (:func:`receipt_of`)."""
        kind = type(message)
        receipt: Receipt | None = getattr(message, "receipt", None)  # receipt_of, inlined
        for sub in self._subscribers:
            if sub.types is not None and kind not in sub.types:
                continue
            if receipt is not None and sub.holds_receipts:
                receipt.hold()
            if sub.queue.full():
                sub.queue.get_nowait()
                sub.dropped += 1
            sub.queue.put_nowait(message)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
