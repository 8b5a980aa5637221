"""The bus messages instances send each other (controller/live_wire.py) and the relay's
choices about them (controller/live_relay.py): others' published once, marked as
theirs, never sent back; long ones in parts."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from controller.bus_messages import (
    CallChanged,
    CallOwnerMessage,
    CallScreenMessage,
    CommandResolved,
)
from controller.command_bus import Outcome
from controller.event_bus import EventBus
from controller.live_relay import LiveRelay
from controller.live_wire import PART_CHARS, Parts, decode, encode

TS = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)
COMMAND = CommandResolved(
    "c1", "a101-door", "unlock", Outcome.OK, None, {"locked": False}, 12.5, "anna", "help", TS
)


@pytest.mark.parametrize(
    "msg",
    [
        COMMAND,
        CallChanged("k1", "101", "a101-screen", "active"),
        CallScreenMessage("a101-screen", {"type": "call_start", "call_id": "k1"}),
        CallOwnerMessage("k1", "a101-screen", "signal", {"sdp": "v=0"}),
    ],
)
def test_a_relayed_message_survives_its_payload(msg: object) -> None:
    [payload] = encode(msg, "other")  # type: ignore[arg-type]
    assert len(payload.encode()) < 8000
    origin, back = decode(json.loads(payload))
    assert origin == "other"
    if isinstance(msg, CommandResolved):
        assert back == CommandResolved(**{**_fields(msg), "origin": "other"})
    else:
        assert back == msg


def _fields(msg: CommandResolved) -> dict[str, object]:
    return {f: getattr(msg, f) for f in msg.__slots__}  # type: ignore[attr-defined]


def test_a_long_offer_travels_in_parts_each_short_enough_for_notify() -> None:
    sdp = 'a=candidate:1 1 udp 2122260223 127.0.0.1 "quoted" \\ 5000\r\n' * 400
    msg = CallOwnerMessage("k1", "a101-screen", "signal", {"type": "offer", "sdp": sdp})
    payloads = encode(msg, "other")
    assert len(payloads) > 1
    assert all(len(p.encode()) < 8000 for p in payloads)
    parts = Parts()
    wholes = [parts.add(json.loads(p)) for p in payloads]
    assert wholes[:-1] == [None] * (len(payloads) - 1)
    assert wholes[-1] is not None
    assert decode(wholes[-1]) == ("other", msg)
    assert PART_CHARS * (len(payloads) - 1) < len(json.dumps(sdp))


def test_a_missed_part_loses_its_message_and_garbage_is_refused() -> None:
    msg = CallScreenMessage("a101-screen", {"type": "signal", "data": "x" * 3 * PART_CHARS})
    first, _second, third, *_ = encode(msg, "other")
    parts = Parts()
    assert parts.add(json.loads(first)) is None
    with pytest.raises(ValueError, match="out of order"):
        parts.add(json.loads(third))
    for garbage in ({}, {"part": "p", "n": 0, "of": 0, "d": ""}, {"part": "p", "n": 0}):
        with pytest.raises(ValueError, match="not a part"):
            parts.add(garbage)
    for garbage in ({}, {"o": "x", "k": "mystery", "m": {}}, {"o": "x", "k": "command", "m": {}}):
        with pytest.raises(ValueError, match="not a relayed message"):
            decode(garbage)


async def test_the_relay_publishes_others_messages_once_and_sends_back_none_of_them() -> None:
    async def no_alarm(_alarm_id: int) -> None:
        return None

    bus = EventBus()
    relay = LiveRelay(
        dsn="postgresql://unused", channel="c", instance_id="me", read_alarm=no_alarm, bus=bus
    )
    sent: list[list[str]] = []
    local_sent = asyncio.Event()

    async def send(payloads: list[str]) -> None:  # the connection's part
        sent.append(payloads)
        local_sent.set()

    relay._send = send  # type: ignore[method-assign]
    local = CallChanged("k2", "101", "a101-screen", "ringing")
    with bus.subscribe(CommandResolved) as sub:
        [mine] = encode(COMMAND, "me")
        [theirs] = encode(COMMAND, "other")
        await relay._relay_one(mine)  # its own, heard back: not published again
        await relay._relay_one(theirs)  # another's: published here, not sent back
        bus.publish(local)  # this instance's own: sent
        sender = asyncio.create_task(relay._send_all())
        try:
            await asyncio.wait_for(local_sent.wait(), timeout=5)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        assert [m.origin for m in sub.drain()] == ["other"]
    assert [decode(json.loads(p))[1] for [p] in sent] == [local]
    assert relay.relayed == 1


async def test_a_message_that_cannot_be_encoded_is_counted_and_the_next_ones_go_on() -> None:
    async def no_alarm(_alarm_id: int) -> None:
        return None

    bus = EventBus()
    relay = LiveRelay(
        dsn="postgresql://unused", channel="c", instance_id="me", read_alarm=no_alarm, bus=bus
    )
    sent: list[str] = []
    got_one = asyncio.Event()

    async def send(payloads: list[str]) -> None:
        sent.extend(payloads)
        got_one.set()

    relay._send = send  # type: ignore[method-assign]
    bad = CommandResolved("c2", "a101-door", "unlock", Outcome.OK, None, {"x": object()},
                          1.0, "anna", None, TS)  # fmt: skip
    good = CallChanged("k3", "101", "a101-screen", "ended")
    sender = asyncio.create_task(relay._send_all())
    try:
        bus.publish(bad)
        bus.publish(good)
        await asyncio.wait_for(got_one.wait(), timeout=5)
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
    assert [decode(json.loads(p))[1] for p in sent] == [good]
    assert relay.unsent == 1
