"""The bed-exit sensor's alarm through the real alarm service (ManualClock, SQLite):
out of bed at night and not back within its minutes raises ``left_bed``, only for a
resident with a recorded night-supervision basis in force; back in time, by day, or
without a basis: nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from config.site import Site, parse_site
from controller.alarms import AlarmService
from controller.event_bus import EventBus
from controller.store import SqlStore
from controller.twins import TwinRegistry
from devices.clock import ManualClock
from devices.contract import Availability, spec_for
from devices.contract.types.bed import BedState

NIGHT = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)  # 00:30 in Stockholm
DAY = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # 10:00
MINUTES = spec_for("bed").alarms[0].minutes


def _site(review: str = "2027-03-01") -> Site:
    basis = {"basis": "consent", "decided": "2026-01-01", "review": review}
    return parse_site(
        {
            "site": {"slug": "solgarden", "night_window": "22:00-06:00"},
            "apartments": [
                {"number": "101", "devices": ["bed"], "night_supervision": basis},
                {"number": "102", "devices": ["bed"]},  # nothing recorded
            ],
        }
    )


class Ward:
    """The alarm service over a registry whose beds report what the test says."""

    def __init__(self, store: SqlStore, site: Site, start: datetime) -> None:
        self.clock = ManualClock(start)
        self.twins = TwinRegistry(site)
        for twin in self.twins.all():
            self.twins.apply_availability(twin, Availability.ONLINE, start)
        self.svc = AlarmService(
            store=store, bus=EventBus(), twins=self.twins, site=site, clock=self.clock
        )
        self.seq = 0

    def bed(self, device: str, occupied: bool) -> None:
        """The sensor reports ``occupied`` since now."""
        twin = self.twins.get(device)
        assert twin is not None
        self.seq += 1
        now = self.clock.now()
        state = BedState(seq=self.seq, ts=now, occupied=occupied, since=now)
        self.twins.apply_state(twin, state, now)

    async def after(self, minutes: float) -> list[tuple[str, str | None, dict[str, Any]]]:
        self.clock.advance(minutes * 60)
        await self.svc.tick()
        return [(a.kind, a.device, a.details) for a in self.svc.active()]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    async with SqlStore(f"sqlite:///{tmp_path / 'alarms.sqlite'}") as opened:
        yield opened


async def ward(store: SqlStore, start: datetime, site: Site | None = None) -> Ward:
    w = Ward(store, site or _site(), start)
    await w.svc.load()
    await w.svc.tick()
    return w


async def test_out_of_bed_at_night_raises_left_bed_after_its_minutes(store: SqlStore) -> None:
    w = await ward(store, NIGHT)
    w.bed("a101-bed", occupied=False)
    assert await w.after(MINUTES - 1) == []
    [(kind, device, details)] = await w.after(1)
    assert (kind, device) == ("left_bed", "a101-bed")
    assert details["supervision"]["basis"] == "consent"
    assert (details["since"], details["review_overdue"]) == (NIGHT.isoformat(), False)
    assert await w.after(MINUTES) == [(kind, device, details)]  # one alarm per episode


async def test_back_in_bed_within_its_minutes_raises_nothing(store: SqlStore) -> None:
    w = await ward(store, NIGHT)
    w.bed("a101-bed", occupied=False)
    await w.after(MINUTES - 1)
    w.bed("a101-bed", occupied=True)
    assert await w.after(2 * MINUTES) == []


async def test_nothing_without_a_recorded_basis_or_by_day(store: SqlStore) -> None:
    w = await ward(store, NIGHT)
    w.bed("a102-bed", occupied=False)
    assert await w.after(3 * MINUTES) == []
    w = await ward(store, DAY)
    w.bed("a101-bed", occupied=False)
    assert await w.after(3 * MINUTES) == []


async def test_an_overdue_review_still_raises_flagged(store: SqlStore) -> None:
    w = await ward(store, NIGHT, _site(review="2026-06-01"))
    w.bed("a101-bed", occupied=False)
    [(_kind, _device, details)] = await w.after(MINUTES)
    assert details["review_overdue"] is True
