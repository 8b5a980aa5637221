"""Two ``tryggbo serve`` instances on one site: one PostgreSQL, device events shared
between them ($share), one scheduler leader by a lease; SIGKILL the leader and the other
takes over within 10 s with nothing fired twice."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from controller.store import SqlStore
from devices.contract import Availability
from scheduler.holds import schedule_actor
from tests.conftest import BrokerUnderTest
from tests.integration.harness import RunningController, RunningHome
from tests.pg_server import scratch_pg_database

from .served import ServedController

TAKEOVER_S = 10.0


def _all_online(health: dict[str, Any]) -> bool:
    devices = health["devices"]
    return health["broker"]["connected"] and devices["online"] == devices["total"]


async def _once(served: ServedController, device: str, position: int, at: datetime) -> str:
    status, body = await served.call(
        "POST",
        "/api/schedules",
        json={
            "name": f"{device} to {position}",
            "target": f"device:{device}",
            "action": "set_position",
            "args": {"position": position},
            "rule": {"kind": "once", "at": at.isoformat()},
        },
    )
    assert status == 201, body
    return str(body["id"])


async def _issued(store: SqlStore, schedule_id: str) -> int:
    rows = await store.audit(limit=100, actor=schedule_actor(schedule_id, "test-staff"))
    return sum(1 for r in rows if r.kind.value == "issued")


async def _wait(predicate: Any, timeout: float) -> None:
    """Poll an async predicate of another process's state (bounded)."""
    async with asyncio.timeout(timeout):
        while True:
            if await predicate():
                return
            await asyncio.sleep(0.1)


async def test_two_controllers_share_traffic_and_hand_over_the_scheduler(
    rel_ctl: RunningController,
    rel_home: RunningHome,
    rel_broker: BrokerUnderTest,
    pg_url: str | None,
    tmp_path: Path,
) -> None:
    if pg_url is None:
        pytest.skip("no PostgreSQL: install postgresql (make system-deps)")
    home = rel_home.home
    await rel_ctl.stop()  # the site's controllers are the two below
    try:
        async with scratch_pg_database(pg_url) as db_url:
            instances = {
                name: ServedController(
                    rel_broker,
                    db_url,
                    tmp_path / f"{name}.log",
                    env={"TRYGGBO_CLIENT_ID": name, "TRYGGBO_SHARED_GROUP": "solgarden"},
                )
                for name in ("ctl-a", "ctl-b")
            }
            store = SqlStore(db_url)
            try:
                for served in instances.values():
                    await served.prepare()
                for served in instances.values():
                    await served.start()
                await store.open()
                for served in instances.values():
                    await served.wait_health(_all_online)
                now = datetime.now(UTC)
                leader_name = await store.lease_holder("scheduler", now)
                assert leader_name in instances
                follower_name = next(n for n in instances if n != leader_name)
                leader, follower = instances[leader_name], instances[follower_name]

                # a schedule made on the follower is fired by the leader, once
                first = await _once(follower, "a203-curtain", 21, now + timedelta(seconds=2))
                await home["a203-curtain"].wait_state(lambda s: s.position == 21, timeout=15)
                assert await _issued(store, first) == 1

                # events are shared: each help press is stored once, not once per instance
                pressed = ["a201-screen", "a202-screen", "a203-screen", "a204-screen"]
                for screen in pressed:
                    home[screen].press_help()  # type: ignore[attr-defined]

                async def help_stored() -> bool:
                    events = await store.recent_events(limit=500)
                    return sum(e.type == "help_pressed" for e in events) >= len(pressed)

                await _wait(help_stored, 10)
                events = await store.recent_events(limit=500)
                stored = sorted(e.device for e in events if e.type == "help_pressed")
                assert stored == pressed
                # commands work through either instance (acks reach the sender)
                for served in (leader, follower):
                    status, body = await served.call(
                        "POST", "/api/devices/a204-lock/commands", json={"action": "lock"}
                    )
                    assert (status, body["outcome"]) == (200, "ok"), body

                # a schedule due while nobody leads; then the leader dies
                due = datetime.now(UTC) + timedelta(seconds=1)
                second = await _once(follower, "a204-curtain", 22, due)
                leader.kill()
                killed = time.monotonic()

                async def follower_leads() -> bool:
                    return await store.lease_holder("scheduler", datetime.now(UTC)) == (
                        follower_name
                    )

                await _wait(follower_leads, TAKEOVER_S + 5)
                took_over = time.monotonic() - killed
                assert took_over < TAKEOVER_S
                await home["a204-curtain"].wait_state(lambda s: s.position == 22, timeout=15)
                assert await _issued(store, second) == 1
                assert await _issued(store, first) == 1  # not fired again by the new leader
                # the dead instance's last will said offline: the survivor says online
                device = home["a201-lock"]
                await device.fallback.wait(
                    lambda f: f.controller is Availability.ONLINE, timeout=10
                )
                print(f"takeover after SIGKILL: {took_over:.1f} s")
            finally:
                await store.close()
                for served in instances.values():
                    await served.stop()
    finally:
        await rel_ctl.restart()
