"""/metrics, /api/health and JSON logs on the real controller, broker and home (issue 9)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sqlite3

from prometheus_client.parser import text_string_to_metric_families

from controller.logs import ContextFilter, JsonFormatter
from tests.conftest import BrokerUnderTest

from .harness import RunningController, RunningHome


async def scrape(ctl: RunningController) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with ctl.http.get("/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = await resp.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_move_when_commands_run_and_devices_go_offline(
    ctl: RunningController, home: RunningHome
) -> None:
    before = await scrape(ctl)
    status, body = await ctl.command("a102-screen", "set_brightness", args={"brightness": 55})
    assert (status, body["outcome"]) == (200, "ok")
    after = await scrape(ctl)
    ok = {"type": "screen", "action": "set_brightness", "outcome": "ok"}
    assert (
        value(after, "tryggbo_commands_total", **ok)
        == value(before, "tryggbo_commands_total", **ok) + 1
    )
    count = "tryggbo_command_latency_seconds_count"
    assert value(after, count, type="screen") == value(before, count, type="screen") + 1

    offline = {"type": "lock", "state": "offline"}
    assert value(after, "tryggbo_devices", **offline) == 0
    online_locks = value(after, "tryggbo_devices", type="lock", state="online")
    device = home.home.devices["a106-lock"]
    device.go_offline()
    try:
        await ctl.wait_twin("a106-lock", lambda t: t.reachability.value == "offline")
        status, body = await ctl.command("a106-lock", "lock", reason="metrics test")
        assert body["outcome"] == "offline"
        during = await scrape(ctl)
        assert value(during, "tryggbo_devices", **offline) == 1
        assert value(during, "tryggbo_devices", type="lock", state="online") == online_locks - 1
        off = {"type": "lock", "action": "lock", "outcome": "offline"}
        assert (
            value(during, "tryggbo_commands_total", **off)
            == value(after, "tryggbo_commands_total", **off) + 1
        )
        assert value(during, "tryggbo_mqtt_connected") == 1
    finally:
        device.come_online()
    await ctl.wait_twin("a106-lock", lambda t: t.reachability.value == "online")
    assert value(await scrape(ctl), "tryggbo_devices", **offline) == 0


async def test_metrics_need_admin_or_technician(ctl: RunningController) -> None:
    async with ctl.http.get("/metrics", headers={"Authorization": "Bearer nope"}) as resp:
        assert resp.status == 401
    import aiohttp

    async with aiohttp.ClientSession() as anon, anon.get(f"{ctl.controller.http_url}/metrics") as r:
        assert r.status == 401


async def test_health_says_broker_down_and_counts_the_reconnect(
    ctl: RunningController, broker: BrokerUnderTest
) -> None:
    link = ctl.controller.link
    connects = link.connects
    before = await scrape(ctl)
    broker.stop()
    async with asyncio.timeout(10):  # each call is a round trip: no sleeping
        while (await ctl.call("GET", "/api/health"))[1]["broker"]["connected"]:
            pass
    status, health = await ctl.call("GET", "/api/health")
    assert status == 503
    assert (await ctl.call("GET", "/health")) == (status, health)  # the probes' alias
    assert health["status"] == "failing"
    assert any(p.startswith("broker down") for p in health["problems"]), health["problems"]
    assert health["broker"]["connected"] is False
    broker.start()
    async with asyncio.timeout(20):
        await link.wait_connected(after=connects)
    status, health = await ctl.call("GET", "/api/health")
    assert not any(p.startswith("broker down") for p in health["problems"])
    after = await scrape(ctl)
    assert (
        value(after, "tryggbo_mqtt_reconnects_total")
        == value(before, "tryggbo_mqtt_reconnects_total") + 1
    )


async def test_health_says_store_unwritable_while_another_process_holds_the_lock(
    ctl: RunningController,
) -> None:
    status, health = await ctl.call("GET", "/api/health")
    assert health["store"] == {"writable": True, "problem": None}
    path = ctl.controller.config.db_url.removeprefix("sqlite:///")
    # timeout 0: a busy wait here would block the event loop, and with it the daemon's
    # own open transaction (its statements are sent from this loop): a deadlock
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        # e.g. a stuck sqlite3 shell or backup tool; the daemon's own short write
        # transactions (events after the broker test's resync) may hold it a moment
        async with asyncio.timeout(20):
            while True:
                try:
                    holder.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError:
                    await asyncio.sleep(0.01)  # poll: let the daemon finish its transaction
        status, health = await ctl.call("GET", "/api/health")
        assert status == 503
        assert health["store"]["writable"] is False
        assert any(p.startswith("store unwritable") for p in health["problems"]), health
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    async with asyncio.timeout(20):
        while (await ctl.call("GET", "/api/health"))[1]["store"]["writable"] is not True:
            pass  # each call is a bounded write probe; ends when the stuck one finished
    status, health = await ctl.call("GET", "/api/health")
    assert health["store"]["writable"] is True


async def test_json_log_lines_carry_request_and_command_ids(ctl: RunningController) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    bus_log = logging.getLogger("controller.command_bus")
    bus_log.addHandler(handler)
    level = bus_log.level
    bus_log.setLevel(logging.INFO)
    try:
        async with ctl.http.post(
            "/api/devices/a101-curtain/commands",
            json={"action": "set_position", "args": {"position": 40}},
            headers={"X-Request-ID": "req-ops-test-1"},
        ) as resp:
            body = await resp.json()
            assert resp.headers["X-Request-ID"] == "req-ops-test-1"
    finally:
        bus_log.removeHandler(handler)
        bus_log.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = [line for line in lines if line.get("request_id") == "req-ops-test-1"]
    assert mine, lines
    assert mine[-1]["command_id"] == body["command_id"]
    assert mine[-1]["level"] == "INFO"
    assert mine[-1]["logger"] == "controller.command_bus"
    assert body["command_id"] in mine[-1]["message"]
