"""Acknowledged means stored: ``tryggbo serve`` SIGKILLed at random points of a burst
of device events loses none and stores none twice (SQLite and PostgreSQL).

The broker is told a message arrived only once its event row is committed (paho's
manual ack, controller/receipts.py); what the broker still holds for the dead
controller's persistent session comes again to the next one, and the events table
keeps one row per device event key.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from config.credentials import SiteCredentials
from config.site import Site
from controller.store.engine import parse_url
from devices.contract import SAFETY_EVENTS, DeviceType, Event, SiteTopics, encode, spec_for
from devices.contract.names import Channel
from tests.conftest import BrokerUnderTest
from tests.pg_server import scratch_pg_database
from tests.reliability_fixtures import mqtt_client, private_broker

from .served import ServedController

#: events each device publishes
PER_DEVICE = 150


def ordinary_event(kind: DeviceType) -> str:
    """An event every device type has and nothing raises an alarm for."""
    assert "booted" in spec_for(kind).events
    assert "booted" not in SAFETY_EVENTS
    return "booted"


KILLS = 3


async def publish_burst(broker: BrokerUnderTest, creds: SiteCredentials) -> set[tuple[str, str]]:
    """Every device publishes PER_DEVICE events at QoS 1 (each acknowledged by the
    broker); returns the (device, key) of every event published."""
    topics = SiteTopics(broker.site.slug)
    published: set[tuple[str, str]] = set()

    async def one_device(device: str, kind: DeviceType) -> None:
        ident = f"{broker.site.slug}-{device}"
        async with mqtt_client(broker, ident, creds.device(device)) as client:
            for seq in range(PER_DEVICE):
                event = Event(type=ordinary_event(kind), ts=datetime.now(UTC), seq=seq)
                await client.publish(
                    topics.device(device, Channel.EVENT), encode(event), qos=1, timeout=30
                )
                published.add((device, f"{seq}@{event.ts.isoformat()}"))

    await asyncio.gather(*(one_device(d.id, d.type) for _a, d in broker.site.devices()))
    return published


async def stored_keys(db_url: str) -> list[tuple[str, str]]:
    """Every (device, key) row of the events table (duplicates included)."""
    engine = create_async_engine(parse_url(db_url))
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text("SELECT device, key FROM events WHERE key IS NOT NULL")
            )
            return [(str(r[0]), str(r[1])) for r in rows]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_sigkill_during_a_burst_loses_no_event_and_stores_none_twice(
    backend: str,
    example_site: Site,
    pg_url: str | None,
    tmp_path: Path,
) -> None:
    if backend == "postgresql" and pg_url is None:
        pytest.skip("no PostgreSQL installed")
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    async with (
        private_broker(example_site, tmp_path) as broker,
        _database(backend, pg_url, tmp_path) as db_url,
    ):
        served = ServedController(
            broker, db_url, tmp_path / "served.log", env={"TRYGGBO_DEVICE_RATE_PER_S": "0"}
        )
        await served.prepare()
        try:
            await served.start()
            expected = len(list(example_site.devices())) * PER_DEVICE
            burst = asyncio.create_task(publish_burst(broker, broker.credentials))
            kills = []
            # kill while events flow into the store, at random points of the ingest
            for share in sorted(rng.uniform(0.05, 0.9) for _ in range(KILLS)):
                await _stored_at_least(db_url, int(share * expected))
                served.kill()
                kills.append(round(share, 2))
                await served.start()
            published = await burst
            served.kill()  # right after the burst, as the review did
            await served.start()
            assert len(published) == expected
            await _stored_at_least(db_url, expected)
            rows = await stored_keys(db_url)
            missing = published - set(rows)
            assert not missing, f"seed {seed}, kills {kills}: {len(missing)} events lost"
            assert len(rows) == len(set(rows)) == expected, f"seed {seed}: stored twice"
        finally:
            await served.stop()


async def _stored_at_least(db_url: str, count: int, timeout: float = 60) -> None:
    """Wait until the events table has ``count`` device events (another process writes
    them: the store is polled)."""
    stored = 0
    try:
        async with asyncio.timeout(timeout):
            while (stored := len(await stored_keys(db_url))) < count:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(
            f"{stored} events stored after {timeout} s, expected {count}"
        ) from None


@asynccontextmanager
async def _database(backend: str, pg_url: str | None, directory: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'served.sqlite'}"
        return
    assert pg_url is not None
    async with scratch_pg_database(pg_url) as url:
        yield url
