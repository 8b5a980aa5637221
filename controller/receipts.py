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
retried) does not fill the broker's in-flight window and stop everything behind it
(help presses too), a message unfinished for :data:`STUCK_S` is passed: those done
behind it, and those done after them while it stays unfinished, are acknowledged out
of order (as before this order was kept), with one warning. Each receipt costs O(1)
either way.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

#: seconds a message's unfinished work may hold back the acknowledgement of those done
#: after it (a commit takes milliseconds; a store that is down, as long as it is down)
STUCK_S = 2.0

#: schedules a call: ``later(delay_s, callback)``; what it returns may have ``cancel()``
Later = Callable[[float, Callable[[], None]], Any]


def loop_later(delay_s: float, callback: Callable[[], None]) -> asyncio.TimerHandle | None:
    """``callback`` after ``delay_s`` on the running event loop (none running: never)."""
    try:
        return asyncio.get_running_loop().call_later(delay_s, callback)
    except RuntimeError:
        return None


class Acker(Protocol):
    """What sends the PUBACK (paho's ``Client.ack``)."""

    def ack(self, mid: int, qos: int) -> object: ...


class Connection:
    """The receipts of one broker connection; :meth:`close` when it drops."""

    def __init__(self, acker: Acker | None, later: Later = loop_later) -> None:
        self._acker = acker
        self._later = later
        self._timer: Any = None
        #: the unfinished head passed after STUCK_S (done ones behind it go at once)
        self._stuck: Receipt | None = None
        self.open = acker is not None
        #: receipts not yet acknowledged (their work is not durable yet)
        self.pending = 0
        self.acked = 0
        #: QoS 1/2 receipts not yet passed, in the order they came (some may have been
        #: acknowledged early: see :data:`STUCK_S`)
        self._order: deque[Receipt] = deque()
        #: receipts done while one before them is not: waiting for their turn
        self._early: deque[Receipt] = deque()

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
        self._early.clear()
        self._disarm()

    def _done(self, receipt: Receipt | None) -> None:
        """``receipt``'s work is durable (None: one was abandoned): acknowledge the
        done receipts at the head of the order, skipping the abandoned; one done
        behind an unfinished head waits (:data:`STUCK_S` at most)."""
        if receipt is not None:
            self.pending -= 1
        order, early = self._order, self._early
        while order and order[0]._passable:
            head = order.popleft()
            if not head._acked:
                self._ack(head)
            if head is self._stuck:
                self._stuck = None
        while early and early[0]._acked:  # acknowledged in turn since
            early.popleft()
        if not order:
            early.clear()
            self._disarm()
            return
        if receipt is None or not receipt.qos or receipt._acked:
            return
        if order[0] is self._stuck:
            self._ack(receipt)  # the head is stuck: no more waiting behind it
            return
        early.append(receipt)
        if self._timer is None:
            self._arm(order[0])

    def _arm(self, head: Receipt) -> None:
        self._timer = self._later(STUCK_S, lambda: self._unstick(head)) or True

    def _disarm(self) -> None:
        timer, self._timer = self._timer, None
        if hasattr(timer, "cancel"):
            timer.cancel()

    def _unstick(self, head: Receipt) -> None:
        """STUCK_S after a receipt first waited behind ``head``: if ``head`` is still
        unfinished, pass it (acknowledge those done behind it); otherwise wait on the
        new head."""
        self._timer = None
        order, early = self._order, self._early
        if not self.open or not order or not early:
            return
        if order[0] is not head:
            self._arm(order[0])
            return
        self._stuck = head
        log.warning(
            "message %d: its work is still not durable after %.0f s; acknowledging the "
            "%d messages done behind it out of order while it waits",
            head.mid,
            STUCK_S,
            len(early),
        )
        while early:
            waiting = early.popleft()
            if not waiting._acked:
                self._ack(waiting)

    def _ack(self, receipt: Receipt) -> None:
        receipt._acked = True
        if not self.open or self._acker is None or receipt._connection is None:
            return  # dropped connection, or abandoned: the broker delivers it again
        try:
            self._acker.ack(receipt.mid, receipt.qos)
            self.acked += 1
        except Exception as exc:  # a dropped socket: the broker redelivers
            log.warning("could not acknowledge message %d: %s", receipt.mid, exc)


class Receipt:
    """One received message's work in progress. Starts with one hold (its handler's)."""

    __slots__ = ("_acked", "_connection", "_holds", "_then", "mid", "qos")

    def __init__(self, connection: Connection | None, mid: int = 0, qos: int = 0) -> None:
        self._connection = connection
        self._holds = 1
        self._then: list[Callable[[], None]] | None = None
        self._acked = False  # acknowledged (or passed, if abandoned)
        self.mid = mid
        self.qos = qos

    @property
    def done(self) -> bool:
        return self._holds == 0

    @property
    def _passable(self) -> bool:
        """Nothing more to wait for: done, abandoned, or acknowledged early."""
        return self._holds == 0 or self._connection is None or self._acked

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
            connection._done(None)  # those behind it need not wait for it

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
