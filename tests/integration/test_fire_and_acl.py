"""Evacuation without the controller, and the per-device broker ACL."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from devices.contract import (
    Availability,
    Channel,
    LockState,
    SiteTopics,
    decode,
)
from tests.conftest import BrokerUnderTest
from tests.reliability_fixtures import mqtt_client, publish_fire

from .harness import RunningController, RunningHome, wait_all_online


async def test_fire_alarm_unlocks_every_lock_with_the_controller_stopped(
    ctl: RunningController, home: RunningHome, mosquitto: BrokerUnderTest
) -> None:
    topics = SiteTopics(mosquitto.site.slug)
    locks = [d.id for _a, d in mosquitto.site.devices() if d.type == "lock"]
    assert len(locks) == 24
    # start from every door locked (all at once, as the dashboard's "lock all" does)
    before = await asyncio.gather(
        *(ctl.command(lock, "lock", reason="before fire drill") for lock in locks)
    )
    for status, body in before:
        assert status in (200, 409), body
    await ctl.stop()
    states: dict[str, LockState] = {}
    observer = mosquitto.observer()
    async with mqtt_client(mosquitto, "test-fire-observer", observer) as obs:
        await obs.subscribe(topics.controller_availability, qos=1)
        await obs.subscribe(topics.all_devices(Channel.STATE), qos=1)
        async with asyncio.timeout(5):
            async for msg in obs.messages:
                if str(msg.topic) == topics.controller_availability:
                    assert msg.payload == Availability.OFFLINE.value.encode()
                    break
        await publish_fire(mosquitto, "alarm")
        async with asyncio.timeout(5):
            async for msg in obs.messages:
                device = str(msg.topic).split("/")[3]
                if device in locks:
                    states[device] = decode(LockState, msg.payload)
                if len(states) == 24 and all(
                    s.lock == "unlocked" and s.fire for s in states.values()
                ):
                    break
    await publish_fire(mosquitto, "normal")
    await ctl.restart()
    await wait_all_online(ctl.controller)
    for lock in locks:  # back to normal does not relock: staff do, by hand
        twin = ctl.controller.twins.get(lock)
        assert twin.reported.lock == "unlocked"
    after = await asyncio.gather(
        *(ctl.command(lock, "lock", reason="after fire drill") for lock in locks)
    )
    for lock, (status, body) in zip(locks, after, strict=True):
        assert (status, body["outcome"]) == (200, "ok"), (lock, body)


async def test_device_cannot_publish_under_another_devices_topics(
    ctl: RunningController, home: RunningHome, mosquitto: BrokerUnderTest
) -> None:
    topics = SiteTopics(mosquitto.site.slug)
    bad = home.home["a111-screen"].link  # a screen's own connection and login
    victim_twin = ctl.controller.twins.get("a101-lock")
    victim_state = victim_twin.reported
    spy_login = mosquitto.observer()
    async with mqtt_client(mosquitto, "test-acl-spy", spy_login) as spy:
        await spy.subscribe(topics.device("a101-lock", Channel.STATE), qos=1)
        await spy.subscribe(topics.device("a101-lock", Channel.CMD), qos=1)
        await spy.subscribe(topics.fire, qos=1)
        await spy.subscribe(f"{topics.root}/acl-marker", qos=1)
        forged = dict(victim_state.model_dump(mode="json"), lock="unlocked", seq=10**9)
        import json

        await bad.publish_raw(topics.device("a101-lock", Channel.STATE), json.dumps(forged))
        await bad.publish_raw(topics.device("a101-lock", Channel.CMD), b"{}")
        await bad.publish_raw(topics.fire, b'{"state":"alarm","ts":"2026-01-01T00:00:00Z"}')
        await spy.publish(f"{topics.root}/acl-marker", b"end", qos=1)
        seen = []
        async with asyncio.timeout(5):
            async for msg in spy.messages:
                if str(msg.topic).endswith("acl-marker"):
                    break
                if not msg.retain:
                    seen.append(str(msg.topic))
    assert seen == [], f"the ACL let through {seen}"
    assert ctl.controller.twins.get("a101-lock").reported.seq < 10**9


async def test_wrong_password_is_refused(mosquitto: BrokerUnderTest) -> None:
    login = mosquitto.credentials.device("a101-lock").model_copy(update={"password": "x" * 20})
    with pytest.raises(aiomqtt.MqttError):
        async with mqtt_client(mosquitto, "test-wrong-password", login):
            pass
