"""The Home Assistant bridge under faults, on real parts: the reliability suite's own
Mosquitto, simulated home and controller (tests/reliability_fixtures.py), and a second
Mosquitto playing Home Assistant's broker. The bridge runs beside the controller as
the daemon runs it, and is restarted with it.

- A retained ``UNLOCK`` on Home Assistant's broker (unlocking allowed, the user
  entitled) is refused when the bridge starts and again after a restart: the door
  stays locked, the refusal is in the activity log, and Home Assistant sees it (the
  refusal event fires, then the lock's real state is published again).
- The bridge's availability follows the controller's link to the site's broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
import pytest

from controller.auth.accounts import ensure_user, random_password
from controller.ha_bridge import HaBridge, HaBridgeConfig, HaTopics
from controller.ha_bridge.bridge import LINK_POLL_S
from devices.clock import SystemClock
from devices.mqtt import BrokerAddress
from tests.conftest import BrokerUnderTest
from tests.integration.harness import RunningController, RunningHome, wait_all_online
from tests.ops.ha_broker import ha_broker_fixture  # noqa: F401

pytestmark = pytest.mark.integration

HA_USER = "home-assistant"
LOCK = "a101-lock"
TIMEOUT = 10.0


@dataclass
class HaSide:
    """What Home Assistant's broker carries on some topics, in order of arrival."""

    client: aiomqtt.Client
    seen: list[tuple[str, bytes, bool]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def read(self) -> None:
        async for message in self.client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            self.seen.append((message.topic.value, payload, message.retain))
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()

    async def wait_for(
        self, match: Callable[[str, bytes], bool], *, since: int = 0, timeout: float = TIMEOUT
    ) -> int:
        """The index of the first message from ``since`` on that ``match`` accepts."""
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed
                for i in range(since, len(self.seen)):
                    if match(self.seen[i][0], self.seen[i][1]):
                        return i
                await changed.wait()


@contextlib.asynccontextmanager
async def watching(ha_broker: BrokerAddress, *topics: str) -> AsyncIterator[HaSide]:
    client = aiomqtt.Client(ha_broker.host, ha_broker.port, identifier="ha-fault-watcher")
    async with client:
        for topic in topics:
            await client.subscribe(topic, qos=1)
        side = HaSide(client)
        reader = asyncio.create_task(side.read())
        try:
            yield side
        finally:
            reader.cancel()


@contextlib.asynccontextmanager
async def bridge_running(
    ctl: RunningController, ha_broker: BrokerAddress, **settings: Any
) -> AsyncIterator[HaBridge]:
    """The bridge as the daemon runs it, unlocking allowed (``ha_allow_unlock``);
    ``settings``: other :class:`HaBridgeConfig` fields."""
    config = HaBridgeConfig(broker=ha_broker, user=HA_USER, allow_unlock=True, **settings)
    bridge = HaBridge(ctl.controller, config)
    task = asyncio.create_task(bridge.run())
    try:
        yield bridge
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def ha_user(rel_ctl: RunningController) -> str:
    """Home Assistant's Tryggbo user: staff of every wing (entitled to unlock)."""
    await ensure_user(
        rel_ctl.controller.store,
        username=HA_USER,
        password=random_password(HA_USER),
        roles=["staff"],
        units=["A", "B"],
        now=SystemClock().now(),
    )
    return HA_USER


async def test_retained_unlock_from_home_assistant_is_refused_at_start_and_after_restart(
    rel_ctl: RunningController,
    rel_home: RunningHome,
    ha_broker: BrokerAddress,
    ha_user: str,
) -> None:
    topics = HaTopics(rel_ctl.controller.site.slug)
    set_topic, state_topic = (
        topics.entity(LOCK, "lock", "set"),
        topics.entity(LOCK, "lock", "state"),
    )
    status, body = await rel_ctl.command(LOCK, "lock", reason="retained test")
    assert (status, body["outcome"]) == (200, "ok"), body
    writer = aiomqtt.Client(ha_broker.host, ha_broker.port, identifier="ha-fault-writer")
    async with writer, watching(ha_broker, topics.refusals, state_topic) as ha:
        await writer.publish(set_topic, b"UNLOCK", qos=1, retain=True)
        try:
            for restart in (False, True):
                if restart:
                    await rel_ctl.restart()
                    await wait_all_online(rel_ctl.controller)
                since = len(ha.seen)
                async with bridge_running(rel_ctl, ha_broker) as bridge:
                    event = await ha.wait_for(lambda t, _p: t == topics.refusals, since=since)
                    refusal = json.loads(ha.seen[event][1])
                    assert refusal["event_type"] == "retained_command"
                    assert (refusal["device"], refusal["action"]) == (LOCK, "unlock")
                    assert not ha.seen[event][2]  # HA ignores a retained event
                    # then the lock's real state again: HA's UI snaps back to it
                    snap = await ha.wait_for(lambda t, _p: t == state_topic, since=event)
                    assert ha.seen[snap][1] == b"LOCKED"
                    assert bridge.admission.counts == {"retained_command": 1}
                assert rel_home.home[LOCK].state.lock == "locked"
                twin = rel_ctl.controller.twins.get(LOCK)
                assert twin is not None
                assert twin.reported is not None
                assert twin.reported.lock == "locked"
        finally:
            await writer.publish(set_topic, b"", qos=1, retain=True)

        # The refusal was the retain flag's alone: the same UNLOCK sent live is executed.
        async with bridge_running(rel_ctl, ha_broker) as bridge:
            async with asyncio.timeout(TIMEOUT):
                await bridge.connected.wait()
                await writer.publish(set_topic, b"UNLOCK", qos=1)
                outcome = await bridge.outcomes.get()
            assert (outcome.action, outcome.outcome) == ("unlock", "ok"), outcome
    store = rel_ctl.controller.store
    refusals = await store.activity(limit=20, actor=HA_USER, action="refused")
    retained = [r for r in refusals if (r.details or {}).get("refusal") == "retained_command"]
    assert len(retained) >= 2  # the start and the restart
    assert retained[0].subject == f"Home Assistant: unlock {LOCK}"
    audit = await store.audit(limit=50, device=LOCK)
    unlocks = [r for r in audit if r.actor == HA_USER and r.action == "unlock"]
    assert {r.kind.value for r in unlocks} == {"issued", "resolved"}  # the live one only
    assert len(unlocks) == 2
    status, body = await rel_ctl.command(LOCK, "lock", reason="retained test done")
    assert (status, body["outcome"]) == (200, "ok"), body


async def test_bridge_availability_follows_the_site_broker_link(
    rel_ctl: RunningController,
    rel_broker: BrokerUnderTest,
    ha_broker: BrokerAddress,
    ha_user: str,
) -> None:
    topics = HaTopics(rel_ctl.controller.site.slug)
    is_state = {
        s: (lambda t, p, s=s: t == topics.bridge_availability and p == s.encode())
        for s in ("online", "offline")
    }
    link = rel_ctl.controller.link
    async with (
        watching(ha_broker, topics.bridge_availability) as ha,
        bridge_running(rel_ctl, ha_broker) as bridge,
    ):
        await ha.wait_for(is_state["online"])
        since = len(ha.seen)
        stopped = time.monotonic()
        await asyncio.to_thread(rel_broker.stop)
        await ha.wait_for(is_state["offline"], since=since)
        down_s = time.monotonic() - stopped
        assert not link.connected.is_set()
        assert bridge.connected.is_set()  # Home Assistant's broker was never lost

        since, connects = len(ha.seen), link.connects
        await asyncio.to_thread(rel_broker.start)
        async with asyncio.timeout(20):
            await link.wait_connected(after=connects)
        linked = time.monotonic()
        await ha.wait_for(is_state["online"], since=since)
        up_s = time.monotonic() - linked
    print(
        f"HA saw the bridge offline {down_s:.2f} s after the site broker stopped, "
        f"online {up_s:.2f} s after the site link was back (poll {LINK_POLL_S} s)"
    )
    assert down_s < 2.0
    assert up_s < 2.0
