"""Alarms in the SQL store: optimistic state checks, activity in the same transaction,
one active alarm per (kind, device) and repeats counted once whoever stores them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from controller.store import ActivityRecord, SqlStore
from controller.store import schema as t
from controller.store.alarm_records import AlarmConflict, AlarmNotFound, AlarmRecord
from controller.store.engine import alembic_config, create_engine, parse_url

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


async def test_one_active_alarm_per_kind_and_device_whoever_raises_it(
    store: SqlStore, db_url: str
) -> None:
    """Two instances (two stores on one database) raising the same alarms at once:
    one is stored, the other gets AlarmConflict with it; closed, it may be raised again."""
    fire = AlarmRecord(kind="fire", apartment=None, device=None, state="open", raised_at=T0)
    async with SqlStore(db_url) as other:
        outcomes = await asyncio.gather(
            *(s.add_alarm(a) for _ in range(5) for s in (store, other) for a in (alarm(), fire)),
            return_exceptions=True,
        )
    stored = [o for o in outcomes if isinstance(o, AlarmRecord)]
    conflicts = [o for o in outcomes if isinstance(o, AlarmConflict)]
    assert len(stored) == 2, outcomes
    assert len(conflicts) == 18
    assert {c.current.id for c in conflicts} == {a.id for a in stored}
    assert sorted(a.kind for a in await store.active_alarms()) == ["fire", "help"]
    assert (await store.add_alarm(alarm("night_door"))).kind == "night_door"  # another kind
    [help_alarm] = [a for a in stored if a.kind == "help"]
    assert help_alarm.id is not None
    await store.update_alarm(help_alarm.id, from_states={"open"}, changes={"state": "closed"})
    again = await store.add_alarm(alarm())
    assert again.id != help_alarm.id


async def test_repeats_from_two_instances_count_each_event_key_once(
    store: SqlStore, db_url: str
) -> None:
    added = await store.add_alarm(replace(alarm(), details={"count": 1, "event_keys": ["k0"]}))
    assert added.id is not None
    alarm_id = added.id
    async with SqlStore(db_url) as other:
        outcomes = await asyncio.gather(
            *(
                s.repeat_alarm(alarm_id, event_key=f"k{n}", now=T0, keep=32)
                for n in range(11)
                for s in (store, other)
            )
        )
    assert sum(counted for _a, counted in outcomes) == 10  # k1..k10, each once
    current = await store.get_alarm(alarm_id)
    assert current is not None
    assert current.details["count"] == 11
    assert sorted(current.details["event_keys"]) == sorted(f"k{n}" for n in range(11))
    await store.update_alarm(alarm_id, from_states={"open"}, changes={"state": "closed"})
    with pytest.raises(AlarmConflict):
        await store.repeat_alarm(alarm_id, event_key="k11", now=T0, keep=32)


async def test_the_migration_closes_older_copies_of_an_active_alarm(db_url: str) -> None:
    """Stores written by two instances before 0007 hold active copies of one alarm: the
    newest is kept, the older ones closed with a note, before the unique index."""
    engine = create_engine(parse_url(db_url))

    def to_0006(conn: sa.Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0006_event_keys")

    copies = [alarm(), alarm(minutes=1), alarm("fire", minutes=2), alarm("fire", minutes=3)]
    copies[2:] = [replace(a, apartment=None, device=None) for a in copies[2:]]
    copies.append(replace(alarm(minutes=4), state="closed"))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(to_0006)
            for a in copies:
                row = {k: getattr(a, k) for k in t.alarms.c.keys() if k != "id"}  # noqa: SIM118
                await conn.execute(t.alarms.insert(), row)
    finally:
        await engine.dispose()
    async with SqlStore(db_url) as store:
        active = await store.active_alarms()
        assert [(a.kind, a.raised_at) for a in active] == [
            ("help", T0 + timedelta(minutes=1)),
            ("fire", T0 + timedelta(minutes=3)),
        ]
        closed = await store.alarms(state="closed")
        assert [(a.id, a.closed_by) for a in closed] == [(5, None), (3, "tryggbo"), (1, "tryggbo")]
        assert "duplicate" in (closed[1].close_note or "")
        with pytest.raises(AlarmConflict):
            await store.add_alarm(alarm())


async def test_events_a_closed_alarm_counted_raise_nothing_new(store: SqlStore) -> None:
    """An instance hearing a press late (its session replayed after a restart) after
    staff closed the alarm another instance raised for it: no second alarm; a press
    not counted yet among them still raises one."""
    first = await store.add_alarm(
        replace(alarm(), details={"count": 2, "event_keys": ["k1", "k2"]})
    )
    assert first.id is not None
    await store.update_alarm(first.id, from_states={"open"}, changes={"state": "closed"})
    for late in (["k1"], ["k2", "k1"]):
        with pytest.raises(AlarmConflict) as refused:
            await store.add_alarm(replace(alarm(), details={"count": 1, "event_keys": late}))
        assert (refused.value.current.id, refused.value.current.state) == (first.id, "closed")
    assert await store.active_alarms() == []
    raised = await store.add_alarm(
        replace(alarm(), details={"count": 2, "event_keys": ["k1", "k9"]})
    )
    assert (raised.state, raised.details["event_keys"]) == ("open", ["k1", "k9"])
