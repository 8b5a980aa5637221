"""`tryggbo provision`: its output starts a real Mosquitto; the provisioned device
connects and works, is held to its own topics, and a wrong password is refused."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import pytest

from config.credentials import load_credentials
from config.site import load_site
from controller.ops.brokers import free_port
from devices.clock import SystemClock
from devices.contract import Ack, Channel, SiteTopics, decode, encode, new_command, sign_command
from devices.firmware import make_device
from devices.mqtt import BrokerAddress, make_client

from .conftest import SMALL_SITE, invoke, run_cli

COMMENT = "# the comment provisioning must keep"


@pytest.fixture
def site_files(tmp_path: Path) -> tuple[Path, Path]:
    site = tmp_path / "site.toml"
    site.write_text(f"{COMMENT}\n{SMALL_SITE}", encoding="utf-8")
    return site, tmp_path / "var" / "credentials.json"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_provisioned_device_on_a_broker_from_the_provisioning_output(
    site_files: tuple[Path, Path],
    tmp_path: Path,
    launch_broker: Callable[[Path, int], bool],
) -> None:
    site_file, creds_file = site_files
    added = await run_cli(
        "provision", "add", "--apartment", "102", "--type", "lock",
        "--site", str(site_file), "--credentials", str(creds_file), "--json",
    )  # fmt: skip
    assert added.code == 0, added.stderr
    body = json.loads(added.stdout)
    assert body["device"] == "a102-lock"
    assert "password" not in body
    site = load_site(site_file)
    assert site.device("a102-lock") is not None
    assert COMMENT in site_file.read_text()
    creds = load_credentials(creds_file)
    lock_login = creds.device("a102-lock")
    assert lock_login.password not in added.stdout + added.stderr
    assert _mode(creds_file) == 0o600

    port = free_port()
    out = tmp_path / "broker"
    run_as = ["--run-as", "root"] if os.geteuid() == 0 else []
    made = await run_cli(
        "provision", "broker-config", "--credentials", str(creds_file), "--out", str(out),
        "--port", str(port), "--log-file", str(tmp_path / "mosquitto.log"), "--json", *run_as,
    )  # fmt: skip
    assert made.code == 0, made.stderr
    for name in ("mosquitto.conf", "passwd", "acl"):
        assert _mode(out / name) == 0o600
    assert await asyncio.to_thread(launch_broker, out / "mosquitto.conf", port)
    address = BrokerAddress("127.0.0.1", port)
    topics = SiteTopics(site.slug)

    # The provisioned lock connects with its own login and answers a signed command.
    lock = make_device(
        "lock", site.slug, "a102-lock", address, lock_login, clock=SystemClock(), heartbeat_s=60
    )
    task = asyncio.create_task(lock.run())
    controller = make_client(
        address,
        identifier="test-provision-controller",
        username=creds.controller.username,
        password=creds.controller.password,
        persistent=False,
    )
    try:
        await lock.wait_online(10)
        async with controller:
            await controller.subscribe(f"{topics.root}/#", qos=1)
            command = sign_command(
                new_command("ping", {}, "test", datetime.now(UTC)), "a102-lock", lock_login.key
            )
            await controller.publish(topics.device("a102-lock", Channel.CMD), encode(command), 1)
            async with asyncio.timeout(10):
                async for msg in controller.messages:
                    if str(msg.topic) == topics.device("a102-lock", Channel.ACK):
                        ack = decode(Ack, bytes(msg.payload))  # type: ignore[arg-type]
                        if ack.id == command.id:
                            assert ack.status.value == "ok"
                            break

            # As the lock: publishing under another device or the controller is dropped
            # by the broker; a marker on its own topic (sent last) gets through.
            forbidden = [
                topics.device("a101-lock", Channel.STATE),
                topics.device("a101-lock", Channel.ACK),
                topics.device("a101-curtain", Channel.CMD),
                topics.controller_availability,
                topics.fire,
            ]
            marker = topics.device("a102-lock", Channel.EVENT)
            async with make_client(
                address,
                identifier="test-provision-as-lock",
                username=lock_login.username,
                password=lock_login.password,
                persistent=False,
            ) as as_lock:
                for topic in forbidden:
                    await as_lock.publish(topic, b'{"forged":true}', qos=1)
                await as_lock.publish(marker, b'{"marker":true}', qos=1)
            seen = []
            async with asyncio.timeout(10):
                async for msg in controller.messages:
                    seen.append(str(msg.topic))
                    if str(msg.topic) == marker:
                        break
            assert not set(seen) & set(forbidden), seen

        # A wrong password is refused.
        wrong = make_client(
            address,
            identifier="test-provision-wrong",
            username=lock_login.username,
            password=lock_login.password + "x",
            persistent=False,
        )
        with pytest.raises(aiomqtt.MqttError):
            async with wrong:
                pass
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_rotate_changes_the_secret_and_the_broker_files(
    site_files: tuple[Path, Path], tmp_path: Path
) -> None:
    site_file, creds_file = site_files
    first = await run_cli(
        "provision", "add", "--apartment", "101", "--type", "curtain", "--id", "a101-window",
        "--site", str(site_file), "--credentials", str(creds_file),
    )  # fmt: skip
    assert first.code == 0, first.stderr
    before = load_credentials(creds_file).device("a101-window")
    out = tmp_path / "broker"
    rotated = await run_cli(
        "provision", "rotate", "a101-window", "--credentials", str(creds_file),
        "--broker-dir", str(out), "--show-secret", "--json",
    )  # fmt: skip
    assert rotated.code == 0, rotated.stderr
    after = load_credentials(creds_file).device("a101-window")
    assert after.password != before.password
    assert after.hmac_key != before.hmac_key
    assert json.loads(rotated.stdout)["password"] == after.password  # asked for: shown
    assert "a101-window:$7$" in (out / "passwd").read_text()
    assert "user a101-window" in (out / "acl").read_text()


def test_provision_bad_input_changes_nothing(site_files: tuple[Path, Path]) -> None:
    site_file, creds_file = site_files
    before = site_file.read_text()
    cases = [
        (("--apartment", "999", "--type", "lock"), "no apartment '999'"),
        (("--apartment", "101", "--type", "toaster"), "is not one of"),
        (("--apartment", "101", "--type", "lock"), "already exists"),
        (("--apartment", "101", "--type", "lock", "--id", "Bad Id!"), "must match"),
    ]
    common = ("--site", str(site_file), "--credentials", str(creds_file))
    for args, message in cases:
        result = invoke("provision", "add", *args, *common)
        assert result.code == 2, (args, result)
        assert message in result.stderr, (args, result.stderr)
    assert site_file.read_text() == before
    assert not creds_file.exists()
    missing = invoke("provision", "rotate", "a101-lock", "--credentials", str(creds_file))
    assert missing.code == 2
    assert "does not exist" in missing.stderr
