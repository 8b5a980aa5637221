"""Session fixtures for the fault, security and fuzz suites (tests/faults, tests/security,
tests/fuzz): their OWN private Mosquitto, simulated home and controller.

They kill and restart the broker, stop the controller and raise the fire alarm, so they
get a broker of their own: the integration suite's session broker and home are never
disturbed (two homes with the same client ids on one broker would kick each other off).
Registered from tests/conftest.py (``pytest_plugins``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import pytest

from config.credentials import MqttLogin, ensure_credentials
from config.site import Site
from controller.ops.brokers import MosquittoProcess
from devices.contract import FireSignal, SiteTopics, encode
from devices.mqtt import make_client
from tests.conftest import TEST_CONTROLLERS, BrokerUnderTest
from tests.integration.harness import (
    RunningController,
    RunningHome,
    start_controller,
    start_home,
    wait_all_online,
)
from tests.pg_server import pg_server


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str | None]:
    """A real PostgreSQL server's URL (started by the suite) or None if none installed."""
    yield from pg_server()


@pytest.fixture(scope="session")
def rel_broker_session(
    tmp_path_factory: pytest.TempPathFactory, example_site: Site
) -> Iterator[BrokerUnderTest]:
    yield from _broker_in(example_site, tmp_path_factory.mktemp("rel-mosquitto"))


@pytest.fixture
def rel_broker(rel_broker_session: BrokerUnderTest) -> Iterator[BrokerUnderTest]:
    """The reliability broker, running before and after the test (tests may kill it)."""
    rel_broker_session.start()
    yield rel_broker_session
    rel_broker_session.start()


@pytest.fixture(scope="session")
async def rel_home(rel_broker_session: BrokerUnderTest) -> AsyncIterator[RunningHome]:
    b = rel_broker_session
    running = await start_home(b.address, b.site, b.credentials)
    yield running
    await running.stop()


@pytest.fixture(scope="session")
async def rel_ctl_session(
    rel_broker_session: BrokerUnderTest,
    rel_home: RunningHome,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RunningController]:
    b = rel_broker_session
    db = tmp_path_factory.mktemp("rel-store") / "tryggbo.sqlite"
    running = await start_controller(b.address, b.site, b.credentials, db, command_timeout_s=5.0)
    await wait_all_online(running.controller)
    yield running
    await running.stop()


@pytest.fixture
async def rel_ctl(
    rel_broker: BrokerUnderTest, rel_ctl_session: RunningController
) -> RunningController:
    """The reliability controller with every device online before the test."""
    await wait_all_online(rel_ctl_session.controller, timeout=30)
    return rel_ctl_session


def _broker_in(site: Site, directory: Path) -> Iterator[BrokerUnderTest]:
    """A running Mosquitto for ``site`` with its files in ``directory``; stopped after."""
    creds_file = directory / "credentials.json"
    creds = ensure_credentials(site, creds_file, controllers=TEST_CONTROLLERS)
    proc = MosquittoProcess(creds, directory / "broker")
    proc.start()
    try:
        yield BrokerUnderTest(proc, site, creds, creds_file)
    finally:
        proc.stop()


@asynccontextmanager
async def private_broker(site: Site, directory: Path) -> AsyncIterator[BrokerUnderTest]:
    """A Mosquitto of one test alone (no simulated home on it), for a ``tryggbo serve``
    child that needs the controller's client id to itself."""
    for broker in _broker_in(site, directory):
        yield broker


def mqtt_client(broker: BrokerUnderTest, ident: str, login: MqttLogin) -> aiomqtt.Client:
    """A throwaway (clean session) client with ``login``."""
    return make_client(
        broker.address,
        identifier=ident,
        username=login.username,
        password=login.password,
        persistent=False,
    )


async def publish_fire(broker: BrokerUnderTest, state: str) -> datetime:
    """The fire panel's retained signal; returns its timestamp."""
    ts = datetime.now(UTC)
    topics = SiteTopics(broker.site.slug)
    async with mqtt_client(broker, "test-fire-panel", broker.credentials.fire_panel) as panel:
        await panel.publish(topics.fire, encode(FireSignal(state=state, ts=ts)), qos=1, retain=True)
    return ts


def locks_of(site: Site) -> list[str]:
    return [d.id for _a, d in site.devices() if d.type == "lock"]


async def gather_limited(coros: list, limit: int = 24) -> list:  # type: ignore[type-arg]
    """Run coroutines concurrently, at most ``limit`` at once, results in order."""
    sem = asyncio.Semaphore(limit)

    async def one(coro):  # type: ignore[no-untyped-def]
        async with sem:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))
