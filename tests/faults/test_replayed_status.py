"""A replayed status is not fresh news: devices drop off (their last wills fire), the
broker dies and comes back holding their older retained ``online`` (Mosquitto restored
from its last autosave); the controller's twins stay ``offline`` and a command to an
absent lock is answered ``offline`` at once, not ``timeout`` after 10 s."""

from __future__ import annotations

import asyncio
import time

from controller.bus_messages import MessageDropped, TwinChanged
from controller.ops.brokers import MosquittoProcess
from devices.contract import Channel, SiteTopics
from tests.conftest import BrokerUnderTest
from tests.integration.harness import RunningController, RunningHome
from tests.reliability_fixtures import mqtt_client

ABSENT = ("a215-lock", "a215-curtain", "a216-screen")


async def _stale_save(broker: BrokerUnderTest) -> None:
    """Model Mosquitto's stale autosave with the broker down: on its persistence, a
    broker on another port (so the controller cannot reach it) gets each absent
    device's retained ``online`` and saves it on a clean stop. QoS 0: nothing is queued
    for the controller's session, so the controller can only get it as a replay."""
    other = MosquittoProcess(broker.credentials, broker.process.directory)
    await asyncio.to_thread(other.start)
    try:
        topics = SiteTopics(broker.site.slug)
        address = BrokerUnderTest(other, broker.site, broker.credentials, broker.credentials_file)
        for device in ABSENT:
            login = broker.credentials.device(device)
            async with mqtt_client(address, f"test-stale-{device}", login) as client:
                await client.publish(
                    topics.device(device, Channel.AVAILABILITY), "online", qos=0, retain=True
                )
        for device in ABSENT:  # held before the save (a QoS 0 publish has no PUBACK)
            assert await _retained_availability(address, device) == "online"
    finally:
        await asyncio.to_thread(other.stop)  # SIGTERM: Mosquitto saves its store


async def _retained_availability(broker: BrokerUnderTest, device: str) -> str:
    """What the broker holds for ``device`` (read with the controller's login, which may
    read every device topic, under another client id)."""
    topic = SiteTopics(broker.site.slug).device(device, Channel.AVAILABILITY)
    async with mqtt_client(broker, f"test-read-{device}", broker.observer()) as client:
        await client.subscribe(topic, qos=1)
        async with asyncio.timeout(5):
            async for message in client.messages:
                assert message.retain
                return bytes(message.payload).decode()  # type: ignore[arg-type]
    raise AssertionError("no retained availability")


async def test_a_replayed_online_does_not_bring_back_devices_that_dropped_off(
    rel_ctl: RunningController, rel_home: RunningHome, rel_broker: BrokerUnderTest
) -> None:
    ctl = rel_ctl.controller
    try:
        for device in ABSENT:
            rel_home.home[device].go_offline()  # no DISCONNECT: the broker fires the will
        for device in ABSENT:
            await rel_ctl.wait_twin(device, lambda t: t.reachability.value == "offline")
        last_seen = {d: ctl.twins.get(d).last_seen for d in ABSENT}  # type: ignore[union-attr]
        with ctl.bus.subscribe(MessageDropped, TwinChanged, queue_size=0) as seen:
            await asyncio.to_thread(rel_broker.stop, kill=True)
            await _stale_save(rel_broker)
            await asyncio.to_thread(rel_broker.start)
            # wait until the controller has taken each replayed online: ignored (a
            # drop) or believed (its twin shown online again)
            replayed: set[str] = set()
            async with asyncio.timeout(30):  # the link's reconnect backoff is at most 5 s
                while replayed != set(ABSENT):
                    message = await seen.get()
                    if isinstance(message, MessageDropped):
                        if message.reason == "replayed_status":
                            replayed.add(message.topic)
                    elif message.reachability.value == "online":
                        replayed.add(message.id)
                    replayed &= set(ABSENT)
        # the broker did replay an online for each of them ...
        for device in ABSENT:
            assert await _retained_availability(rel_broker, device) == "online"
        # ... and the controller kept what it had learned live
        for device in ABSENT:
            twin = ctl.twins.get(device)
            assert twin is not None
            assert twin.reachability.value == "offline", device
            assert twin.last_seen == last_seen[device], device
        started = time.monotonic()
        status, body = await rel_ctl.command("a215-lock", "unlock", reason="care visit")
        assert (status, body["outcome"], body["error"]) == (504, "offline", "device is offline")
        assert time.monotonic() - started < 1.0  # at once, nothing sent
        assert ctl.reports.dropped.counts["replayed_status"] >= len(ABSENT)
    finally:
        for device in ABSENT:
            rel_home.home[device].come_online()
    for device in ABSENT:
        await rel_ctl.wait_twin(device, lambda t: t.reachability.value == "online", timeout=30)
