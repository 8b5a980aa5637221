"""Issue 15, items 13-15 on real processes: the daemon's files are its user's alone
(``tryggbo serve`` and ``tryggbo demo``), the embedded demo broker lets in only the
site's logins and holds each to its topics, and the demo prints no token in a URL
query."""

from __future__ import annotations

import asyncio
import re
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from config.credentials import MqttLogin, ensure_credentials
from config.site import Site
from controller.ops.brokers import EmbeddedBroker
from devices.contract import Channel, FireSignal, SiteTopics, encode
from devices.mqtt import make_client
from tests.faults.served import served_controller
from tests.integration.test_demo import demo_process
from tests.reliability_fixtures import private_broker


def _open_to_others(root: Path) -> list[str]:
    """Files and directories under ``root`` that others than their owner may use."""
    return [
        f"{path.relative_to(root)} {stat.filemode(path.stat().st_mode)}"
        for path in [root, *root.rglob("*")]
        if path.stat().st_mode & 0o077
    ]


# ------------------------------------------------------------ 13. file modes


async def test_serve_keeps_its_store_and_files_to_itself(
    tmp_path: Path, example_site: Site
) -> None:
    """A store left 0644 (an older version, or made by hand) is tightened with its
    -wal/-shm; what the daemon writes (firmware images) is 0600."""
    async with (
        private_broker(example_site, tmp_path / "broker") as broker,
        served_controller(broker, tmp_path / "daemon") as served,
    ):
        store = tmp_path / "daemon" / "served.sqlite"
        store.chmod(0o644)
        await served.start()
        status, body = await served.call(  # a write: the -wal and -shm exist
            "POST",
            "/api/firmware?type=lock&version=9.9",
            data=b"firmware image",
            headers={"Content-Type": "application/octet-stream"},
        )
        assert status == 201, body
        files = sorted(p.name for p in (tmp_path / "daemon").rglob("*"))
        assert {"served.sqlite-wal", "served.sqlite-shm", "firmware"} <= set(files), files
        daemons = [f for f in _open_to_others(tmp_path / "daemon") if "served.log" not in f]
        assert daemons == []  # (served.log is the test's copy of the daemon's output)
    assert "store file" in served.log_text()  # it said it tightened the store


@pytest.mark.parametrize("broker_flag", [[], ["--embedded"]], ids=["mosquitto", "embedded"])
async def test_the_demo_keeps_its_files_to_itself_and_prints_no_token_in_a_query(
    tmp_path: Path, broker_flag: list[str]
) -> None:
    data = tmp_path / "demo"
    async with demo_process(data, *broker_flag) as demo:
        await demo.health(lambda body: body["devices"]["online"] >= 71)
        files = {p.name for p in data.rglob("*")}
        assert {"tryggbo.sqlite", "tryggbo.sqlite-wal", "credentials.json"} <= files, files
        assert _open_to_others(data) == []
    banner = demo.printed
    assert demo.token in banner
    assert not re.search(r"[?&](token|t)=", banner), banner
    assert "anonymous" not in banner


# ---------------------------------------------------- 14. the embedded broker


def _client(broker: EmbeddedBroker, ident: str, login: MqttLogin | None) -> aiomqtt.Client:
    return make_client(
        broker.address,
        identifier=ident,
        username=login.username if login else None,
        password=login.password if login else None,
        persistent=False,
    )


def _granted(result: tuple[int, ...] | list[Any]) -> list[int]:
    return [int(getattr(code, "value", code)) for code in result]


async def test_the_embedded_broker_takes_only_site_logins_each_on_its_topics(
    tmp_path: Path, example_site: Site
) -> None:
    """The attack: an anonymous publish on the fire topic unlocked all 24 doors."""
    creds = ensure_credentials(example_site, tmp_path / "credentials.json")
    topics = SiteTopics(example_site.slug)
    fire = encode(FireSignal(state="alarm", ts=datetime.now(UTC)))
    own_state, own_cmd = (topics.device("a101-lock", c) for c in (Channel.STATE, Channel.CMD))
    other_cmd = topics.device("a102-lock", Channel.CMD)
    lock = creds.devices["a101-lock"]
    lock_login = MqttLogin(username=lock.username, password=lock.password)
    broker = EmbeddedBroker(creds, tmp_path / "broker")
    await broker.start()
    try:
        for ident, login in (
            ("anonymous", None),
            ("wrong-password", MqttLogin(username="a101-lock", password="x" * 24)),
        ):
            with pytest.raises(aiomqtt.MqttError):  # refused at connect
                async with _client(broker, ident, login):
                    pass
        async with (
            _client(broker, "ctl", creds.controller) as controller,
            _client(broker, "lock", lock_login) as device,
            _client(broker, "panel", creds.fire_panel) as panel,
        ):
            await controller.subscribe(f"{topics.root}/#", qos=1)
            # a device's login may not raise the fire alarm nor command another lock...
            await device.publish(topics.fire, fire, qos=1)
            await device.publish(other_cmd, b"{}", qos=1)
            # ...its own state and the fire panel's signal go through, in order
            await device.publish(own_state, b"{}", qos=1)
            await panel.publish(topics.fire, fire, qos=1)
            received: list[str] = []
            async with asyncio.timeout(5):
                async for message in controller.messages:
                    received.append(str(message.topic))
                    if len(received) == 2:
                        break
            assert received == [own_state, topics.fire]
            # nor may it listen to another device's commands; its own it gets
            assert _granted(await device.subscribe(other_cmd, qos=1)) == [0x80]
            assert _granted(await device.subscribe(own_cmd, qos=1)) == [1]
            await controller.publish(other_cmd, b"{}", qos=1)
            await controller.publish(own_cmd, b"{}", qos=1)
            async with asyncio.timeout(5):
                message = await anext(aiter(device.messages))
            assert str(message.topic) == own_cmd
    finally:
        await broker.stop()
