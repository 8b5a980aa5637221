"""The Home Assistant bridge against real Mosquitto: a separate broker plays Home
Assistant's; discovery payloads are checked against HA's documented schema, and an
HA-style command becomes an audited command through the bus with the HA actor."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import aiomqtt
import pytest

from controller.auth.accounts import ensure_user
from controller.ha_bridge import HaBridge, HaBridgeConfig, HaOutcome
from devices.clock import SystemClock
from devices.mqtt import BrokerAddress
from tests.ops.ha_broker import ha_broker_fixture, retained  # noqa: F401
from tests.ops.ha_schema import problems

from .harness import RunningController, RunningHome

HA_USER = "home-assistant"


@pytest.fixture(scope="module")
async def bridge(ctl: RunningController, ha_broker: BrokerAddress) -> AsyncIterator[HaBridge]:
    await ensure_user(
        ctl.controller.store,
        username=HA_USER,
        password="ett långt lösen för ha 1",
        roles=["staff"],
        units=["A"],  # wing A only: a limit set by the admin
        now=SystemClock().now(),
    )
    running = HaBridge(ctl.controller, HaBridgeConfig(broker=ha_broker, user=HA_USER))
    task = asyncio.create_task(running.run())
    async with asyncio.timeout(10):
        await running.connected.wait()
    yield running
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def next_outcome(bridge: HaBridge, device: str) -> HaOutcome:
    async with asyncio.timeout(15):
        while True:
            outcome = await bridge.outcomes.get()
            if outcome.device == device:
                return outcome


async def test_discovery_payloads_match_home_assistants_schema(
    bridge: HaBridge, ha_broker: BrokerAddress, ctl: RunningController
) -> None:
    site = ctl.controller.site
    kinds = [d.type.value for a in site.apartments for d in a.devices]
    # one entity per lock and curtain, two per screen, and the site's refusal event
    expected = kinds.count("lock") + kinds.count("curtain") + 2 * kinds.count("screen") + 1
    configs = await retained(ha_broker, "homeassistant/#", expected)
    assert len(configs) == expected
    components = {}
    for topic, raw in configs.items():
        prefix, component, node, _object, leaf = topic.split("/")
        assert (prefix, node, leaf) == ("homeassistant", f"tryggbo_{site.slug}", "config")
        config = json.loads(raw)
        assert problems(component, config) == [], (topic, problems(component, config))
        components.setdefault(component, []).append(config)
    assert sorted(components) == ["cover", "event", "lock", "number", "switch"]
    lock = next(c for c in components["lock"] if c["unique_id"].startswith("tryggbo_solgarden_a1"))
    assert lock["payload_lock"] == "LOCK"
    assert lock["payload_unlock"] == "UNLOCK"
    assert lock["command_topic"] != lock["state_topic"]
    cover = components["cover"][0]
    assert cover["device_class"] == "curtain"
    assert {"position_topic", "set_position_topic", "command_topic"} <= set(cover)
    everything = b"".join(configs.values()).decode()
    residents = [a.resident for a in site.apartments if a.resident]
    assert residents
    assert [r for r in residents if r in everything] == []  # no names go to Home Assistant
    unique = [c["unique_id"] for group in components.values() for c in group]
    assert len(unique) == len(set(unique))


async def test_state_and_availability_are_published(
    bridge: HaBridge, ha_broker: BrokerAddress
) -> None:
    got = await retained(ha_broker, "tryggbo-ha/solgarden/a101-lock/#", 2)
    assert got["tryggbo-ha/solgarden/a101-lock/availability"] == b"online"
    assert got["tryggbo-ha/solgarden/a101-lock/lock/state"] in (b"LOCKED", b"UNLOCKED")
    bridge_state = await retained(ha_broker, "tryggbo-ha/solgarden/bridge/availability", 1)
    assert list(bridge_state.values()) == [b"online"]


async def test_home_assistant_command_goes_through_the_bus_audited_as_its_user(
    bridge: HaBridge, ha_broker: BrokerAddress, ctl: RunningController, home: RunningHome
) -> None:
    async with aiomqtt.Client(ha_broker.host, ha_broker.port, identifier="ha-test-writer") as ha:
        await ha.publish("tryggbo-ha/solgarden/a102-curtain/cover/set_position", b"30", qos=1)
        outcome = await next_outcome(bridge, "a102-curtain")
    assert (outcome.action, outcome.outcome) == ("set_position", "ok")
    await ctl.wait_twin(
        "a102-curtain", lambda t: t.reported is not None and t.reported.position == 30
    )
    assert home.home.devices["a102-curtain"].state.position == 30
    audit = await ctl.controller.store.audit(limit=10, device="a102-curtain")
    mine = [r for r in audit if r.actor == HA_USER and r.action == "set_position"]
    assert {r.kind.value for r in mine} >= {"issued", "resolved"}
    assert all(r.reason == "Home Assistant" for r in mine)
    position = await retained(ha_broker, "tryggbo-ha/solgarden/a102-curtain/cover/position", 1)
    assert list(position.values()) == [b"30"]


async def test_home_assistant_is_refused_what_its_user_may_not_do(
    bridge: HaBridge, ha_broker: BrokerAddress, ctl: RunningController
) -> None:
    wing_b = next(a for a in ctl.controller.site.apartments if a.wing == "B")
    curtain = next(d.id for d in wing_b.devices if d.type.value == "curtain")
    before = len(await ctl.controller.store.audit(limit=1000, device=curtain))
    async with aiomqtt.Client(ha_broker.host, ha_broker.port, identifier="ha-test-writer") as ha:
        await ha.subscribe(bridge.topics.refusals, qos=1)  # what HA's event entity shows
        await ha.publish(f"tryggbo-ha/solgarden/{curtain}/cover/set", b"CLOSE", qos=1)
        outcome = await next_outcome(bridge, curtain)
        assert outcome.outcome == "refused"
        await ha.publish("tryggbo-ha/solgarden/a101-lock/lock/set", b"UNLOCK", qos=1)
        unlock = await next_outcome(bridge, "a101-lock")
        assert unlock.outcome == "refused"
        assert "ha_allow_unlock" in (unlock.detail or "")
        await ha.publish("tryggbo-ha/solgarden/a101-screen/brightness/set", b"lots", qos=1)
        bad = await next_outcome(bridge, "a101-screen")
        assert bad.outcome == "bad_command"
        events = []
        async with asyncio.timeout(10):
            async for message in ha.messages:
                events.append(json.loads(message.payload))  # type: ignore[arg-type]
                if len(events) == 2:
                    break
    assert [(e["event_type"], e["device"]) for e in events] == [
        ("not_permitted", curtain),
        ("unlock_off", "a101-lock"),
    ]
    assert len(await ctl.controller.store.audit(limit=1000, device=curtain)) == before
    refusals = await ctl.controller.store.activity(limit=10, actor=HA_USER, action="refused")
    subjects = {r.subject for r in refusals}
    assert f"Home Assistant: close {curtain}" in subjects
    assert "Home Assistant: unlock a101-lock" in subjects
