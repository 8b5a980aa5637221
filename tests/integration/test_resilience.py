"""Bad input, restarts of controller and broker, the fire alarm, and the broker ACL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from controller.bus_messages import MessageDropped
from devices.contract import Channel, SiteTopics
from tests.conftest import BrokerUnderTest

from .harness import (
    RunningController,
    RunningHome,
    start_controller,
    wait_all_online,
)


async def test_malformed_and_oversized_payloads_are_dropped(
    ctl: RunningController, home: RunningHome, mosquitto: BrokerUnderTest
) -> None:
    topics = SiteTopics(mosquitto.site.slug)
    screen = home.home["a112-screen"].link  # the screen's own connection and login
    twin = ctl.controller.twins.get("a112-screen")
    assert twin is not None
    assert twin.reported is not None
    before_state = twin.reported
    dropped_before = ctl.controller.reports.dropped.total
    bad = [
        (Channel.STATE, b"\xff\xfe not utf8"),
        (Channel.STATE, b"{not json"),
        (Channel.STATE, b"[1, 2, 3]"),
        (Channel.STATE, b'{"seq": "x"}'),
        (Channel.STATE, b'{"a": "' + b"x" * 17000 + b'"}'),
        (Channel.EVENT, b'{"type": "exploded", "ts": "2026-01-01T00:00:00Z", "seq": 1}'),
        (Channel.AVAILABILITY, b"maybe"),
        (Channel.META, b'{"type": "toaster"}'),
    ]
    with ctl.controller.bus.subscribe(MessageDropped) as drops:
        for channel, payload in bad:
            await screen.publish_raw(topics.device("a112-screen", channel), payload)
        reasons = [(await drops.get(timeout=10)).reason for _ in bad]
    assert sorted(reasons) == sorted(
        [
            "not_utf8",
            "not_json",
            "not_object",
            "invalid",
            "too_large",
            "unknown_event",
            "invalid",
            "invalid",
        ]
    )
    assert ctl.controller.reports.dropped.total == dropped_before + len(bad)
    assert twin.reported is before_state
    status, health = await ctl.call("GET", "/api/health")
    assert status == 200
    assert health["status"] == "ok"
    # and it still commands devices
    status, body = await ctl.command("a112-screen", "set_brightness", args={"brightness": 42})
    assert (status, body["outcome"]) == (200, "ok")


async def test_restarted_controller_rebuilds_every_twin_from_retained_messages(
    ctl: RunningController, mosquitto: BrokerUnderTest, tmp_path: Path
) -> None:
    # give one device a distinctive state first
    status, _ = await ctl.command("a201-screen", "set_brightness", args={"brightness": 17})
    assert status == 200
    expected = {t.id: t.reported for t in ctl.controller.twins.all()}
    second = await start_controller(
        mosquitto.address,
        mosquitto.site,
        mosquitto.credentials,
        tmp_path / "second.sqlite",
        client_id="test-second-ctl",
    )
    try:
        await wait_all_online(second.controller)
        rebuilt = {t.id: t.reported for t in second.controller.twins.all()}
        assert rebuilt.keys() == expected.keys()
        for device, state in expected.items():
            assert rebuilt[device] is not None
            # say which boot and time each side holds: a device that rebooted since
            # starts its seq afresh under a new boot id
            assert rebuilt[device].seq >= state.seq, (device, rebuilt[device], state)
        assert second.controller.twins.get("a201-screen").reported.brightness == 17
    finally:
        await second.stop()


async def test_broker_restart_controller_and_firmware_reconnect(
    ctl: RunningController, home: RunningHome, mosquitto: BrokerUnderTest
) -> None:
    connects = ctl.controller.link.connects
    await asyncio.to_thread(mosquitto.restart)
    async with asyncio.timeout(20):
        await ctl.controller.link.wait_connected(after=connects)
    # every device's own connection comes back by itself, then commands work again
    await wait_all_online(ctl.controller, timeout=30)
    status, body = await ctl.command("a202-lock", "unlock", reason="technician")
    assert (status, body["outcome"]) == (200, "ok"), body
    status, body = await ctl.command("a202-lock", "lock", reason="technician")
    assert (status, body["outcome"]) == (200, "ok"), body
