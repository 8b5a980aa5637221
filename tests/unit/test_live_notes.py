"""The alarm notes instances send each other (controller/store/live.py) and the change
name the relay pushes for them (controller/live_relay.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from controller.live_relay import pushed_change
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
