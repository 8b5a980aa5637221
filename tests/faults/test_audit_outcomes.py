"""The audit says what staff were told: a command's ``resolved`` line is committed
before its outcome is answered, so neither a SIGKILL right after the answers nor a
PostgreSQL restart while commands flow leaves an answered command without its line."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devices.contract import Ack, AckStatus, Channel, SiteTopics, encode
from devices.firmware.lock import SimulatedLock
from tests.conftest import BrokerUnderTest
from tests.integration.harness import RunningController, RunningHome
from tests.pg_server import LocalPostgres, find_pg_bin

from .served import ServedController, served_controller

#: answers after which ``tryggbo serve`` is SIGKILLed (of 72 concurrent commands)
KILL_AFTER = 36


def _all_online(health: dict[str, Any]) -> bool:
    devices = health["devices"]
    return health["broker"]["connected"] and devices["online"] == devices["total"]


def _held_back(health: dict[str, Any]) -> bool:
    return any(p.startswith("outcomes held back") for p in health["problems"])


async def _resolved(served: ServedController, command_id: str) -> list[str]:
    status, body = await served.call("GET", f"/api/audit?command_id={command_id}")
    assert status == 200, body
    return [line["outcome"] for line in body["audit"] if line["kind"] == "resolved"]


@pytest.fixture(scope="module")
def own_pg() -> Iterator[LocalPostgres]:
    """A PostgreSQL of this module's own, to halt and resume; commits are durable."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL installed (make system-deps)")
    server = LocalPostgres(bin_dir, durable=True)
    server.start()
    yield server
    server.stop()


async def test_every_answered_command_keeps_its_outcome_through_a_sigkill(
    rel_ctl: RunningController, rel_broker: BrokerUnderTest, tmp_path: Path
) -> None:
    devices = [d.id for _a, d in rel_broker.site.devices()]
    await rel_ctl.stop()  # the child takes its MQTT client id
    try:
        async with served_controller(rel_broker, tmp_path) as served:
            await served.start()
            await served.wait_health(_all_online)
            answered: dict[str, str] = {}

            async def ping(device: str) -> None:
                status, body = await served.call(
                    "POST", f"/api/devices/{device}/commands", json={"action": "ping"}
                )
                assert "outcome" in body, (status, body)
                answered[body["command_id"]] = body["outcome"]
                if len(answered) == KILL_AFTER:
                    served.kill()  # at once, with the other commands in flight

            results = await asyncio.gather(*(ping(d) for d in devices), return_exceptions=True)
            cut = [r for r in results if r is not None]
            assert all(isinstance(r, aiohttp.ClientError) for r in cut), cut
            assert len(answered) >= KILL_AFTER
            await served.stop()
            await served.start()
            await served.wait_health(_all_online)  # crashed commands settled by now
            for command_id, outcome in answered.items():
                assert await _resolved(served, command_id) == [outcome], command_id
    finally:
        await rel_ctl.restart()


async def test_outcomes_across_a_postgresql_restart_all_get_their_resolved_line(
    rel_ctl: RunningController,
    rel_home: RunningHome,
    rel_broker: BrokerUnderTest,
    own_pg: LocalPostgres,
    tmp_path: Path,
) -> None:
    lock = rel_home.home["a214-lock"]
    assert isinstance(lock, SimulatedLock)
    served = ServedController(rel_broker, own_pg.url, tmp_path / "served.log")
    await served.prepare()
    await rel_ctl.stop()
    answered: dict[str, str] = {}
    flowing, store_back, stop_flow = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def flow(device: str) -> None:
        """Commands one after another; after a refusal (store down) wait for the store."""
        while not stop_flow.is_set():
            status, body = await served.call(
                "POST", f"/api/devices/{device}/commands", json={"action": "ping"}
            )
            if "outcome" in body:
                answered[body["command_id"]] = body["outcome"]
                if len(answered) >= 10:
                    flowing.set()
            else:
                assert (status, body["error"]["code"]) == (503, "store_unavailable"), body
                await store_back.wait()

    flows: list[asyncio.Task[None]] = []
    try:
        await served.start()
        await served.wait_health(_all_online)
        assert served.proc is not None
        pid = served.proc.pid
        flows = [
            asyncio.create_task(flow(d)) for d in ("a211-curtain", "a212-screen", "a213-curtain")
        ]
        await asyncio.wait_for(flowing.wait(), timeout=20)
        # an unlock executed before the database goes down, acknowledged after
        lock.faults.drop_acks = True
        unlock = asyncio.create_task(
            served.call(
                "POST",
                "/api/devices/a214-lock/commands",
                json={"action": "unlock", "reason": "care visit"},
            )
        )
        await lock.wait_state(lambda s: s.lock == "unlocked", timeout=10)
        status, body = await served.call("GET", "/api/audit?device=a214-lock&limit=1")
        [issued] = body["audit"]
        await asyncio.to_thread(own_pg.halt)
        topics = SiteTopics(rel_broker.site.slug)
        ack = Ack(id=issued["command_id"], status=AckStatus.OK, state={"lock": "unlocked"})
        await lock.link.publish_raw(topics.device("a214-lock", Channel.ACK), encode(ack))
        lock.faults.drop_acks = False
        health = await served.wait_health(_held_back)
        assert health["status"] == "failing"
        assert not unlock.done()  # nobody is told an outcome the audit does not hold
        await asyncio.to_thread(own_pg.resume)
        store_back.set()
        status, body = await asyncio.wait_for(unlock, timeout=30)
        assert (status, body["outcome"]) == (200, "ok"), body
        answered[body["command_id"]] = body["outcome"]
        await served.wait_health(lambda h: not _held_back(h), timeout=30)
        stop_flow.set()
        await asyncio.wait_for(asyncio.gather(*flows), timeout=30)
        assert served.proc.pid == pid  # never restarted
        assert served.proc.poll() is None
        for command_id, outcome in answered.items():
            assert await _resolved(served, command_id) == [outcome], command_id
        assert "audit line not written, kept and retried" in served.log_text()
        status, body = await served.call(
            "POST", "/api/devices/a214-lock/commands", json={"action": "lock"}
        )
        assert (status, body["outcome"]) == (200, "ok"), body
    finally:
        stop_flow.set()
        store_back.set()
        for task in flows:
            task.cancel()
        lock.faults.drop_acks = False
        if not (own_pg.data / "postmaster.pid").exists():
            await asyncio.to_thread(own_pg.resume)
        await served.stop()
        await rel_ctl.restart()
