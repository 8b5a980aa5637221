"""One live picture across instances (issue 16 item 3): a command's outcome on one
``tryggbo serve`` is on the dashboards of the other (two instances on one private
PostgreSQL and a real Mosquitto; controller/live_relay.py), and on its own instance's
dashboards once, never again when the other's notes come back.
"""

from __future__ import annotations

import asyncio
import statistics
from pathlib import Path
from typing import Any

import aiohttp

from config.site import Site
from tests.integration.harness import live_message, until

from .test_help_press_confirmed import screen_running
from .test_no_shared_subscription import two_instances
from .test_survivor_dashboard import LIVE_BOUND_S, dashboard, relaying

DEVICE = "a105-screen"
#: commands whose outcome's way to the other instance is timed
ROUNDS = 20


def command(command_id: str) -> Any:
    def match(msg: dict[str, Any]) -> bool:
        return msg["type"] == "command" and msg["data"]["command_id"] == command_id

    return match


async def commands_seen(ws: aiohttp.ClientWebSocketResponse, seen: dict[str, list[float]]) -> None:
    """Record each arrival of each command's outcome on the dashboard."""
    loop = asyncio.get_running_loop()
    while True:
        frame = await ws.receive_json()
        for msg in frame["data"] if frame["type"] == "batch" else [frame]:
            if msg["type"] == "command":
                seen.setdefault(msg["data"]["command_id"], []).append(loop.time())


async def ping(served: Any) -> str:
    status, body = await served.call("POST", f"/api/devices/{DEVICE}/commands",
                                      json={"action": "ping"})  # fmt: skip
    assert status == 200, body
    assert body["outcome"] == "ok", body
    return str(body["command_id"])


async def test_a_command_outcome_on_one_instance_is_on_the_others_dashboard_once(
    example_site: Site, pg_url: str | None, tmp_path: Path
) -> None:
    async with (
        two_instances(example_site, pg_url, tmp_path) as (broker, instances, _store),
        screen_running(broker, DEVICE),
    ):
        one, two = instances
        await relaying(instances)
        async with dashboard(one) as ws_one, dashboard(two) as ws_two:
            first = await ping(one)
            shown = await live_message(ws_two, command(first), timeout=LIVE_BOUND_S)
            assert shown["data"]["action"] == "ping"
            assert shown["data"]["outcome"] == "ok"
            seen_one: dict[str, list[float]] = {}
            seen_two: dict[str, list[float]] = {}
            watchers = [
                asyncio.create_task(commands_seen(ws_one, seen_one)),
                asyncio.create_task(commands_seen(ws_two, seen_two)),
            ]
            try:
                ids, answered = [], []
                for _ in range(ROUNDS):
                    ids.append(await ping(one))
                    answered.append(asyncio.get_running_loop().time())
                await until(lambda: all(i in seen_two for i in ids), LIVE_BOUND_S)
                # a barrier: notes reach instance one in commit order, so its own
                # (sent before two heard them) came back before this one of two's
                back = await ping(two)
                await until(lambda: back in seen_one, LIVE_BOUND_S)
            finally:
                for watcher in watchers:
                    watcher.cancel()
                await asyncio.gather(*watchers, return_exceptions=True)
        assert all(len(seen_one[i]) == 1 for i in ids), seen_one
        assert all(len(seen_two[i]) == 1 for i in ids), seen_two
        assert len(seen_two[back]) == len(seen_one[back]) == 1
        delays = sorted(seen_two[i][0] - seen_one[i][0] for i in ids)
        after_answer = sorted(seen_two[i][0] - t for i, t in zip(ids, answered, strict=True))
        print(
            f"{ROUNDS} command outcomes, one instance's dashboard to the other's: "
            f"p50 {statistics.median(delays) * 1000:.1f} ms, max {delays[-1] * 1000:.1f} ms; "
            f"API answer on one to the other's dashboard: p50 "
            f"{statistics.median(after_answer) * 1000:.1f} ms, "
            f"max {after_answer[-1] * 1000:.1f} ms"
        )
