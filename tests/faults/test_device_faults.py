"""Misbehaving devices: one that drops off mid-command, one that reports out of order,
one that floods, one whose clock is far off."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from controller.bus_messages import DeviceEvent, MessageDropped
from devices.clock import Clock
from devices.contract import Channel, Event, SiteTopics, encode
from devices.firmware.lock import SimulatedLock
from tests.conftest import BrokerUnderTest
from tests.integration.harness import RunningController, RunningHome

from .execution_counter import count_executions


class SkewedClock:
    """A device clock ``offset`` away from real time."""

    def __init__(self, real: Clock, offset: timedelta) -> None:
        self.real = real
        self.offset = offset

    def now(self) -> datetime:
        return self.real.now() + self.offset

    def monotonic(self) -> float:
        return self.real.monotonic()


async def test_device_dropping_off_mid_command_gets_timeout_then_offline_then_converges(
    rel_ctl: RunningController, rel_home: RunningHome
) -> None:
    lock = rel_home.home["a206-lock"]
    assert isinstance(lock, SimulatedLock)
    status, body = await rel_ctl.command("a206-lock", "lock")
    assert (status, body["outcome"]) == (200, "ok"), body
    lock.faults.ack_delay_s = 1.0  # executes, then the radio dies before the ack
    try:
        with count_executions(rel_home.home) as executions:
            pending = asyncio.create_task(
                rel_ctl.command("a206-lock", "unlock", reason="care visit", timeout_s=2)
            )
            await lock.wait_state(lambda s: s.lock == "unlocked", timeout=5)
            lock.go_offline()
            status, body = await pending
            assert (status, body["outcome"]) == (504, "timeout"), body
            await rel_ctl.wait_twin("a206-lock", lambda t: t.reachability.value == "offline")
            status, body = await rel_ctl.command("a206-lock", "lock", reason="care visit")
            assert (status, body["outcome"]) == (504, "offline"), body
            assert sum(executions.values()) == 1  # the offline command was never sent
    finally:
        lock.faults.ack_delay_s = 0
        lock.come_online()
    twin = await rel_ctl.wait_twin(
        "a206-lock", lambda t: t.reachability.value == "online" and t.reported.lock == "unlocked"
    )
    assert twin.reported.lock == lock.state.lock
    status, body = await rel_ctl.command("a206-lock", "lock")
    assert (status, body["outcome"]) == (200, "ok"), body


async def test_out_of_order_state_is_dropped(
    rel_ctl: RunningController, rel_home: RunningHome, rel_broker: BrokerUnderTest
) -> None:
    twin = rel_ctl.controller.twins.get("a115-lock")
    assert twin is not None
    assert twin.reported is not None
    current = twin.reported
    older = dict(
        current.model_dump(mode="json", by_alias=True),
        seq=max(current.seq - 1, 0),
        lock="unlocked" if current.lock == "locked" else "locked",
    )
    topics = SiteTopics(rel_broker.site.slug)
    device = rel_home.home["a115-lock"].link  # its own connection and login
    with rel_ctl.controller.bus.subscribe(MessageDropped) as drops:
        await device.publish_raw(topics.device("a115-lock", Channel.STATE), json.dumps(older))
        msg = await drops.get(timeout=5)
    assert msg == MessageDropped("out_of_order", "a115-lock")
    assert twin.reported is current


async def test_flooding_device_is_rate_limited_logged_and_still_commandable(
    rel_ctl: RunningController,
    rel_home: RunningHome,
    rel_broker: BrokerUnderTest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    flood = 400
    device = "a112-screen"
    topics = SiteTopics(rel_broker.site.slug)
    flooder = rel_home.home[device].link  # its own connection and login
    limit = rel_ctl.controller.reports.rate_limit
    accepted = limited = 0
    with (
        caplog.at_level(logging.WARNING, logger="controller.device_reports"),
        rel_ctl.controller.bus.subscribe(DeviceEvent, MessageDropped, queue_size=0) as seen,
    ):
        started = asyncio.get_running_loop().time()
        for i in range(flood):
            event = Event(type="touched", ts=datetime.now(UTC), seq=10**6 + i)
            await flooder.publish_raw(topics.device(device, Channel.EVENT), encode(event))
        # while flooding, the device still answers commands (acks are never limited)
        status, body = await rel_ctl.command(device, "set_brightness", args={"brightness": 55})
        assert (status, body["outcome"]) == (200, "ok"), body
        elapsed = asyncio.get_running_loop().time() - started
        async with asyncio.timeout(20):
            while accepted + limited < flood:
                msg = await seen.get()
                if isinstance(msg, DeviceEvent):
                    accepted += msg.device == device and msg.type == "touched"
                elif device in msg.topic:
                    limited += msg.reason == "rate_limited"
    assert limited > 0
    assert accepted <= limit.burst + limit.per_s * (elapsed + 1)
    floods = [r for r in caplog.records if "floods" in r.getMessage() and device in r.getMessage()]
    assert len(floods) == 1  # said once, not once per message
    # another device is not affected
    status, body = await rel_ctl.command("a113-screen", "set_brightness", args={"brightness": 56})
    assert (status, body["outcome"]) == (200, "ok"), body


@pytest.mark.parametrize(
    ("offset", "outcome"),
    [(timedelta(hours=2), "rejected"), (timedelta(hours=-2), "ok")],
    ids=["clock-ahead", "clock-behind"],
)
async def test_device_clock_far_off(
    offset: timedelta, outcome: str, rel_ctl: RunningController, rel_home: RunningHome
) -> None:
    """The controller never trusts device time for twins or records (its own clock);
    a device clock ahead refuses every command as expired (refused, never run late);
    one behind runs them (the id memory still refuses replays, see tests/security)."""
    lock = rel_home.home["a116-lock"]
    assert isinstance(lock, SimulatedLock)
    real = lock.clock
    lock.clock = SkewedClock(real, offset)
    try:
        with rel_ctl.controller.bus.subscribe(DeviceEvent, queue_size=0) as events:
            lock.press_inside_handle()  # an event and a state stamped with the wrong time
            twin = await rel_ctl.wait_twin("a116-lock", lambda t: t.reported.lock == "unlocked")
            assert twin.reachability.value == "online"
            assert abs(twin.reported.ts - datetime.now(UTC) - offset) < timedelta(minutes=1)
            assert abs(twin.last_seen - datetime.now(UTC)) < timedelta(minutes=1)
            async with asyncio.timeout(10):  # the state goes out before the event
                while True:
                    seen = await events.get()
                    if (seen.device, seen.type) == ("a116-lock", "unlocked_from_inside"):
                        break
        await rel_ctl.controller.events.flush()
        status, body = await rel_ctl.call("GET", "/api/events?device=a116-lock&limit=5")
        [event] = [e for e in body["events"] if e["type"] == "unlocked_from_inside"][:1]
        assert abs(datetime.fromisoformat(event["ts"]) - datetime.now(UTC)) < timedelta(minutes=1)
        status, body = await rel_ctl.command("a116-lock", "lock", reason="technician")
        assert body["outcome"] == outcome, body
        if outcome == "rejected":
            assert body["error"] == "expired"
            assert lock.state.lock == "unlocked"
    finally:
        lock.clock = real
    status, body = await rel_ctl.command("a116-lock", "lock")
    assert (status, body["outcome"]) == (200, "ok"), body


async def test_events_resent_after_a_lost_link_are_stored_once(
    rel_ctl: RunningController, rel_home: RunningHome, caplog: pytest.LogCaptureFixture
) -> None:
    """A device sends again the events the broker acknowledged just before its link was
    lost (the broker may not have delivered them); the controller keeps each once."""
    lock = rel_home.home["a115-lock"]
    assert isinstance(lock, SimulatedLock)
    ctl = rel_ctl.controller
    caplog.set_level(logging.DEBUG, logger="controller.device_reports")
    with ctl.bus.subscribe(DeviceEvent, queue_size=0) as events:

        async def next_event(type_: str) -> DeviceEvent:
            async with asyncio.timeout(10):
                while True:
                    msg = await events.get()
                    if msg.device == lock.device_id and msg.type == type_:
                        return msg

        lock.press_inside_handle()
        first = await next_event("unlocked_from_inside")
        lock.link.drop()  # within the resend window: this event goes out again
        await lock.wait_online()
        lock.press_inside_handle()  # sent after the repeat on the same connection
        second = await next_event("unlocked_from_inside")
    assert first.details["seq"] != second.details["seq"]
    repeat = f"a115-lock: event seq {first.details['seq']} again"
    assert any(repeat in r.getMessage() for r in caplog.records), "no repeat arrived"
    status, body = await rel_ctl.command("a115-lock", "lock")
    assert (status, body["outcome"]) == (200, "ok"), body
