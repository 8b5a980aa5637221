"""The store cannot be written (disk full): commands are refused with 503 (no door moves
without its audit record), the daemon says so in its log and /api/health, the fire
alarm still opens every door (the locks do it) and the twins still follow; once the
disk has room again commands work and the buffered events are written."""

from __future__ import annotations

import resource
from pathlib import Path

from devices.firmware.lock import SimulatedLock
from tests.conftest import BrokerUnderTest
from tests.integration.harness import RunningController, RunningHome
from tests.reliability_fixtures import gather_limited, locks_of, publish_fire

from .served import served_controller


def _disk_full(pid: int, full: bool) -> None:
    """Every file write of the process fails with EFBIG (RLIMIT_FSIZE of 1 byte), as on
    a full disk; works as root too, unlike chmod. Pipes are not files: logs still flow."""
    _soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (1 if full else hard, hard))


async def test_unwritable_store_refuses_commands_loudly_and_fire_still_unlocks(
    rel_ctl: RunningController,
    rel_home: RunningHome,
    rel_broker: BrokerUnderTest,
    tmp_path: Path,
) -> None:
    lock = rel_home.home["a205-lock"]
    assert isinstance(lock, SimulatedLock)
    locks = locks_of(rel_broker.site)
    await rel_ctl.stop()  # the child takes its MQTT client id
    try:
        async with served_controller(rel_broker, tmp_path) as served:
            await served.start()
            await served.wait_health(lambda h: h["status"] == "ok")
            status, body = await served.call(
                "POST", "/api/devices/a205-lock/commands", json={"action": "lock"}
            )
            assert (status, body["outcome"]) == (200, "ok"), body
            assert served.proc is not None
            _disk_full(served.proc.pid, True)

            status, body = await served.call(
                "POST",
                "/api/devices/a205-lock/commands",
                json={"action": "unlock", "reason": "care visit"},
            )
            assert (status, body["error"]["code"]) == (503, "store_unavailable"), body
            assert lock.state.lock == "locked"  # refused before anything was sent
            health = await served.wait_health(lambda h: h["status"] == "failing")
            assert any("audit not writable" in p for p in health["problems"]), health
            assert "STORE FAILING" in served.log_text()

            # the fire alarm is the locks' own business: every door opens anyway,
            # and the controller's twins follow (it only cannot write the events)
            await publish_fire(rel_broker, "alarm")
            for one in locks:
                await rel_home.home[one].wait_state(lambda s: s.lock == "unlocked", timeout=5)
            await served.wait_for(
                "GET", "/api/devices/a205-lock", lambda b: b["state"]["lock"] == "unlocked"
            )
            health = await served.wait_health(
                lambda h: any(p.startswith("store failing") for p in h["problems"])
            )

            _disk_full(served.proc.pid, False)
            await publish_fire(rel_broker, "normal")
            await lock.wait_state(lambda s: not s.fire, timeout=5)
            results = await gather_limited(
                [
                    served.call(
                        "POST",
                        f"/api/devices/{one}/commands",
                        json={"action": "lock", "reason": "after the drill"},
                    )
                    for one in locks
                ]
            )
            assert all(s == 200 and b["outcome"] == "ok" for s, b in results), results
            # the event writer catches up by itself (it retries with backoff)
            await served.wait_health(lambda h: h["status"] == "ok", timeout=40)
            status, body = await served.call("GET", "/api/events?device=a205-lock&limit=100")
            assert "fire_unlocked" in [e["type"] for e in body["events"]]  # buffered, not lost
    finally:
        await rel_ctl.restart()
