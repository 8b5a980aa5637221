"""PostgreSQL restarted under load (issue 16 item 5d), for real: a ``tryggbo serve`` on
a PostgreSQL of this module's own (durable commits) that is halted as a crash would and
started again while help presses, device events and commands flow.

While it is down a door command is refused (503 ``store_unavailable``) and never sent:
no door moves without its audit record. Presses and events are held, not acknowledged:
confirmed and stored only once the database is back, each once, with no restart of
Tryggbo; a controller SIGKILLed during the outage had acknowledged none of them, so the
broker hands them to it again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from config.site import Site
from devices.clock import SystemClock
from devices.contract import Channel, Event, SiteTopics, encode
from devices.firmware.lock import SimulatedLock
from tests.conftest import BrokerUnderTest
from tests.integration.harness import live_message
from tests.pg_server import LocalPostgres, find_pg_bin, scratch_pg_database
from tests.reliability_fixtures import mqtt_client, private_broker

from .served import ServedController
from .test_help_press_confirmed import BOUND_S, confirmations, screen_running, wait_confirmed
from .test_live_across_instances import command
from .test_no_shared_subscription import alarms_of, two_instances
from .test_survivor_dashboard import LIVE_BOUND_S, alarm_in, dashboard, relaying

LOCK = "a101-lock"
SCREENS = ("a102-screen", "a103-screen", "a104-screen", "a105-screen")
#: device events published straight to the broker while the database is down
OUTAGE_EVENTS = 50


@pytest.fixture(scope="module")
def halting_pg() -> Iterator[LocalPostgres]:
    """A PostgreSQL of this module's own, to halt and resume; commits are durable."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL installed (make system-deps)")
    server = LocalPostgres(bin_dir, durable=True)
    server.start()
    yield server
    server.stop()


@asynccontextmanager
async def served_on(
    site: Site, pg: LocalPostgres, directory: Path
) -> AsyncIterator[tuple[BrokerUnderTest, ServedController]]:
    """A private Mosquitto and one ``tryggbo serve`` on a scratch database of ``pg``;
    the server is running again whatever the test left it as."""
    async with (
        private_broker(site, directory) as broker,
        scratch_pg_database(pg.url) as db_url,
    ):
        served = ServedController(broker, db_url, directory / "served.log")
        await served.prepare()
        try:
            await served.start()
            yield broker, served
        finally:
            await served.stop()
            if not (pg.data / "postmaster.pid").exists():
                await asyncio.to_thread(pg.resume)


@asynccontextmanager
async def lock_running(broker: BrokerUnderTest) -> AsyncIterator[SimulatedLock]:
    lock = SimulatedLock(
        broker.site.slug,
        LOCK,
        broker.address,
        broker.credentials.device(LOCK),
        clock=SystemClock(),
        heartbeat_s=30,
    )
    task = asyncio.create_task(lock.run())
    try:
        await lock.link.wait_online()
        yield lock
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def store_failing(health: dict[str, Any]) -> bool:
    return any(p.startswith("store") for p in health["problems"])


async def publish_events(broker: BrokerUnderTest, count: int) -> list[str]:
    """``count`` door events of the lock, through its own login; their event keys."""
    topics = SiteTopics(broker.site.slug)
    keys = []
    login = broker.credentials.device(LOCK)
    async with mqtt_client(broker, f"{broker.site.slug}-{LOCK}-events", login) as device:
        for seq in range(1, count + 1):
            event = Event(type="door_opened", ts=datetime.now(UTC), seq=10_000 + seq)
            await device.publish(topics.device(LOCK, Channel.EVENT), encode(event), qos=1)
            keys.append(f"{event.seq}@{event.ts.isoformat()}")
    return keys


def door_event_keys(body: dict[str, Any]) -> list[str]:
    return [e["key"] for e in body["events"] if e["type"] == "door_opened"]


