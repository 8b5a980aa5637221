"""A node list whose first node refuses connections: the controller's link and a
device's link connect to the next one (real Mosquitto of the test's own; the first
"node" a free loopback port nobody listens on)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from config.site import Site
from controller.mqtt_link import MqttLink
from controller.ops.brokers import free_port
from devices.clock import SystemClock
from devices.contract import SiteTopics
from devices.firmware.home import make_device
from devices.mqtt import BrokerAddress, BrokerList
from tests.reliability_fixtures import private_broker


async def test_both_links_pass_a_refusing_node_and_connect_to_the_next(
    example_site: Site, tmp_path: Path
) -> None:
    async with private_broker(example_site, tmp_path) as broker:
        dead = BrokerAddress("127.0.0.1", free_port())
        nodes = BrokerList((dead, broker.address))
        link = MqttLink(
            nodes,
            SiteTopics(example_site.slug),
            broker.credentials.controller_login(),
            lambda _message, _receipt: None,
        )
        lock = make_device(
            "lock",
            example_site.slug,
            "a101-lock",
            nodes,
            broker.credentials.device("a101-lock"),
            clock=SystemClock(),
        )
        if lock.link.broker != dead:  # its client id picked the other first node
            lock.link.failover.failed()
        assert (link.broker, lock.link.broker) == (dead, dead)  # both start refused
        tasks = [asyncio.create_task(link.run()), asyncio.create_task(lock.run())]
        try:
            async with asyncio.timeout(15):
                await link.wait_connected()
                await lock.link.wait_online(timeout=None)
            assert link.broker == broker.address
            assert lock.link.broker == broker.address
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
