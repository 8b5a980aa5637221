"""Acknowledged means stored: the broker hears that a QoS 1 message arrived only once
what it carried is durable.

The controller's MQTT client runs with paho's manual acknowledgement. Each received
message gets a :class:`Receipt`; every part of the controller that must make the
message's content durable takes a hold on it (the event writer until the event row is
committed, the alarm service until its alarm decision is stored) and releases it when
that is done. When the last hold is released the PUBACK is sent. A controller killed
before that never acknowledged the message, so the broker delivers it again to the
next session, where storing it again changes nothing (events are stored once per
event key, an alarm counts an event once).

A receipt belongs to one connection: if the connection dropped before the work was
done, no PUBACK is sent (the broker redelivers on the new connection; the message id
may mean another message there).

PUBACKs leave in the order the messages came, as MQTT 3.1.1 (section 4.6) asks: a
message whose work is done waits for the acknowledgement of those before it. Acked
out of order (a state at once, an event after its commit), Mosquitto spent 22-27 µs of
CPU per message on the controller's session against 4-5 in order
(docs/performance.md). An abandoned receipt is skipped (never acknowledged). So that
one message whose work cannot finish (the store is down: its event is kept and
retried) does not stop the broker's in-flight window for everything behind it, once
:data:`ORDER_WINDOW` receipts wait behind an unfinished one those that are done are
acknowledged anyway (as before this order was kept).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

#: receipts that may wait behind an unfinished one before those done are acknowledged
#: out of order: half of Mosquitto's in-flight window (``max_inflight_messages 100``)
ORDER_WINDOW = 50


class Acker(Protocol):
    """What sends the PUBACK (paho's ``Client.ack``)."""

    def ack(self, mid: int, qos: int) -> object: ...


class Connection:
    """The receipts of one broker connection; :meth:`close` when it drops."""

    def __init__(self, acker: Acker | None) -> None:
        self._acker = acker
        self.open = acker is not None
        #: receipts not yet acknowledged (their work is not durable yet)
        self.pending = 0
        self.acked = 0
        #: QoS 1/2 receipts not yet acknowledged or skipped, in the order they came
        self._order: deque[Receipt] = deque()
        #: the unfinished receipt the last out-of-order acknowledgement went past
        self._passed: Receipt | None = None

    def receive(self, mid: int, qos: int) -> Receipt:
        """A receipt for a message just received (its handler holds it)."""
        self.pending += 1
        receipt = Receipt(self, mid, qos)
        if qos and self.open:
            self._order.append(receipt)
        return receipt

    def close(self) -> None:
        """The connection dropped: nothing more is acknowledged through it."""
        self.open = False
        self._order.clear()

    def _done(self, receipt: Receipt) -> None:
        self.pending -= 1
        self._acknowledge_ready()

    def _acknowledge_ready(self) -> None:
        """Acknowledge the done receipts at the head of the order (skip the abandoned);
        past :data:`ORDER_WINDOW` waiting, every done one."""
        order = self._order
        while order and (order[0].done or order[0]._connection is None):
            self._ack(order.popleft())
        if len(order) > ORDER_WINDOW:
            waiting = [r for r in order if not (r.done or r._connection is None)]
            if self._passed is not order[0]:  # once per unfinished message
                self._passed = order[0]
                log.warning(
                    "%d messages waited behind message %d, whose work is not durable "
                    "yet: acknowledging those done out of order",
                    len(order) - 1,
                    order[0].mid,
                )
            for receipt in order:
                if receipt.done or receipt._connection is None:
                    self._ack(receipt)
            self._order = deque(waiting)

    def _ack(self, receipt: Receipt) -> None:
        if not self.open or self._acker is None or receipt._connection is None:
            return  # dropped connection, or abandoned: the broker delivers it again
        try:
            self._acker.ack(receipt.mid, receipt.qos)
            self.acked += 1
        except Exception as exc:  # a dropped socket: the broker redelivers
            log.warning("could not acknowledge message %d: %s", receipt.mid, exc)


class Receipt:
    """One received message's work in progress. Starts with one hold (its handler's)."""

    __slots__ = ("_connection", "_holds", "_then", "mid", "qos")

    def __init__(self, connection: Connection | None, mid: int = 0, qos: int = 0) -> None:
        self._connection = connection
        self._holds = 1
        self._then: list[Callable[[], None]] | None = None
        self.mid = mid
        self.qos = qos

    @property
    def done(self) -> bool:
        return self._holds == 0

    def hold(self) -> Receipt:
        """One more piece of work must be durable before the acknowledgement."""
        if self._holds == 0:
            raise RuntimeError("hold on a receipt already acknowledged")
        self._holds += 1
        return self

    def release(self) -> None:
        """One piece of work is durable; the last release acknowledges the message."""
        if self._holds <= 0:
            log.error("receipt of message %d released more often than held", self.mid)
            return
        self._holds -= 1
        if self._holds:
            return
        if self._connection is not None:
            self._connection._done(self)
        then, self._then = self._then, None
        for callback in then or ():
            callback()

    def abandon(self) -> None:
        """What this message carried was not kept: never acknowledge it (the broker
        delivers it again on the next connection)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.pending -= 1
            connection._acknowledge_ready()  # those behind it need not wait for it

    def wait_for(self, other: Receipt | None) -> None:
        """This message repeats ``other`` (a device sent it again): acknowledge it only
        once ``other``'s work is durable."""
        if other is None or other.done or other is self:
            return
        self.hold()
        if other._then is None:
            other._then = []
        other._then.append(self.release)


def detached() -> Receipt:
    """A receipt that acknowledges nothing (work not caused by a broker message)."""
    return Receipt(None)