async def test_postgresql_restart_refuses_doors_holds_presses_and_resumes_by_itself(
    example_site: Site, halting_pg: LocalPostgres, tmp_path: Path
) -> None:
    async with (
        served_on(example_site, halting_pg, tmp_path) as (broker, served),
        lock_running(broker) as lock,
        AsyncExitStack() as running,
    ):
        screens = [await running.enter_async_context(screen_running(broker, s)) for s in SCREENS]
        await served.wait_for(
            "GET", f"/api/devices/{LOCK}", lambda d: d["availability"] == "online"
        )
        assert served.proc is not None
        pid = served.proc.pid
        await asyncio.to_thread(halting_pg.halt)
        await served.wait_health(store_failing)
        # a door command while the store is down: refused, not sent, nothing moves
        status, body = await served.call(
            "POST",
            f"/api/devices/{LOCK}/commands",
            json={"action": "unlock", "reason": "care visit"},
        )
        assert (status, body["error"]["code"]) == (503, "store_unavailable"), body
        # presses and events arrive while it is down: none may be confirmed yet
        presses = [(screen, confirmations(screen)) for screen in screens]
        pressed = [(screen.press_help(), got) for screen, got in presses]
        keys = await publish_events(broker, OUTAGE_EVENTS)
        assert all(
            press in screen.help_pending
            for screen, (press, _) in zip(screens, pressed, strict=True)
        )
        assert lock.state.lock == "locked"
        resumed = asyncio.get_running_loop().time()
        await asyncio.to_thread(halting_pg.resume)
        for press, got in pressed:
            await wait_confirmed(got, press, BOUND_S)
        confirmed_s = asyncio.get_running_loop().time() - resumed
        await served.wait_health(lambda h: not store_failing(h), timeout=BOUND_S)
        assert served.proc.pid == pid  # never restarted
        assert served.proc.poll() is None
        _, body = await served.call("GET", "/api/alarms")
        helps = {a["device"]: a["details"]["count"] for a in body["alarms"] if a["kind"] == "help"}
        assert helps == dict.fromkeys(SCREENS, 1)
        body = await served.wait_for(
            "GET",
            f"/api/events?device={LOCK}&limit=500",
            lambda b: len(door_event_keys(b)) >= OUTAGE_EVENTS,
            timeout=BOUND_S,
        )
        assert sorted(door_event_keys(body)) == sorted(keys)  # each once
        # the refused unlock left no audit line; a new one goes out with its record
        _, body = await served.call("GET", "/api/audit", params={"device": LOCK})
        assert body["audit"] == []
        status, body = await served.call(
            "POST",
            f"/api/devices/{LOCK}/commands",
            json={"action": "unlock", "reason": "care visit"},
        )
        assert (status, body["outcome"]) == (200, "ok"), body
        await lock.wait_state(lambda s: s.lock == "unlocked")
        _, body = await served.call("GET", "/api/audit", params={"device": LOCK})
        assert sorted(line["kind"] for line in body["audit"]) == ["issued", "resolved"]
        print(f"{len(SCREENS)} presses confirmed {confirmed_s:.2f} s after PostgreSQL was back")


async def test_events_held_during_an_outage_are_redelivered_to_a_restarted_controller(
    example_site: Site, halting_pg: LocalPostgres, tmp_path: Path
) -> None:
    """Not acknowledged means the broker still has them: the controller that held them
    in memory is SIGKILLed before the database is back, and its next run stores each."""
    async with served_on(example_site, halting_pg, tmp_path) as (broker, served):
        await asyncio.to_thread(halting_pg.halt)
        await served.wait_health(store_failing)
        keys = await publish_events(broker, OUTAGE_EVENTS)
        await served.wait_health(lambda h: h["events_pending"] >= OUTAGE_EVENTS)
        served.kill()
        await asyncio.to_thread(halting_pg.resume)
        await served.start()
        body = await served.wait_for(
            "GET",
            f"/api/events?device={LOCK}&limit=500",
            lambda b: len(door_event_keys(b)) >= OUTAGE_EVENTS,
            timeout=BOUND_S,
        )
        assert sorted(door_event_keys(body)) == sorted(keys)  # each once


async def test_the_live_relay_listens_again_after_a_restart(
    example_site: Site, halting_pg: LocalPostgres, tmp_path: Path
) -> None:
    """Two instances on the restarted PostgreSQL: each relay reconnects by itself, and
    an alarm taken on one and a command's outcome on one are on the other's dashboard
    again."""
    device = "a105-screen"
    async with (
        two_instances(example_site, halting_pg.url, tmp_path) as (broker, instances, store),
        screen_running(broker, device) as screen,
    ):
        one, two = instances
        await relaying(instances, times=1)
        try:
            await asyncio.to_thread(halting_pg.halt)
            await two.wait_health(store_failing)
        finally:
            await asyncio.to_thread(halting_pg.resume)
        await relaying(instances, times=2)
        async with dashboard(two) as ws:
            got = confirmations(screen)
            await wait_confirmed(got, screen.press_help(), BOUND_S)
            [alarm] = await alarms_of(store, "help")
            status, body = await one.call("POST", f"/api/alarms/{alarm.id}/ack", json={})
            assert status == 200, body
            await live_message(ws, alarm_in(alarm.id, "acknowledged"), timeout=LIVE_BOUND_S)
            status, body = await one.call("POST", f"/api/devices/{device}/commands",
                                          json={"action": "ping"})  # fmt: skip
            assert status == 200, body
            shown = await live_message(ws, command(body["command_id"]), timeout=LIVE_BOUND_S)
            assert shown["data"]["outcome"] == "ok"
