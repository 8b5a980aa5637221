"""Retention deletes only what is older than the settings, keeps the append-only
guard for everyone else, and records itself in the activity log."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError

from controller.ops.retention import RetentionPolicy, apply_retention
from controller.store import engine as db
from controller.store import open_store

from .records import MID, NEW, NOW, OLD, fill


async def test_retention_deletes_only_what_is_older_than_the_settings(tmp_path: Path) -> None:
    await check_retention(f"sqlite:///{tmp_path / 'r.sqlite'}")


async def check_retention(url: str) -> None:
    """Fill a store, apply the default policy, check what is left (any dialect)."""
    store = open_store(url)
    await store.open()
    try:
        await fill(store)
        report = await apply_retention(
            url, RetentionPolicy(events_days=90, audit_days=730, alarms_days=730), NOW
        )
        assert report.deleted == {"events": 4, "alarms": 1, "audit": 2, "activity": 1}
        events = await store.recent_events(limit=100)
        assert sorted({e.ts for e in events}) == [NEW]
        audit = await store.audit(limit=100)
        assert {r.command_id for r in audit} == {"c-span", "c-mid", "c-new-102"}
        assert len(audit) == 6  # c-span keeps its OLD issued line with its NEW resolution
        assert min(r.ts for r in audit) == OLD
        activity = await store.activity(limit=100)
        kept = [a for a in activity if a.actor != "retention"]
        assert sorted(a.ts for a in kept) == [NEW, NEW]
        (line,) = [a for a in activity if a.action == "retention"]
        assert line.actor == "retention"
        assert line.details["deleted"]["audit"] == 2
        alarms = await store.alarms(limit=100, state=None)
        assert sorted((a.state, a.raised_at) for a in alarms) == [("closed", NEW), ("open", OLD)]
        assert MID in {r.ts for r in audit}
    finally:
        await store.close()


async def test_retention_zero_keeps_everything(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'z.sqlite'}"
    store = open_store(url)
    await store.open()
    try:
        await fill(store)
        report = await apply_retention(url, RetentionPolicy(0, 0, 0), NOW)
        assert report.deleted == {}
        assert len(await store.audit(limit=100)) == 8
        assert len(await store.recent_events(limit=100)) == 6
    finally:
        await store.close()


async def test_audit_and_activity_stay_append_only_after_retention(tmp_path: Path) -> None:
    await check_still_append_only(f"sqlite:///{tmp_path / 'g.sqlite'}")


async def check_still_append_only(url: str) -> None:
    store = open_store(url)
    await store.open()
    await fill(store)
    await store.close()
    await apply_retention(url, RetentionPolicy(), NOW)
    engine = db.create_engine(db.parse_url(url))
    try:
        for statement in (
            "DELETE FROM audit",
            "UPDATE audit SET actor = 'x'",
            "DELETE FROM activity",
            "UPDATE activity SET actor = 'x'",
        ):
            with pytest.raises(DatabaseError, match="append-only"):
                async with engine.begin() as conn:
                    await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


def test_retention_runs_at_the_next_site_time_hour() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from controller.ops.retention import next_run

    zone = ZoneInfo("Europe/Stockholm")
    before = datetime.fromisoformat("2026-11-27T01:30:00+00:00")  # 02:30 in Stockholm
    assert next_run(before, 3, zone).isoformat() == "2026-11-27T03:00:00+01:00"
    after = datetime.fromisoformat("2026-11-27T02:00:00+00:00")  # 03:00 in Stockholm
    assert next_run(after, 3, zone).isoformat() == "2026-11-28T03:00:00+01:00"
    summer = datetime.fromisoformat("2026-03-28T12:00:00+00:00")  # DST starts that night
    assert next_run(summer, 3, zone).isoformat() == "2026-03-29T03:00:00+02:00"


def test_serve_passes_retention_and_the_home_assistant_bridge() -> None:
    from config.settings import Settings
    from controller.cli.app import _ops_config

    off = _ops_config(Settings())
    assert off["ha_bridge"] is None
    assert off["retention"] == RetentionPolicy(90, 730, 730)
    on = _ops_config(
        Settings(
            ha_enabled=True,
            ha_broker="mqtts://bridge:pw@ha.example:8883",
            ha_allow_unlock=True,
            retention_events_days=30,
        )
    )
    bridge = on["ha_bridge"]
    assert (bridge.broker.host, bridge.broker.tls, bridge.broker.username) == (
        "ha.example",
        True,
        "bridge",
    )
    assert bridge.allow_unlock is True
    assert on["retention"].events_days == 30
