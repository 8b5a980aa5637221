"""The alarm notes instances send each other (controller/store/live.py) and the change
name the relay pushes for them (controller/live_relay.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from controller.bus_messages import AlarmChanged
from controller.event_bus import EventBus
from controller.live_relay import LiveRelay, pushed_change
from controller.store.alarm_records import AlarmRecord
from controller.store.live import AlarmNote, live_channel


def test_each_site_schema_has_its_own_channel_within_postgresql_limits() -> None:
    assert live_channel(None) == "tryggbo_live_public"
    assert live_channel("solgarden") != live_channel("bjorkbacken")
    long_a, long_b = "a" * 63, "a" * 62 + "b"
    assert len(live_channel(long_a)) <= 63
    assert live_channel(long_a) != live_channel(long_b)


def test_a_note_survives_its_payload_and_garbage_is_no_note() -> None:
    note = AlarmNote("instance-1", 42, "escalate")
    assert AlarmNote.parse(note.payload()) == note
    for garbage in (
        "",
        "{",
        "[]",
        '{"origin": "x"}',
        '{"origin": "x", "alarm": "y", "change": "z"}',
    ):
        assert AlarmNote.parse(garbage) is None


def test_the_relay_pushes_the_change_name_the_making_instance_pushed() -> None:
    alarm = AlarmRecord(
        kind="help", apartment="101", device="a101-screen", state="acknowledged",
        raised_at=datetime(2026, 12, 3, 20, 0, tzinfo=UTC),
    )  # fmt: skip
    names = {c: pushed_change(AlarmNote("o", 1, c), alarm) for c in
             ("raise", "repeat", "escalate", "note", "ack", "mystery")}  # fmt: skip
    assert names == {
        "raise": "raised",
        "repeat": "repeated",
        "escalate": "escalated",
        "note": "noted",
        "ack": "acknowledged",
        "mystery": "mystery",
    }


async def test_the_relay_publishes_other_instances_changes_only_and_survives_a_bad_read() -> None:
    stored = AlarmRecord(
        id=7, kind="help", apartment="101", device="a101-screen", state="open",
        raised_at=datetime(2026, 12, 3, 20, 0, tzinfo=UTC),
    )  # fmt: skip

    async def read_alarm(alarm_id: int) -> AlarmRecord | None:
        if alarm_id == 13:
            raise RuntimeError("store down")
        return stored if alarm_id == 7 else None

    bus = EventBus()
    relay = LiveRelay(
        dsn="postgresql://unused", channel="c", instance_id="me", read_alarm=read_alarm, bus=bus
    )
    with bus.subscribe(AlarmChanged) as sub:
        await relay._relay_one(AlarmNote("me", 7, "raise").payload())  # its own: pushed
        await relay._relay_one(AlarmNote("other", 99, "raise").payload())  # gone
        # through the listener's queue: a failed read and garbage skipped, not fatal
        relay._heard(None, 0, "c", AlarmNote("other", 13, "raise").payload())
        relay._heard(None, 0, "c", "not json")
        relay._heard(None, 0, "c", AlarmNote("other", 7, "raise").payload())
        task = asyncio.create_task(relay._relay())
        try:
            got = await asyncio.wait_for(sub.get(), timeout=5)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert (got.alarm.id, got.change) == (7, "raised")
    assert relay.relayed == 1
