"""Receipts: a message is acknowledged once, after the last piece of its work is
durable, and never on a connection that dropped; the event writer holds receipts
until the commit and sets aside the one event the store refuses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest

from controller.event_writer import EventWriter
from controller.receipts import STUCK_S, Connection, Receipt, detached
from controller.store import EventRecord, SetAsideEvent, StoreError
from devices.clock import ManualClock

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


class Acks:
    def __init__(self) -> None:
        self.sent: list[tuple[int, int]] = []

    def ack(self, mid: int, qos: int) -> None:
        self.sent.append((mid, qos))


def test_acknowledged_after_the_last_hold_only_once() -> None:
    acks = Acks()
    link = Connection(acks)
    receipt = link.receive(7, 1)
    receipt.hold()  # the writer
    receipt.hold()  # the alarm service
    receipt.release()  # the handler returned
    receipt.release()  # committed
    assert acks.sent == []
    receipt.release()  # the alarm stored
    assert acks.sent == [(7, 1)]
    receipt.release()  # one release too many changes nothing
    assert acks.sent == [(7, 1)]
    assert link.pending == 0


def test_nothing_acknowledged_on_a_dropped_connection_or_when_abandoned() -> None:
    acks = Acks()
    link = Connection(acks)
    late, lost = link.receive(1, 1), link.receive(2, 1)
    link.close()
    late.release()
    lost.abandon()
    lost.release()
    assert acks.sent == []


def test_a_message_sent_again_waits_for_the_first_delivery() -> None:
    acks = Acks()
    link = Connection(acks)
    first, again = link.receive(1, 1), link.receive(2, 1)
    first.hold()  # still being written
    first.release()
    again.wait_for(first)
    again.release()
    assert acks.sent == []
    first.release()
    assert acks.sent == [(1, 1), (2, 1)]


def test_a_detached_receipt_acknowledges_nothing() -> None:
    receipt = detached()
    receipt.release()
    assert receipt.done


class OneBadRow:
    """A store that refuses every batch holding the event of type ``bad``."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.rows: list[EventRecord] = []
        self.aside: list[SetAsideEvent] = []

    async def add_events(self, records: Sequence[EventRecord]) -> None:
        if self.down or any(r.type == "bad" for r in records):
            raise StoreError("refused")
        self.rows.extend(records)

    async def set_aside_event(self, record: SetAsideEvent) -> None:
        if self.down:
            raise StoreError("down")
        self.aside.append(record)


def _event(type_: str, seq: int) -> EventRecord:
    return EventRecord(ts=NOW, device="a101-lock", type=type_, key=f"{seq}@x")


async def test_writer_sets_aside_the_refused_event_and_acknowledges_all() -> None:
    acks = Acks()
    link = Connection(acks)
    store = OneBadRow()
    writer = EventWriter(store, ManualClock(NOW))  # type: ignore[arg-type]
    for mid, type_ in enumerate(["good", "bad", "good"], start=1):
        receipt = link.receive(mid, 1)
        writer.put(_event(type_, mid), receipt)
        receipt.release()
    assert acks.sent == []  # nothing committed yet
    await writer._one_by_one(3)
    assert [r.type for r in store.rows] == ["good", "good"]
    assert [a.event.type for a in store.aside] == ["bad"]
    assert (writer.written, writer.set_aside, writer.pending) == (2, 1, 0)
    assert sorted(acks.sent) == [(1, 1), (2, 1), (3, 1)]


async def test_writer_keeps_everything_while_the_store_is_down() -> None:
    acks = Acks()
    link = Connection(acks)
    writer = EventWriter(OneBadRow(down=True), ManualClock(NOW))  # type: ignore[arg-type]
    receipt = link.receive(1, 1)
    writer.put(_event("good", 1), receipt)
    receipt.release()
    assert await writer._one_by_one(1) is False
    assert writer.pending == 1
    assert acks.sent == []


def test_an_event_beyond_the_buffer_is_never_acknowledged() -> None:
    acks = Acks()
    link = Connection(acks)
    writer = EventWriter(OneBadRow(), ManualClock(NOW), max_buffer=0)  # type: ignore[arg-type]
    receipt = link.receive(1, 1)
    writer.put(_event("good", 1), receipt)
    receipt.release()
    assert (writer.lost, acks.sent) == (1, [])


