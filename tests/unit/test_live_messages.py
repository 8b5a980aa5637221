"""The WebSocket shows each typed bus message as it showed the old ``kind`` + dict: the
wire format the dashboard reads did not change with the typed bus."""

from __future__ import annotations

from datetime import UTC, datetime

from config.site import EXAMPLE_SITE, load_site
from controller.alarms.model import alarm_json
from controller.api.live_messages import LIVE_TYPES, live_message
from controller.bus_messages import (
    AlarmChanged,
    CallChanged,
    CommandResolved,
    DeviceEvent,
    FireChanged,
    MessageDropped,
    TwinChanged,
)
from controller.command_bus import CommandResult, Outcome
from controller.event_bus import EventBus
from controller.receipts import Receipt, detached
from controller.store.alarm_records import AlarmRecord
from controller.twins import TwinRegistry
from devices.contract import LockState
from scheduler.firings import FiringReport

SITE = load_site(EXAMPLE_SITE)
T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


def test_a_twin_is_shown_as_the_routes_show_it_and_made_once() -> None:
    registry = TwinRegistry(SITE)
    twin = registry.get("a101-lock")
    assert twin is not None
    registry.apply_state(
        twin, LockState(seq=3, ts=T0, lock="locked", door="closed", battery=77), T0
    )
    twin.desired = {"action": "lock", "args": {}, "at": T0.isoformat()}
    message = TwinChanged.of(twin)
    kind, data = live_message(message, SITE) or ("", {})
    assert (kind, data) == ("twin", twin.to_dict())
    assert data["state"]["battery"] == 77
    assert live_message(message, SITE) == ("twin", data)
    assert live_message(message, SITE)[1] is data  # type: ignore[index]  # once per message
    # a snapshot: the twin's next change does not change the message already sent
    registry.apply_state(
        twin, LockState(seq=4, ts=T0, lock="unlocked", door="closed", battery=76), T0
    )
    assert TwinChanged.of(twin).reported is not message.reported
    assert message.reported is not None
    assert message.reported.seq == 3


def test_an_event_has_its_key_and_again_only_when_it_has_them() -> None:
    stored = DeviceEvent(T0, "a101-lock", "door_opened", {"seq": 5}, receipt=detached())
    assert live_message(stored, SITE) == (
        "event",
        {"ts": T0.isoformat(), "device": "a101-lock", "type": "door_opened", "details": {"seq": 5}},
    )
    again = DeviceEvent(T0, "a101-screen", "help_pressed", {}, key="5@t", again=True)
    assert live_message(again, SITE) == (
        "event",
        {
            "ts": T0.isoformat(),
            "device": "a101-screen",
            "type": "help_pressed",
            "details": {},
            "key": "5@t",
            "again": True,
        },
    )


def test_a_command_outcome_is_the_result_with_who_why_and_when() -> None:
    result = CommandResult(
        "c1", "a101-lock", "unlock", Outcome.OK, None, {"lock": "unlocked"}, 12.345
    )
    message = CommandResolved.of(result, actor="anna", reason="care visit", ts=T0)
    assert live_message(message, SITE) == (
        "command",
        {**result.to_dict(), "actor": "anna", "reason": "care visit", "ts": T0.isoformat()},
    )


def test_fire_and_alarm() -> None:
    assert live_message(FireChanged("alarm", T0), SITE) == (
        "fire",
        {"state": "alarm", "ts": T0.isoformat()},
    )
    alarm = AlarmRecord(
        kind="help", apartment="101", device="a101-screen", state="open", raised_at=T0, id=3
    )
    assert live_message(AlarmChanged(alarm, "escalated"), SITE) == (
        "alarm",
        {**alarm_json(alarm, SITE), "change": "escalated", "escalated": True, "stored": True},
    )
    _, unstored = live_message(AlarmChanged(alarm, "raised", stored=False), SITE) or ("", {})
    assert (unstored["escalated"], unstored["stored"]) == (False, False)


def test_what_is_not_sent_live() -> None:
    for message in (
        CallChanged("call1", "101", "a101-screen", "ringing"),
        MessageDropped("not_json", "a101-lock"),
        FiringReport("night", T0, T0, "ok", {}),
    ):
        assert type(message) not in LIVE_TYPES
        assert live_message(message, SITE) is None


def test_a_subscriber_gets_only_the_types_it_named() -> None:
    bus = EventBus()
    fire = FireChanged("alarm", T0)
    dropped = MessageDropped("not_json", "a101-lock")
    with bus.subscribe(FireChanged) as fires, bus.subscribe() as everything:
        bus.publish(dropped)
        bus.publish(fire)
        assert fires.drain() == [fire]
        assert everything.drain() == [dropped, fire]


def test_a_receipt_is_held_only_by_a_subscriber_that_holds_receipts() -> None:
    bus = EventBus()
    receipt = Receipt(None)  # held once by its handler
    with (
        bus.subscribe(DeviceEvent, queue_size=0, holds_receipts=True) as alarms,
        bus.subscribe(DeviceEvent) as sockets,
    ):
        bus.publish(DeviceEvent(T0, "a101-screen", "help_pressed", {}, receipt=receipt))
        receipt.release()  # the handler is done
        assert not receipt.done  # the alarm subscriber holds it
        [held] = alarms.drain()
        assert held.receipt is receipt
        assert len(sockets.drain()) == 1
        held.receipt.release()
        assert receipt.done  # no hold for the socket's subscription
