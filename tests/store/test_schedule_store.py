"""Schedules, firing claims and holds in the SQL store (SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from controller.store import SqlStore, open_store
from scheduler.ports import HoldRecord, ScheduleRecord

T0 = datetime(2026, 12, 1, 20, 30, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[SqlStore]:
    store = open_store(db_url)
    await store.open()
    yield store
    await store.close()


def record(schedule_id: str = "s1") -> ScheduleRecord:
    return ScheduleRecord(schedule_id, "Night", "nurse", {"action": "close"}, True, T0, T0)


async def test_schedules_are_added_changed_and_soft_deleted(store: SqlStore) -> None:
    assert await store.add_schedule(record())
    assert not await store.add_schedule(record())  # ids are not reused
    changed = await store.update_schedule("s1", updated_at=T0 + timedelta(1), enabled=False)
    assert changed is not None
    assert (changed.enabled, changed.updated_at, changed.definition) == (
        False, T0 + timedelta(1), {"action": "close"}
    )  # fmt: skip
    assert await store.delete_schedule("s1", T0 + timedelta(2))
    assert not await store.delete_schedule("s1", T0 + timedelta(3))
    assert await store.get_schedule("s1") is None
    assert await store.update_schedule("s1", updated_at=T0, enabled=True) is None
    gone = await store.get_schedule("s1", include_deleted=True)
    assert gone is not None
    assert gone.deleted_at == T0 + timedelta(2)
    assert await store.list_schedules() == []
    assert len(await store.list_schedules(include_deleted=True)) == 1
    assert not await store.add_schedule(record())


async def test_a_due_instant_is_claimed_once(store: SqlStore) -> None:
    claims = await asyncio.gather(*(store.claim_firing("s1", T0, T0) for _ in range(5)))
    assert sorted(claims) == [False, False, False, False, True]
    assert not await store.claim_firing("s1", T0.astimezone(CET), T0)  # same instant
    assert await store.claim_firing("s1", T0 + timedelta(days=1), T0)
    assert await store.claim_firing("s2", T0, T0)
    await store.finish_firing("s1", T0, "ok", {"devices": {"a101-curtain": "ok"}})
    last = await store.last_firings()
    assert last == {"s1": T0 + timedelta(days=1), "s2": T0}
    newest, oldest = await store.firings(schedule_id="s1")
    assert (newest.outcome, oldest.outcome) == ("claimed", "ok")
    assert oldest.details["devices"] == {"a101-curtain": "ok"}


async def test_one_hold_per_device(store: SqlStore) -> None:
    await store.put_hold(HoldRecord("a101-lock", T0, "anna", "unlock", "c1"))
    await store.put_hold(HoldRecord("a101-lock", T0 + timedelta(1), "bo", "lock"))
    [hold] = await store.holds()
    assert (hold.actor, hold.since) == ("bo", T0 + timedelta(1))
    assert not await store.delete_hold("a101-lock", T0)  # an older hold's release
    assert await store.delete_hold("a101-lock")
    assert await store.holds() == []
