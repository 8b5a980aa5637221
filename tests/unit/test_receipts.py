"""Receipts: a message is acknowledged once, after the last piece of its work is
durable, and never on a connection that dropped; the event writer holds receipts
until the commit and sets aside the one event the store refuses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from controller.event_writer import EventWriter
from controller.receipts import Connection, detached
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
