"""Two ``tryggbo serve`` instances on one PostgreSQL and one Mosquitto, no shared group
(issue 16 items 3 and 5b), with a dashboard's real WebSocket on one of them.

Help presses flow while the other instance is SIGKILLed: every press is stored, alarmed
once and confirmed within :data:`BOUND_S`, and the dashboard on the survivor shows
every one of them live, those the killed instance stored first included (they reach it
through PostgreSQL ``LISTEN``/``NOTIFY``, controller/live_relay.py). Staff taking and
closing an alarm on one instance is seen on the other's dashboard within
:data:`LIVE_BOUND_S`.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from config.site import Site
from tests.integration.harness import live_message

from .served import ServedController
from .test_help_press_confirmed import BOUND_S, confirmations, screen_running, wait_confirmed
from .test_no_shared_subscription import alarms_of, two_instances

#: an alarm change on one instance is on the other's dashboards within this (seconds)
LIVE_BOUND_S = 2.0
#: help presses, one every PRESS_EVERY_S, the other instance killed after KILL_AFTER
PRESSES = 12
PRESS_EVERY_S = 0.3
KILL_AFTER = 4


async def relaying(instances: list[ServedController], times: int = 1) -> None:
    """Until every instance's live relay has started listening ``times`` times (its
    log says so: after a database restart, the second time)."""
    said = "live relay: listening"
    async with asyncio.timeout(BOUND_S):
        while not all(s.log_text().count(said) >= times for s in instances):  # noqa: ASYNC110
            await asyncio.sleep(0.1)


@asynccontextmanager
async def dashboard(served: ServedController) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A dashboard's WebSocket on ``served`` (after its snapshot)."""
    assert served.http is not None
    async with served.http.ws_connect("/api/ws") as ws:
        assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
        yield ws


async def help_alarms_seen(ws: aiohttp.ClientWebSocketResponse, seen: dict[str, float]) -> None:
    """Record when each device's help alarm first reaches the dashboard."""
    loop = asyncio.get_running_loop()
    while True:
        frame = await ws.receive_json()
        for msg in frame["data"] if frame["type"] == "batch" else [frame]:
            data = msg.get("data") or {}
            if msg["type"] == "alarm" and data.get("kind") == "help":
                seen.setdefault(data["device"], loop.time())


async def test_presses_flow_while_an_instance_is_killed_and_the_survivors_dashboard_shows_all(
    example_site: Site, pg_url: str | None, tmp_path: Path
) -> None:
    screens = [d.id for _a, d in example_site.devices() if d.type == "screen"][:PRESSES]
    async with (
        two_instances(example_site, pg_url, tmp_path) as (broker, instances, store),
        AsyncExitStack() as running,
    ):
        killed, survivor = instances
        await relaying(instances)
        running_screens = [
            await running.enter_async_context(screen_running(broker, s)) for s in screens
        ]
        ws = await running.enter_async_context(dashboard(survivor))
        seen: dict[str, float] = {}
        watcher = asyncio.create_task(help_alarms_seen(ws, seen))
        loop = asyncio.get_running_loop()
        pressed: dict[str, float] = {}
        presses = []
        try:
            for i, screen in enumerate(running_screens):
                if i == KILL_AFTER:
                    await asyncio.to_thread(killed.kill)
                got = confirmations(screen)
                presses.append((screen.press_help(), got))
                pressed[screen.device_id] = loop.time()
                await asyncio.sleep(PRESS_EVERY_S)  # the pace of the presses
            for press, got in presses:
                await wait_confirmed(got, press, BOUND_S)
            async with asyncio.timeout(BOUND_S):
                while len(seen) < len(screens):  # noqa: ASYNC110 (the watcher fills it)
                    await asyncio.sleep(0.05)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        assert set(seen) == set(screens)
        helps = await alarms_of(store, "help")
        assert sorted(a.device or "" for a in helps) == sorted(screens)
        assert [a.details["count"] for a in helps] == [1] * len(screens)
        raised_by_killed = [
            d for d in screens[:KILL_AFTER] if f"raised: help {d}" in killed.log_text()
        ]
        waits = sorted(seen[d] - pressed[d] for d in screens)
        print(
            f"{len(screens)} presses, instance killed after {KILL_AFTER}: all on the "
            f"survivor's dashboard ({len(raised_by_killed)} raised by the killed one), "
            f"press to dashboard p50 {statistics.median(waits) * 1000:.0f} ms, "
            f"max {waits[-1] * 1000:.0f} ms"
        )


async def test_an_alarm_taken_and_closed_on_one_instance_is_live_on_the_other(
    example_site: Site, pg_url: str | None, tmp_path: Path
) -> None:
    device = "a105-screen"
    async with (
        two_instances(example_site, pg_url, tmp_path) as (broker, instances, store),
        screen_running(broker, device) as screen,
    ):
        one, two = instances
        await relaying(instances)
        async with dashboard(two) as ws:
            got = confirmations(screen)
            await wait_confirmed(got, screen.press_help(), BOUND_S)
            [alarm] = await alarms_of(store, "help")
            loop = asyncio.get_running_loop()
            took: list[float] = []
            for action, body, state in (
                ("ack", {"comment": "på väg"}, "acknowledged"),
                ("close", {"note": "hjälpt"}, "closed"),
            ):
                sent = loop.time()
                status, answer = await one.call(
                    "POST", f"/api/alarms/{alarm.id}/{action}", json=body
                )
                assert status == 200, answer
                shown = await live_message(ws, alarm_in(alarm.id, state), timeout=LIVE_BOUND_S)
                took.append(loop.time() - sent)
                assert shown["data"]["change"] == state
        print("taken/closed on one instance, on the other's dashboard after "
              + ", ".join(f"{t * 1000:.0f} ms" for t in took))  # fmt: skip


def alarm_in(alarm_id: int | None, state: str) -> Any:
    """Matches the ``/api/ws`` message of alarm ``alarm_id`` in ``state``."""

    def match(msg: dict[str, Any]) -> bool:
        data = msg.get("data") or {}
        return bool(
            msg["type"] == "alarm" and data.get("id") == alarm_id and data.get("state") == state
        )

    return match


async def test_an_instance_started_again_raises_nothing_for_a_press_already_closed(
    example_site: Site, pg_url: str | None, tmp_path: Path
) -> None:
    """The press made while one instance was down waits in its broker session; staff
    close its alarm on the other; the instance started again gets the press and must
    not raise it again (was: a second, open help alarm for a handled press)."""
    device = "a105-screen"
    async with (
        two_instances(example_site, pg_url, tmp_path) as (broker, instances, store),
        screen_running(broker, device) as screen,
    ):
        down, up = instances
        down.kill()
        got = confirmations(screen)
        await wait_confirmed(got, screen.press_help(), BOUND_S)
        [alarm] = await alarms_of(store, "help")
        status, body = await up.call("POST", f"/api/alarms/{alarm.id}/close", json={"note": "ok"})
        assert status == 200, body
        await down.start()
        async with asyncio.timeout(BOUND_S):
            while "handled already (closed)" not in down.log_text():  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        assert [(a.id, a.state) for a in await alarms_of(store, "help")] == [(alarm.id, "closed")]
