"""Scheduler benchmarks: next-firing computation, and due-to-send delay under load.

* ``next_fire``: :func:`scheduler.bench.bench_next_fire` over 10,000 mixed schedules
  (every rule kind, overrides, exceptions, active ranges) at the example site.
* ``due_to_send_ms``: the real :class:`~scheduler.engine.ScheduleEngine` on the real
  clock and a SQLite store holding the same 10,000 schedules, plus ``probes`` one-off
  schedules due a few seconds ahead; the time from each probe's due instant to its
  command reaching the command sender (claim in the store included). The sender is a
  recording fake (no MQTT): this measures the engine, not the broker round trip
  (``round_trip`` in ``python -m bench`` measures that).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from config.site import EXAMPLE_SITE, load_site
from controller.auth.accounts import ensure_user, random_password
from controller.store import open_store
from devices.clock import SystemClock
from scheduler import Place, parse_schedule
from scheduler.bench import bench_next_fire, make_schedules
from scheduler.engine import ScheduleEngine
from scheduler.ports import ScheduleRecord

from .common import summary


class RecordingSender:
    """Records when each schedule's command arrives; answers ``ok``."""

    def __init__(self, clock: SystemClock, expect: set[str]) -> None:
        self.clock = clock
        self.expect = expect
        self.arrived: dict[str, datetime] = {}
        self.commands = 0
        self.done = asyncio.Event()

    async def send(self, device: str, action: str, args: Any = None, **kw: Any) -> Any:
        self.commands += 1
        schedule_id = kw["actor"].removeprefix("schedule:").split(" for ")[0]
        if schedule_id in self.expect and schedule_id not in self.arrived:
            self.arrived[schedule_id] = self.clock.now()
            if len(self.arrived) == len(self.expect):
                self.done.set()
        return {"outcome": "ok"}


async def _delay(n: int, probes: int, spread_s: float) -> dict[str, Any]:
    site = load_site(EXAMPLE_SITE)
    clock = SystemClock()
    with tempfile.TemporaryDirectory(prefix="tryggbo-bench-sched-") as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
        await store.open()
        try:
            now = clock.now()
            # the schedules' owner: a firing runs with its owner's rights
            await ensure_user(
                store, username="bench", password=random_password("bench"), roles=["admin"], now=now
            )
            started = time.perf_counter()
            for schedule in make_schedules(n):
                await store.add_schedule(
                    ScheduleRecord(
                        schedule.id, schedule.name, schedule.owner,
                        schedule.model_dump(mode="json"), True, now, now,
                    )
                )  # fmt: skip
            store_s = time.perf_counter() - started
            ids = {f"probe-{i}" for i in range(probes)}
            sender = RecordingSender(clock, ids)
            engine = ScheduleEngine(store, sender, site, clock)
            started = time.perf_counter()
            await engine.start()
            load_s = time.perf_counter() - started
            first = clock.now() + timedelta(seconds=2)
            due = {}
            for i in range(probes):
                at = first + timedelta(seconds=spread_s * i / max(probes, 1))
                due[f"probe-{i}"] = at
                await engine.create(
                    parse_schedule(
                        {
                            "id": f"probe-{i}",
                            "target": "device:a101-curtain",
                            "action": "close",
                            "rule": {"kind": "once", "at": at.isoformat()},
                            "owner": "bench",
                        }
                    )
                )
            task = asyncio.create_task(engine.run())
            try:
                async with asyncio.timeout(spread_s + 30):
                    await sender.done.wait()
                    await engine.settle()
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        finally:
            await store.close()
    delays = [(sender.arrived[k] - due[k]).total_seconds() * 1000 for k in sorted(due)]
    return {
        "schedules_loaded": n + probes,
        "store_insert_s": round(store_s, 2),
        "engine_load_s": round(load_s, 2),
        "due_to_send_ms": summary(delays),
        "commands_sent": sender.commands,
    }


def run(n: int = 10_000, probes: int = 200, spread_s: float = 4.0) -> dict[str, Any]:
    """Both figures for ``n`` schedules."""
    site = load_site(EXAMPLE_SITE)
    schedules = make_schedules(n)
    result = bench_next_fire(
        schedules, Place.of(site), after=datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    )
    return {
        "next_fire": {
            "schedules": n,
            "calls": result.calls,
            "found": result.found,
            "seconds": round(result.seconds, 3),
            "per_call_us": round(result.per_call_us, 1),
        },
        **asyncio.run(_delay(n, probes, spread_s)),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
