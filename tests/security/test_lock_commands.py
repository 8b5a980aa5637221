"""Lock commands: a replayed capture is refused (id memory and expiry), a command
signed with another lock's key is refused, a screen's MQTT login cannot command a lock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from devices.contract import (
    Ack,
    Channel,
    Command,
    SiteTopics,
    decode,
    encode,
    new_command,
    sign_command,
)
from devices.firmware.lock import SimulatedLock
from tests.conftest import BrokerUnderTest
from tests.faults.execution_counter import count_executions
from tests.integration.harness import RunningController, RunningHome
from tests.reliability_fixtures import mqtt_client


async def _capture_unlock(
    ctl: RunningController, broker: BrokerUnderTest, lock: str
) -> tuple[bytes, str]:
    """Unlock ``lock`` through the API while sniffing its cmd topic (a capture)."""
    topics = SiteTopics(broker.site.slug)
    async with mqtt_client(broker, "test-sniffer", broker.observer()) as sniffer:
        await sniffer.subscribe(topics.device(lock, Channel.CMD), qos=1)
        status, body = await ctl.command(lock, "unlock", reason="care visit")
        assert (status, body["outcome"]) == (200, "ok"), body
        async with asyncio.timeout(5):
            async for msg in sniffer.messages:
                command = decode(Command, msg.payload)
                if command.id == body["command_id"]:
                    return bytes(msg.payload), command.id
    raise AssertionError("unreachable")


async def _publish_and_ack(
    broker: BrokerUnderTest, lock: str, payload: bytes, command_id: str
) -> Ack:
    """Publish a command as the controller's login would and wait for the lock's ack."""
    topics = SiteTopics(broker.site.slug)
    async with mqtt_client(broker, "test-attacker", broker.observer()) as attacker:
        await attacker.subscribe(topics.device(lock, Channel.ACK), qos=1)
        await attacker.publish(topics.device(lock, Channel.CMD), payload, qos=1)
        async with asyncio.timeout(5):
            async for msg in attacker.messages:
                ack = decode(Ack, msg.payload)
                if ack.id == command_id:
                    return ack
    raise AssertionError("unreachable")


async def test_replayed_lock_command_is_refused(
    rel_ctl: RunningController, rel_home: RunningHome, rel_broker: BrokerUnderTest
) -> None:
    lock = rel_home.home["a211-lock"]
    assert isinstance(lock, SimulatedLock)
    captured, command_id = await _capture_unlock(rel_ctl, rel_broker, "a211-lock")
    status, body = await rel_ctl.command("a211-lock", "lock", reason="care visit over")
    assert (status, body["outcome"]) == (200, "ok"), body
    with count_executions(rel_home.home) as executions:
        # replay at once: the id is remembered, the old ack is repeated, nothing runs
        await _publish_and_ack(rel_broker, "a211-lock", captured, command_id)
        # after a power cycle too (the id memory is in flash)
        await lock.reboot()
        await _publish_and_ack(rel_broker, "a211-lock", captured, command_id)
    assert executions[command_id] == 0
    assert lock.state.lock == "locked"


async def test_expired_capture_with_forgotten_id_is_refused(
    rel_ctl: RunningController, rel_home: RunningHome, rel_broker: BrokerUnderTest
) -> None:
    """Even once the lock has forgotten the id, the capture has expired."""
    lock = rel_home.home["a212-lock"]
    assert isinstance(lock, SimulatedLock)
    captured, command_id = await _capture_unlock(rel_ctl, rel_broker, "a212-lock")
    status, body = await rel_ctl.command("a212-lock", "lock")
    assert (status, body["outcome"]) == (200, "ok"), body
    lock._gate._recent.pop(command_id)  # as if 1024 newer commands had pushed it out
    real = lock.clock
    lock.clock = _Later(real, timedelta(minutes=5))
    try:
        ack = await _publish_and_ack(rel_broker, "a212-lock", captured, command_id)
    finally:
        lock.clock = real
    assert (ack.status.value, ack.error) == ("rejected", "expired")
    assert lock.state.lock == "locked"


class _Later:
    def __init__(self, real, offset: timedelta) -> None:  # type: ignore[no-untyped-def]
        self.real, self.offset = real, offset

    def now(self) -> datetime:
        return self.real.now() + self.offset

    def monotonic(self) -> float:
        return float(self.real.monotonic())


async def test_command_signed_with_another_locks_key_is_refused(
    rel_ctl: RunningController, rel_home: RunningHome, rel_broker: BrokerUnderTest
) -> None:
    victim = rel_home.home["a213-lock"]
    assert isinstance(victim, SimulatedLock)
    status, body = await rel_ctl.command("a213-lock", "lock")
    assert (status, body["outcome"]) == (200, "ok"), body
    other_key = rel_broker.credentials.device("a214-lock").key
    now = datetime.now(UTC)
    with count_executions(rel_home.home) as executions:
        for device_in_signature in ("a213-lock", "a214-lock"):
            command = new_command("unlock", {}, "attacker", now, ttl=timedelta(seconds=30))
            forged = sign_command(command, device_in_signature, other_key)
            ack = await _publish_and_ack(rel_broker, "a213-lock", encode(forged), forged.id)
            assert (ack.status.value, ack.error) == ("rejected", "bad_signature")
            assert executions[forged.id] == 0
    assert victim.state.lock == "locked"


async def test_screen_login_cannot_command_a_lock_over_mqtt(
    rel_ctl: RunningController, rel_home: RunningHome, rel_broker: BrokerUnderTest
) -> None:
    """The broker ACL drops it: the lock never sees the command (its own apartment's
    screen, signed with the right key even, to show the ACL alone stops it)."""
    lock = rel_home.home["a214-lock"]
    assert isinstance(lock, SimulatedLock)
    status, body = await rel_ctl.command("a214-lock", "lock")
    assert (status, body["outcome"]) == (200, "ok"), body
    topics = SiteTopics(rel_broker.site.slug)
    key = rel_broker.credentials.device("a214-lock").key
    command = sign_command(
        new_command("unlock", {}, "screen", datetime.now(UTC), ttl=timedelta(seconds=30)),
        "a214-lock",
        key,
    )
    screen = rel_home.home["a214-screen"].link  # its own connection and login
    spy_login = rel_broker.observer()
    async with mqtt_client(rel_broker, "test-acl-spy", spy_login) as spy:
        await spy.subscribe(topics.device("a214-lock", Channel.CMD), qos=1)
        await spy.subscribe(f"{topics.root}/acl-marker", qos=1)
        await screen.publish_raw(topics.device("a214-lock", Channel.CMD), encode(command))
        await spy.publish(f"{topics.root}/acl-marker", b"end", qos=1)
        seen = []
        async with asyncio.timeout(5):
            async for msg in spy.messages:
                if str(msg.topic).endswith("acl-marker"):
                    break
                seen.append(str(msg.topic))
    assert seen == []
    assert lock.state.lock == "locked"
