"""No correctness depends on ``$share`` (issue 16): two ``tryggbo serve`` instances on
one PostgreSQL and one Mosquitto, each subscribed to every device message (no
``TRYGGBO_SHARED_GROUP``). The store decides which instance raises an alarm (one
active alarm per kind and device, migration 0007) and counts each event key once; only
the site leader (the scheduler's lease) escalates."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.site import EXAMPLE_SITE, Site
from controller.store import SqlStore
from controller.store.alarm_records import AlarmRecord
from devices.contract import Channel, Event, LockState, SiteTopics, encode
from tests.conftest import BrokerUnderTest
from tests.pg_server import scratch_pg_database
from tests.reliability_fixtures import mqtt_client, private_broker, publish_fire

from .served import ServedController
from .test_help_press_confirmed import BOUND_S, confirmations, screen_running, wait_confirmed

NAMES = ("ctl-one", "ctl-two")
#: the escalation test's interval: longer than the few seconds it watches each step for
#: a second one (none may come), short enough not to wait minutes
ESCALATE_S = 10
#: the scheduler lease a SIGKILLed leader holds until it expires (ControllerConfig)
LEASE_TTL_S = 6


@asynccontextmanager
async def two_instances(
    site: Site, pg_url: str | None, directory: Path, site_path: Path = EXAMPLE_SITE
) -> AsyncIterator[tuple[BrokerUnderTest, list[ServedController], SqlStore]]:
    """A private Mosquitto, two instances on one scratch PostgreSQL, neither in a
    shared group, and the store they share."""
    if pg_url is None:
        pytest.skip("no PostgreSQL installed")
    async with (
        private_broker(site, directory) as broker,
        scratch_pg_database(pg_url) as db_url,
        AsyncExitStack() as stack,
    ):
        instances = []
        for name in NAMES:
            served = ServedController(
                broker,
                db_url,
                directory / f"{name}.log",
                env={"TRYGGBO_CLIENT_ID": name},
                site_path=site_path,
            )
            instances.append(served)
            stack.push_async_callback(served.stop)
        await instances[0].prepare()
        instances[1].token = instances[0].token
        for served in instances:
            await served.start()
        store = SqlStore(db_url)
        await store.open()
        stack.push_async_callback(store.close)
        yield broker, instances, store


async def each_handled(instances: list[ServedController], kind: str, device: str) -> None:
    """Until every instance has raised ``kind`` for ``device``, found it raised by the
    other, or found its event counted already (its log says which: an instance that
    heard of the other's alarm first only counts the event)."""
    handled = re.compile(rf"alarm \d+(: | raised: ){kind} {device}\b")
    async with asyncio.timeout(BOUND_S):
        while not all(handled.search(s.log_text()) for s in instances):  # noqa: ASYNC110
            await asyncio.sleep(0.1)


async def alarms_of(store: SqlStore, kind: str) -> list[AlarmRecord]:
    return await store.alarms(limit=1000, kinds={kind})


async def escalated_to(store: SqlStore, step: int) -> bool:
    return any(a.escalations >= step for a in await alarms_of(store, "help"))


async def test_one_fire_signal_raises_one_fire_alarm(
    example_site: Site, pg_url: str | None, tmp_path: Path
) -> None:
    async with two_instances(example_site, pg_url, tmp_path) as (broker, instances, store):
        await publish_fire(broker, "alarm")
        await each_handled(instances, "fire", "site")
        [fire] = await alarms_of(store, "fire")
        assert (fire.state, fire.details["count"]) == ("open", 1)


async def test_eight_presses_seen_by_both_instances_raise_one_alarm_each(
    example_site: Site, pg_url: str | None, tmp_path: Path
) -> None:
    screens = [d.id for _a, d in example_site.devices() if d.type == "screen"][:8]
    async with (
        two_instances(example_site, pg_url, tmp_path) as (broker, instances, store),
        AsyncExitStack() as running,
    ):
        presses = []
        for device in screens:
            screen = await running.enter_async_context(screen_running(broker, device))
            got = confirmations(screen)
            presses.append((screen.press_help(), got))
        for press, got in presses:
            await wait_confirmed(got, press, BOUND_S)
        for device in screens:
            await each_handled(instances, "help", device)
        helps = await alarms_of(store, "help")
        assert sorted(a.device or "" for a in helps) == sorted(screens)
        assert [a.details["count"] for a in helps] == [1] * 8


async def test_a_jammed_lock_seen_by_both_instances_raises_one_alarm(
    example_site: Site, pg_url: str | None, tmp_path: Path
) -> None:
    lock = "a101-lock"
    topics = SiteTopics(example_site.slug)
    async with two_instances(example_site, pg_url, tmp_path) as (broker, instances, store):
        now = datetime.now(UTC)
        state = LockState(seq=1, ts=now, lock="jammed", door="closed", battery=80)
        jammed = Event(type="jammed", ts=now, seq=2, target="unlocked")
        async with mqtt_client(broker, lock, broker.credentials.device(lock)) as device:
            await device.publish(topics.device(lock, Channel.STATE), encode(state), qos=1)
            await device.publish(topics.device(lock, Channel.EVENT), encode(jammed), qos=1)
        await each_handled(instances, "jammed", lock)
        [alarm] = await alarms_of(store, "jammed")
        assert (alarm.device, alarm.state) == (lock, "open")


async def test_escalation_runs_once_per_step_on_the_leader(
    example_site: Site, pg_url: str | None, tmp_path: Path
) -> None:
    """A site copy escalating after :data:`ESCALATE_S` seconds: step 1 by the leader;
    the leader is SIGKILLed and step 2 comes from the other instance, once."""
    site_path = tmp_path / "site.toml"
    text = EXAMPLE_SITE.read_text()
    assert "escalate_after_minutes = 5" in text
    site_path.write_text(
        text.replace("escalate_after_minutes = 5", f"escalate_after_seconds = {ESCALATE_S}")
    )
    device = "a104-screen"
    async with (
        two_instances(example_site, pg_url, tmp_path, site_path) as (broker, instances, store),
        screen_running(broker, device) as screen,
    ):
        got = confirmations(screen)
        press = screen.press_help()
        await wait_confirmed(got, press, BOUND_S)
        await each_handled(instances, "help", device)
        by_name = dict(zip(NAMES, instances, strict=True))
        for step in (1, 2):
            async with asyncio.timeout(ESCALATE_S + LEASE_TTL_S + BOUND_S):
                while not await escalated_to(store, step):  # noqa: ASYNC110 (its store)
                    await asyncio.sleep(0.5)
            # a few ticks of both instances with the step due (an observation, not a sync)
            await asyncio.sleep(3)
            [alarm] = await alarms_of(store, "help")
            assert alarm.escalations == step
            leader = await store.lease_holder("scheduler", datetime.now(UTC))
            assert leader in by_name
            escalated = {
                name: s.log_text().count(f"alarm {alarm.id} escalated ({step})")
                for name, s in by_name.items()
            }
            assert escalated == {name: int(name == leader) for name in NAMES}
            if step == 1:
                by_name[leader].kill()
