"""Alarms in the SQL store: optimistic state checks, activity in the same transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from controller.store import ActivityRecord, SqlStore
from controller.store.alarm_records import AlarmConflict, AlarmNotFound, AlarmRecord

T0 = datetime(2026, 11, 26, 22, 30, tzinfo=UTC)


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[SqlStore]:
    async with SqlStore(db_url) as opened:
        yield opened


def alarm(kind: str = "help", apartment: str = "101", minutes: int = 0) -> AlarmRecord:
    return AlarmRecord(
        kind=kind,
        apartment=apartment,
        device=f"a{apartment}-screen",
        state="open",
        raised_at=T0 + timedelta(minutes=minutes),
        details={"count": 1, "suggested_reason": "emergency"},
    )


async def test_add_get_and_round_trip(store: SqlStore) -> None:
    added = await store.add_alarm(alarm())
    assert added.id is not None
    assert added.raised_at == T0
    assert added.details == {"count": 1, "suggested_reason": "emergency"}
    assert await store.get_alarm(added.id) == added
    assert await store.get_alarm(9999) is None


async def test_second_taker_gets_a_conflict_with_the_current_alarm(store: SqlStore) -> None:
    added = await store.add_alarm(alarm())
    assert added.id is not None
    log = ActivityRecord(ts=T0, actor="anna", action="alarm_ack", subject=str(added.id))
    taken = await store.update_alarm(
        added.id,
        from_states={"open"},
        changes={"state": "acknowledged", "acked_by": "anna", "acked_at": T0},
        activity=log,
    )
    assert (taken.state, taken.acked_by, taken.acked_at) == ("acknowledged", "anna", T0)
    with pytest.raises(AlarmConflict) as caught:
        await store.update_alarm(
            added.id,
            from_states={"open"},
            changes={"state": "acknowledged", "acked_by": "bo"},
            activity=ActivityRecord(ts=T0, actor="bo", action="alarm_ack"),
        )
    assert caught.value.current.acked_by == "anna"
    assert [a.actor for a in await store.activity(action="alarm_ack")] == ["anna"]
    with pytest.raises(AlarmNotFound):
        await store.update_alarm(9999, from_states={"open"}, changes={"state": "closed"})
    with pytest.raises(ValueError, match="cannot be changed"):
        await store.update_alarm(added.id, from_states={"open"}, changes={"kind": "fire"})


async def test_escalation_check_on_count(store: SqlStore) -> None:
    added = await store.add_alarm(alarm())
    assert added.id is not None
    changes = {"escalations": 1, "last_escalated_at": T0}
    await store.update_alarm(added.id, from_states={"open"}, changes=changes, expect_escalations=0)
    with pytest.raises(AlarmConflict):
        await store.update_alarm(
            added.id, from_states={"open"}, changes=changes, expect_escalations=0
        )


async def test_active_and_filtered_lists(store: SqlStore) -> None:
    a = await store.add_alarm(alarm("help", "101", 0))
    b = await store.add_alarm(alarm("offline", "102", 1))
    c = await store.add_alarm(alarm("help", "103", 2))
    assert c.id is not None
    await store.update_alarm(c.id, from_states={"open"}, changes={"state": "closed"})
    assert [x.id for x in await store.active_alarms()] == [a.id, b.id]
    assert [x.id for x in await store.alarms(state="active")] == [b.id, a.id]
    assert [x.id for x in await store.alarms(state="closed")] == [c.id]
    assert [x.id for x in await store.alarms()] == [c.id, b.id, a.id]
    assert [x.id for x in await store.alarms(apartment="102")] == [b.id]
    assert [x.id for x in await store.alarms(since=T0 + timedelta(minutes=1))] == [c.id, b.id]
    assert [x.id for x in await store.alarms(kinds={"offline"})] == [b.id]
    assert [x.id for x in await store.alarms(limit=1, before_id=c.id)] == [b.id]
