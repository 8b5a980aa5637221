"""Failover on the clustered broker (issue 16): ``python -m bench.failover``.

A 3-node NATS cluster (tests/nats_cluster.py), the example home's simulated devices
and one controller, all given the three nodes (the devices spread over them). Each
round SIGKILLs the node the controller is on, then measures

* the controller's failover: kill -> connected to another node and subscribed;
* each device's failover on the dead node: kill -> online on another node;
* help press -> alarm frame on a dashboard (``/api/ws``) with the node down, for a
  press of every screen, one at a time (their alarms closed after each round); with
  ``--instances 2`` two controllers share a PostgreSQL (started here, tests/pg_server.py)
  and the dashboard is on the *other* instance, whose node stays up (its list starts
  at the next node): what it shows came through the store's live relay or its own
  copy of the event, whichever was first;
* messages lost: presses made right after the kill and during the measurement that
  never raised their alarm or were not stored exactly once (must be 0).

The dead node is started again before the next round. ``--rounds`` (default 3) keeps
a run under two minutes here. Results: printed, and JSON in ``--out`` (one key per
``--instances``, the file's other runs kept).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp

from config.credentials import SiteCredentials, ensure_credentials
from config.site import EXAMPLE_SITE, Site, load_site
from devices.firmware.link import DeviceLink
from devices.firmware.screen import SimulatedScreen
from devices.mqtt import BrokerAddress, BrokerList
from tests.integration.harness import (
    RunningController,
    live_message,
    start_controller,
    start_home,
    wait_all_online,
)
from tests.nats_cluster import NatsCluster
from tests.pg_server import LocalPostgres, find_pg_bin, scratch_pg_database

from .common import summary

ALARM_BOUND_S = 60.0


async def _alarm_frames(ws: aiohttp.ClientWebSocketResponse, devices: set[str]) -> None:
    """Until the dashboard has shown a help alarm of each of ``devices`` (any order)."""
    waiting = set(devices)
    async with asyncio.timeout(ALARM_BOUND_S):
        while waiting:
            msg = await live_message(
                ws,
                lambda m: (
                    m["type"] == "alarm"
                    and m["data"]["kind"] == "help"
                    and m["data"]["change"] in ("raised", "repeated")
                ),
                timeout=ALARM_BOUND_S,
            )
            waiting.discard(msg["data"]["device"])


async def _back_elsewhere(link: DeviceLink, dead: BrokerAddress, killed: float) -> float:
    """Seconds from the kill until ``link`` is online on a node other than ``dead``
    (sampled every 10 ms: the link has no event for "moved")."""
    async with asyncio.timeout(ALARM_BOUND_S):
        while not (link.online and link.broker != dead):  # noqa: ASYNC110 (sampling)
            await asyncio.sleep(0.01)
    return time.monotonic() - killed


async def _close_help_alarms(ctl: RunningController) -> None:
    status, body = await ctl.call("GET", "/api/alarms")
    assert status == 200, body
    for alarm in body["alarms"]:
        if alarm["kind"] == "help" and alarm["state"] != "closed":
            await ctl.call("POST", f"/api/alarms/{alarm['id']}/close", json={"note": "bench"})


async def _stored_once(ctl: RunningController, device: str, press_id: str) -> bool:
    events = await ctl.controller.store.recent_events(limit=1000, device=device)
    ids = [e.details.get("press_id") for e in events if e.type == "help_pressed"]
    return ids.count(press_id) == 1


SECOND = "ctl-two"


async def _second_instance(
    brokers: BrokerList, site: Site, creds: SiteCredentials, db_url: str
) -> RunningController:
    """Another controller of the site on the same store, its node list starting at
    the next node (an operator orders each instance's list)."""
    nodes = BrokerList(brokers.nodes[1:] + brokers.nodes[:1])
    return await start_controller(nodes, site, creds, None, db_url=db_url, client_id=SECOND)


async def run(rounds: int, instances: int) -> dict[str, Any]:
    async with AsyncExitStack() as stack:
        if instances == 1:
            return await _run(rounds, None)
        pg_bin = find_pg_bin()
        if pg_bin is None:
            raise SystemExit("--instances 2 needs PostgreSQL's binaries (make test installs them)")
        server = LocalPostgres(pg_bin, durable=True)
        await asyncio.to_thread(server.start)
        stack.callback(server.stop)
        db_url = await stack.enter_async_context(scratch_pg_database(server.url))
        return await _run(rounds, db_url)


async def _run(rounds: int, pg_url: str | None) -> dict[str, Any]:
    site = load_site(EXAMPLE_SITE)
    root = Path(tempfile.mkdtemp(prefix="tryggbo-failover-"))
    creds = ensure_credentials(site, root / "credentials.json", controllers=(SECOND,))
    cluster = NatsCluster(creds, root / "nats")
    cluster.start()
    brokers = BrokerList(tuple(cluster.brokers))
    running = await start_home(brokers, site, creds)
    home = running.home
    ctl = await start_controller(brokers, site, creds, root / "tryggbo.sqlite", db_url=pg_url)
    watched = await _second_instance(brokers, site, creds, pg_url) if pg_url else ctl
    screens = [d.id for _a, d in site.devices() if d.type == "screen"]
    controller_s: list[float] = []
    device_s: list[float] = []
    press_ms: list[float] = []
    lost = 0
    presses_made = 0
    try:
        await wait_all_online(ctl.controller, timeout=60)
        async with watched.http.ws_connect("/api/ws") as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
            for _round in range(rounds):
                link = ctl.controller.link
                victim_at = link.broker
                victim = next(n for n in cluster.nodes if n.broker == victim_at)
                moving = [d for d in home.devices.values() if d.link.broker == victim_at]
                connects = link.connects
                await asyncio.to_thread(victim.stop, kill=True)
                killed = time.monotonic()
                # presses during the failover itself: held by the devices, or queued
                # in the controller's session, until the controller is back
                early = {s: home[s].press_help() for s in screens[:3]}  # type: ignore[attr-defined]

                devices_back = asyncio.gather(
                    *(_back_elsewhere(d.link, victim_at, killed) for d in moving)
                )
                await link.wait_connected(after=connects)
                controller_s.append(time.monotonic() - killed)
                device_s.extend(await devices_back)
                await _alarm_frames(ws, set(early))
                # the node stays down: one press at a time, press -> dashboard frame
                pressed = dict(early)
                for screen in screens[3:]:
                    device = home[screen]
                    assert isinstance(device, SimulatedScreen)
                    start = time.perf_counter()
                    pressed[screen] = device.press_help()
                    await _alarm_frames(ws, {screen})
                    press_ms.append((time.perf_counter() - start) * 1000)
                presses_made += len(pressed)
                for screen, press_id in pressed.items():
                    if not await _stored_once(ctl, screen, press_id):
                        lost += 1
                await _close_help_alarms(ctl)
                await asyncio.to_thread(victim.start)
                await asyncio.to_thread(victim.wait_healthy, 60, streams=False)
                await home.wait_all_online(timeout=ALARM_BOUND_S)
    finally:
        if watched is not ctl:
            await watched.stop()
        await ctl.stop()
        await running.stop()
        cluster.stop()
    return {
        "instances": 2 if pg_url else 1,
        "dashboard_on": "the other instance" if pg_url else "the killed node's controller",
        "nodes": len(cluster.nodes),
        "rounds": rounds,
        "devices": len(home.devices),
        "controller_failover_s": summary(controller_s),
        "device_failover_s": summary(device_s),
        "help_press_to_dashboard_ms_one_node_down": summary(press_ms),
        "presses": presses_made,
        "presses_lost_or_stored_twice": lost,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--instances", type=int, choices=(1, 2), default=1)
    parser.add_argument(
        "--out", type=Path, default=Path("bench/results/run-2026-12-03-issue16-failover.json")
    )
    args = parser.parse_args()
    started = time.monotonic()
    load_before = [round(x, 2) for x in os.getloadavg()]
    result = asyncio.run(run(args.rounds, args.instances))
    result["wall_s"] = round(time.monotonic() - started, 1)
    # this box's 2 cores are shared: the load says how far to trust the figures
    result["loadavg_before_after"] = [load_before, [round(x, 2) for x in os.getloadavg()]]
    print(json.dumps(result, indent=2))
    runs = json.loads(args.out.read_text()) if args.out.exists() else {}
    if "instances_1" not in runs and "instances_2" not in runs:
        runs = {"instances_1": runs} if runs else {}  # a file of one run, before --instances
    runs[f"instances_{args.instances}"] = result
    args.out.write_text(json.dumps(runs, indent=2) + "\n")


if __name__ == "__main__":
    main()
