"""Home Assistant's side for the bridge tests: its own Mosquitto (anonymous, like a
small HA install) and a reader of what the bridge left retained there.

A test module takes the fixture with ``from tests.ops.ha_broker import
ha_broker_fixture  # noqa: F401`` and asks for ``ha_broker``."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator

import aiomqtt
import pytest

from controller.ops.brokers import find_mosquitto, free_port, wait_listening
from devices.mqtt import BrokerAddress


@pytest.fixture(scope="module", name="ha_broker")
def ha_broker_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerAddress]:
    """Home Assistant's own Mosquitto (anonymous, like a small HA install)."""
    root = tmp_path_factory.mktemp("ha-broker")
    port = free_port()
    conf = root / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    binary = find_mosquitto()
    assert binary, "mosquitto is not installed"
    proc = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:
        if not wait_listening("127.0.0.1", port, 10.0):
            pytest.fail("Home Assistant's test broker did not start")
        yield BrokerAddress("127.0.0.1", port)
    finally:
        proc.terminate()
        proc.wait(5)


async def retained(broker: BrokerAddress, pattern: str, count: int) -> dict[str, bytes]:
    """The first ``count`` retained messages under ``pattern`` (bounded wait)."""
    got: dict[str, bytes] = {}
    async with aiomqtt.Client(broker.host, broker.port, identifier="ha-test-reader") as client:
        await client.subscribe(pattern, qos=1)
        async with asyncio.timeout(10):
            async for message in client.messages:
                got[str(message.topic)] = bytes(message.payload)  # type: ignore[arg-type]
                if len(got) >= count:
                    break
    return got
