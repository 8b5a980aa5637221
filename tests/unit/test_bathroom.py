"""The bathroom presence sensor's alarm through the real alarm service (ManualClock,
SQLite): a stay that began at night and lasts its minutes raises
``long_bathroom_stay`` for a resident with a recorded night-supervision basis; a
shorter stay, a stay begun by day, or no basis: nothing."""

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
from devices.contract.types.bathroom import BathroomState

NIGHT = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 03:00 in Stockholm
DAY = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)  # 14:00
MINUTES = spec_for("bathroom").alarms[0].minutes
SITE = parse_site(
    {
        "site": {"slug": "solgarden", "night_window": "22:00-06:00"},
        "apartments": [
            {
                "number": "101",
                "devices": ["bathroom"],
                "night_supervision": {
                    "basis": "decision",
                    "decided": "2026-01-01",
                    "review": "2027-03-01",
                },
            },
            {"number": "102", "devices": ["bathroom"]},
        ],
    }
)


class Rooms:
    """The alarm service over a registry whose sensors report what the test says."""

    def __init__(self, store: SqlStore, site: Site, start: datetime) -> None:
        self.clock = ManualClock(start)
        self.twins = TwinRegistry(site)
        for twin in self.twins.all():
            self.twins.apply_availability(twin, Availability.ONLINE, start)
        self.svc = AlarmService(
            store=store, bus=EventBus(), twins=self.twins, site=site, clock=self.clock
        )
        self.seq = 0

    def presence(self, device: str, present: bool) -> None:
        twin = self.twins.get(device)
        assert twin is not None
        self.seq += 1
        now = self.clock.now()
        self.twins.apply_state(
            twin, BathroomState(seq=self.seq, ts=now, present=present, since=now), now
        )

    async def after(self, minutes: float) -> list[tuple[str, str | None, dict[str, Any]]]:
        self.clock.advance(minutes * 60)
        await self.svc.tick()
        return [(a.kind, a.device, a.details) for a in self.svc.active()]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    async with SqlStore(f"sqlite:///{tmp_path / 'alarms.sqlite'}") as opened:
        yield opened


async def rooms(store: SqlStore, start: datetime) -> Rooms:
    r = Rooms(store, SITE, start)
    await r.svc.load()
    await r.svc.tick()
    return r


async def test_a_long_stay_begun_at_night_raises_after_its_minutes(store: SqlStore) -> None:
    r = await rooms(store, NIGHT)
    r.presence("a101-bathroom", present=True)
    assert await r.after(MINUTES - 1) == []
    [(kind, device, details)] = await r.after(1)
    assert (kind, device) == ("long_bathroom_stay", "a101-bathroom")
    assert (details["minutes"], details["supervision"]["basis"]) == (MINUTES, "decision")


async def test_a_shorter_stay_a_day_stay_or_no_basis_raise_nothing(store: SqlStore) -> None:
    r = await rooms(store, NIGHT)
    r.presence("a101-bathroom", present=True)
    await r.after(MINUTES - 1)
    r.presence("a101-bathroom", present=False)
    r.presence("a102-bathroom", present=True)
    assert await r.after(3 * MINUTES) == []
    r = await rooms(store, DAY)
    r.presence("a101-bathroom", present=True)
    assert await r.after(3 * MINUTES) == []
