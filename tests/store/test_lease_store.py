"""Leases on SQLite and PostgreSQL: one holder at a time, renewals, expiry, release."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from controller.store import SqlStore

T0 = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
TTL = timedelta(seconds=6)


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[SqlStore]:
    async with SqlStore(db_url) as opened:
        yield opened


async def test_one_holder_renewal_expiry_and_release(store: SqlStore) -> None:
    assert await store.acquire_lease("scheduler", "a", T0, T0 + TTL)
    assert not await store.acquire_lease("scheduler", "b", T0 + timedelta(seconds=1), T0 + TTL)
    assert await store.lease_holder("scheduler", T0 + timedelta(seconds=1)) == "a"
    later = T0 + timedelta(seconds=5)
    assert await store.acquire_lease("scheduler", "a", later, later + TTL)  # renewed
    assert not await store.acquire_lease("scheduler", "b", later + timedelta(seconds=2), later)
    expired = later + TTL + timedelta(seconds=1)
    assert await store.lease_holder("scheduler", expired) is None
    assert await store.acquire_lease("scheduler", "b", expired, expired + TTL)  # taken over
    assert not await store.release_lease("scheduler", "a")  # not a's to release
    assert await store.release_lease("scheduler", "b")
    assert await store.acquire_lease("scheduler", "a", expired, expired + TTL)
    assert await store.acquire_lease("other-duty", "b", expired, expired + TTL)


async def test_concurrent_claims_give_exactly_one_holder(db_url: str) -> None:
    stores = [SqlStore(db_url) for _ in range(4)]
    for s in stores:
        await s.open()
    try:
        for round_ in range(5):
            now = T0 + timedelta(minutes=round_)  # every earlier lease has expired
            won = await asyncio.gather(
                *(
                    s.acquire_lease("scheduler", f"i{n}", now, now + TTL)
                    for n, s in enumerate(stores)
                )
            )
            assert sum(won) == 1, won
    finally:
        for s in stores:
            await s.close()
