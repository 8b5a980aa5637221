"""A retained command on a lock's ``cmd`` topic, signed with the lock's own key and
far from expiry (so only the retain flag stops it), against the suite's real
Mosquitto: never executed, neither on the first connect, nor after the lock
reconnects (a reboot: the broker replays it to the new subscription), nor after a
restart of the firmware (a new process: no memory of command ids)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from devices.contract import AckStatus, Channel, encode, new_command, sign_command
from devices.firmware import SimulatedLock
from devices.mqtt import QOS, make_client

from .probe import CLOCK, controller_client, new, probing

pytestmark = pytest.mark.integration

LOCK = "a114-lock"


async def test_retained_command_is_not_executed_after_reconnect_or_restart(broker: Any) -> None:
    creds = broker.credentials.device(LOCK)
    first = new(SimulatedLock, broker, LOCK)
    # A fresh session: a copy queued in an old one would arrive without the retain flag.
    async with make_client(
        broker.address,
        identifier=first.client_id,
        username=creds.username,
        password=creds.password,
        persistent=False,
    ):
        pass
    stray = new_command("unlock", {}, "x", CLOCK.now(), ttl=timedelta(minutes=10))
    stray = sign_command(stray, LOCK, creds.key)
    async with controller_client(broker) as client:
        await client.publish(first.topic(Channel.CMD), encode(stray), qos=QOS, retain=True)
        try:
            async with probing(broker, first) as probe:
                # a later command's ack: everything delivered before it was handled
                assert (await probe.command("ping")).status is AckStatus.OK
                assert first._gate.admission.counts == {"retained_command": 1}
                await first.reboot()  # reconnects and subscribes again
                assert (await probe.command("ping")).status is AckStatus.OK
                assert first._gate.admission.counts == {"retained_command": 2}
                assert probe.acks(stray.id) == []
                assert first.state.lock == "locked"
            restarted = new(SimulatedLock, broker, LOCK)
            async with probing(broker, restarted) as probe:
                assert (await probe.command("ping")).status is AckStatus.OK
                assert restarted._gate.admission.counts == {"retained_command": 1}
                assert probe.acks(stray.id) == []
                assert "unlocking" not in [s.lock for s in probe.states()]
                assert restarted.state.lock == "locked"
        finally:
            await client.publish(first.topic(Channel.CMD), b"", qos=QOS, retain=True)
