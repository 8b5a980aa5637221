"""Throttled refusals: one activity row per (what, address) and window, with the
count; the integration test (tests/security/test_server_edges.py) floods over HTTP,
this one walks windows with a manual clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from controller.refusal_tally import RefusalTally
from devices.clock import ManualClock

LINK = "GET /api/calls/invitation"


async def test_one_row_per_address_and_window_with_the_count() -> None:
    rows: list[dict[str, Any]] = []

    async def note(actor: str, action: str, **fields: Any) -> None:
        rows.append({"actor": actor, "action": action, **fields})

    clock = ManualClock(datetime(2026, 12, 3, 12, tzinfo=UTC))
    tally = RefusalTally(note, clock, window=timedelta(minutes=15))
    for _ in range(500):
        await tally.count(LINK, "198.51.100.7", "too many refused links")
    await tally.count(LINK, "198.51.100.8", "too many refused links")
    assert rows == []  # the windows are open
    clock.advance(timedelta(minutes=15))
    await tally.count(LINK, "198.51.100.7", "too many refused links")  # a new window
    assert [(r["details"]["address"], r["details"]["count"]) for r in rows] == [
        ("198.51.100.7", 500),
        ("198.51.100.8", 1),
    ]
    assert {(r["actor"], r["action"], r["outcome"], r["subject"]) for r in rows} == {
        ("anonymous", "refused", "throttled", LINK)
    }
    assert await tally.flush() == 1  # on shutdown: the open window, whatever its age
    assert rows[-1]["details"]["count"] == 1


async def test_memory_is_bounded_by_writing_the_oldest_window_early() -> None:
    rows: list[dict[str, Any]] = []

    async def note(actor: str, action: str, **fields: Any) -> None:
        rows.append(fields["details"])

    tally = RefusalTally(note, ManualClock(datetime(2026, 12, 3, tzinfo=UTC)), capacity=3)
    for n in range(5):
        await tally.count(LINK, f"198.51.100.{n}", "throttled")
    assert [r["address"] for r in rows] == ["198.51.100.0", "198.51.100.1"]