def test_acknowledgements_leave_in_the_order_the_messages_came() -> None:
    """MQTT 3.1.1 4.6: a message done early (a state) waits for the one before it (an
    event being committed); then both leave, in order."""
    acks = Acks()
    link = Connection(acks)
    event, state, qos0 = link.receive(1, 1), link.receive(2, 1), link.receive(0, 0)
    event.hold()  # the writer, until the commit
    event.release()  # its handler returned
    state.release()  # nothing to store
    qos0.release()
    assert acks.sent == []
    event.release()  # committed
    assert acks.sent == [(1, 1), (2, 1)]
    assert link.pending == 0


def test_an_abandoned_message_is_skipped_not_waited_for() -> None:
    acks = Acks()
    link = Connection(acks)
    refused, after = link.receive(1, 1), link.receive(2, 1)
    after.release()
    assert acks.sent == []
    refused.abandon()
    assert acks.sent == [(2, 1)]
    refused.release()  # its handler returning later acknowledges nothing
    assert acks.sent == [(2, 1)]


class Later:
    """The scheduler a connection arms when a message waits behind an unfinished one:
    the test fires what is due by hand."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, delay_s: float, callback: Callable[[], None]) -> None:
        self.calls.append((delay_s, callback))

    def fire(self) -> None:
        calls, self.calls = self.calls, []
        for _, callback in calls:
            callback()


def test_a_message_stuck_for_stuck_s_is_passed(caplog: pytest.LogCaptureFixture) -> None:
    """The store is down: one event cannot be committed. The states done behind it
    wait STUCK_S; then they are acknowledged (the broker's in-flight window must not
    fill up and stop the help presses behind them), in their order, as is every one
    done while the event still waits; the event when it is committed; one warning."""
    acks, later = Acks(), Later()
    link = Connection(acks, later)
    stuck = link.receive(1, 1)
    stuck.hold()
    stuck.release()
    for mid in (2, 3):
        link.receive(mid, 1).release()
    assert acks.sent == []
    assert [delay for delay, _ in later.calls] == [STUCK_S]  # armed once
    later.fire()
    assert acks.sent == [(2, 1), (3, 1)]
    link.receive(4, 1).release()  # while it is still stuck: at once
    assert acks.sent[-1] == (4, 1)
    stuck.release()  # committed at last
    assert acks.sent == [(2, 1), (3, 1), (4, 1), (1, 1)]
    after = link.receive(5, 1)
    after.release()
    assert acks.sent[-1] == (5, 1)
    assert link.pending == 0
    assert [r.levelname for r in caplog.records] == ["WARNING"]


def test_a_head_that_finishes_in_time_keeps_the_order() -> None:
    """The timer fires after the slow message has finished: nothing out of order; a
    later slow head is waited for anew."""
    acks, later = Acks(), Later()
    link = Connection(acks, later)
    slow, quick = link.receive(1, 1), link.receive(2, 1)
    slow.hold()
    slow.release()
    quick.release()
    slow.release()  # committed within STUCK_S
    later.fire()
    assert acks.sent == [(1, 1), (2, 1)]
    second, behind = link.receive(3, 1), link.receive(4, 1)
    second.hold()
    second.release()
    behind.release()
    assert acks.sent == [(1, 1), (2, 1)]
    assert len(later.calls) == 1  # armed for the new head
    second.release()
    assert acks.sent == [(1, 1), (2, 1), (3, 1), (4, 1)]


def test_many_messages_behind_a_slow_one_cost_no_more_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """50,000 messages done behind one unfinished message (a retained replay behind an
    event being committed): each is acknowledged once, and the receipts are looked at
    a bounded number of times each, not in a walk of all those waiting per message
    (that walk stalled a 60,000-message drain)."""
    acks = Acks()
    link = Connection(acks)
    looks = 0
    passable = Receipt._passable.fget
    assert passable is not None

    def counted(receipt: Receipt) -> bool:
        nonlocal looks
        looks += 1
        return passable(receipt)

    monkeypatch.setattr(Receipt, "_passable", property(counted))
    slow = link.receive(1, 1)
    slow.hold()
    slow.release()
    count = 50_000
    for mid in range(2, count + 2):
        link.receive(mid, 1).release()
    slow.release()
    assert sorted(acks.sent) == [(mid, 1) for mid in range(1, count + 2)]
    assert looks < 4 * count
    assert len(link._order) == 0
    assert len(link._early) == 0
