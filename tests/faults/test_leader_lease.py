"""The scheduler lease on a real store with a manual clock: one leader, takeover after
expiry, release on stop, and a leader that cannot renew steps down in time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from controller.leader import LeaderLease, while_leading
from controller.store import SqlStore, StoreError
from devices.clock import ManualClock

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def test_one_leader_takeover_release_and_step_down(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    async with SqlStore(f"sqlite:///{tmp_path / 'lease.sqlite'}") as store:
        a = LeaderLease(store, clock, "a", ttl_s=6, renew_s=2)
        b = LeaderLease(store, clock, "b", ttl_s=6, renew_s=2)
        assert await a.try_once()
        assert not await b.try_once()
        clock.advance(2)
        assert await a.try_once()  # renewed
        clock.advance(5)
        assert not await b.try_once()  # a's renewal still runs
        clock.advance(2)  # a stopped renewing 7 s ago: expired
        assert await b.try_once()
        assert not await a.try_once()
        assert not a.leading.is_set()
        assert b.leading.is_set()

        # b cannot reach the store: it keeps leading only while its lease surely holds
        await store.close()
        clock.advance(2)
        assert await b.try_once()  # 4 s of the lease left, more than one renewal period
        clock.advance(2)
        assert not await b.try_once()  # 2 s left: steps down before it can expire
        assert not b.leading.is_set()


async def test_duty_runs_only_while_leading_and_release_on_stop(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    async with SqlStore(f"sqlite:///{tmp_path / 'lease.sqlite'}") as store:
        lease = LeaderLease(store, clock, "a", ttl_s=6, renew_s=2)
        running = asyncio.Event()
        stopped = asyncio.Event()

        async def duty() -> None:
            running.set()
            try:
                await asyncio.Event().wait()
            finally:
                stopped.set()

        runner = asyncio.create_task(while_leading(lease, duty))
        renewing = asyncio.create_task(lease.run())
        async with asyncio.timeout(5):
            await running.wait()
        assert await store.lease_holder("scheduler", clock.now()) == "a"
        renewing.cancel()  # a clean stop: the lease is released, the duty stops
        await asyncio.gather(renewing, return_exceptions=True)
        async with asyncio.timeout(5):
            await stopped.wait()
        assert await store.lease_holder("scheduler", clock.now()) is None
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def test_a_failing_duty_is_started_again_and_never_stops_the_daemon(
    tmp_path: Path,
) -> None:
    """The duty's first start fails on the store (PostgreSQL gone down just after the
    lease was taken: it stopped the daemon); it is started again while leading."""
    clock = ManualClock(T0)
    async with SqlStore(f"sqlite:///{tmp_path / 'lease.sqlite'}") as store:
        lease = LeaderLease(store, clock, "a", ttl_s=6, renew_s=2)
        starts: list[int] = []
        running = asyncio.Event()

        async def duty() -> None:
            starts.append(1)
            if len(starts) == 1:
                raise StoreError("cannot read holds: connection refused")
            running.set()
            await asyncio.Event().wait()

        assert await lease.try_once()
        runner = asyncio.create_task(while_leading(lease, duty, retry_s=0.01))
        try:
            async with asyncio.timeout(5):
                await running.wait()
            assert len(starts) == 2
            assert not runner.done()
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
