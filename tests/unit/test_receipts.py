"""Receipts: a message is acknowledged once, after the last piece of its work is
durable, and never on a connection that dropped; the event writer holds receipts
until the commit and sets aside the one event the store refuses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from controller.event_writer import EventWriter
from controller.receipts import ORDER_WINDOW, Connection, detached
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


def test_past_the_window_done_messages_pass_an_unfinished_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The store is down: one event cannot be committed. Once more than ORDER_WINDOW
    messages are unacknowledged (they count against the broker's in-flight window),
    those done are acknowledged anyway, in their order; the event only when committed,
    and one warning."""
    acks = Acks()
    link = Connection(acks)
    stuck = link.receive(1, 1)
    stuck.hold()
    stuck.release()
    for mid in range(2, ORDER_WINDOW + 1):  # ORDER_WINDOW unacknowledged with the event
        link.receive(mid, 1).release()
    assert acks.sent == []
    link.receive(ORDER_WINDOW + 1, 1).release()  # one more: past the window
    assert acks.sent == [(mid, 1) for mid in range(2, ORDER_WINDOW + 2)]
    later = link.receive(ORDER_WINDOW + 2, 1)
    later.release()
    assert acks.sent[-1] == (ORDER_WINDOW + 1, 1)  # back in order behind the event
    stuck.release()  # committed at last
    assert acks.sent[-2:] == [(1, 1), (ORDER_WINDOW + 2, 1)]
    assert link.pending == 0
    assert [r.levelname for r in caplog.records] == ["WARNING"]
