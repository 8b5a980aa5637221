"""`python -m bench` (or `make bench`): run every benchmark, print a table, write JSON.

``--quick`` runs a 2,000-device fleet and fewer rounds; ``--only NAME`` runs one
benchmark (ingest, fire, restart, round_trip, scheduler, dashboard); ``--devices N``
sizes the large fleet (default 10,000: 5,000 apartments with a lock each).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

from controller.daemon import tune_gc

from . import calls, dashboard, scale
from . import scheduler as scheduler_bench
from .common import start_broker
from .fleet import raise_fd_limit, start_fleet_broker, write_fleet
from .swarm_group import SwarmGroup
from .table import print_table

ALL = ("restart", "round_trip", "ingest", "fire", "scheduler", "dashboard", "calls")


def load() -> dict[str, Any]:
    return {"loadavg": [round(x, 2) for x in os.getloadavg()], "at": time.strftime("%H:%M:%S")}


async def small_fleet(args: argparse.Namespace, only: set[str], out: dict[str, Any]) -> None:
    """1,000 devices: the daemon's RSS and restart, and the round trip under traffic."""
    if not only & {"restart", "round_trip"}:
        return
    fleet = write_fleet(500)
    broker = start_fleet_broker(fleet)
    group = SwarmGroup(fleet, broker.host, broker.port, processes=2)
    try:
        await group.start()
        await group.ask("heartbeat 2", "OK")  # 500 state reports/s flowing
        daemon = await scale.start_daemon(fleet, broker, fleet.directory / "small.sqlite")
        try:
            out["restart_1k"] = {"devices": fleet.devices, **_daemon_figures(daemon)}
            if "round_trip" in only:
                out["round_trip"] = {
                    "load": load(),
                    **await scale.round_trip(fleet, broker, daemon, args.rounds),
                    "traffic_msg_s": round(fleet.devices / 2),
                }
        finally:
            await daemon.stop()
    finally:
        await group.stop()
        broker.stop()
        shutil.rmtree(fleet.directory, ignore_errors=True)


def _daemon_figures(daemon: scale.DaemonProcess) -> dict[str, Any]:
    return {
        "start_to_synced_s": round(daemon.synced_s, 3),
        "spawn_to_synced_s": round(daemon.synced_from_spawn_s, 3),
        "rss_bytes": daemon.rss,
    }


async def large_fleet(args: argparse.Namespace, only: set[str], out: dict[str, Any]) -> None:
    if not only & {"restart", "ingest", "fire"}:
        return
    fleet = write_fleet(args.devices // 2)
    broker = start_fleet_broker(fleet)
    group = SwarmGroup(fleet, broker.host, broker.port, processes=3)
    try:
        out["swarm_connect_s"] = round(await group.start(), 2)
        if "restart" in only:
            daemon = await scale.start_daemon(fleet, broker, fleet.directory / "large.sqlite")
            await daemon.stop()
            out["restart"] = {"devices": fleet.devices, "load": load(), **_daemon_figures(daemon)}
            small = out.get("restart_1k")
            if small:
                per = (daemon.rss - small["rss_bytes"]) / (fleet.devices - small["devices"])
                out["memory"] = {
                    "rss_1k_bytes": small["rss_bytes"],
                    f"rss_{fleet.devices}_bytes": daemon.rss,
                    "bytes_per_device": round(per),
                }
        if "ingest" in only:
            out["ingest"] = {"load": load(), **await scale.ingest(fleet, broker, group)}
        if "fire" in only:
            out["fire"] = {"load": load(), **await scale.fire(fleet, broker)}
    finally:
        await group.stop()
        broker.stop()
        shutil.rmtree(fleet.directory, ignore_errors=True)


def run_calls(count: int) -> dict[str, Any]:
    """Video call set-up in real Chromium (press -> ringing, accept -> connected)."""
    broker = start_broker()
    try:
        return calls.run(broker, count)
    finally:
        broker.process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 devices, fewer rounds")
    parser.add_argument("--only", action="append", choices=ALL, help="run only these")
    parser.add_argument("--devices", type=int, default=10_000, help="large fleet size")
    parser.add_argument("--rounds", type=int, default=1000, help="round trips")
    parser.add_argument("--schedules", type=int, default=10_000, help="schedules loaded")
    parser.add_argument("--apartments", type=int, default=1000, help="dashboard overview")
    parser.add_argument("--calls", type=int, default=20, help="video calls set up")
    parser.add_argument("--out", type=Path, default=Path("bench/results/latest.json"))
    args = parser.parse_args()
    if args.quick:
        args.devices, args.rounds, args.schedules, args.apartments = 2000, 300, 2000, 200
    only = set(args.only or ALL)
    raise_fd_limit()
    tune_gc()  # the in-process controllers (ingest, fire) as `tryggbo daemon` runs
    out: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "load_at_start": load(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(small_fleet(args, only, out))
        asyncio.run(large_fleet(args, only, out))
        if "scheduler" in only:
            out["scheduler"] = {"load": load(), **scheduler_bench.run(args.schedules)}
        if "dashboard" in only:
            out["dashboard"] = {"load": load(), **dashboard.run_scaled(args.apartments)}
        if "calls" in only:
            out["calls"] = {"load": load(), **run_calls(args.calls)}
    finally:
        out["load_at_end"] = load()
        args.out.write_text(json.dumps(out, indent=2) + "\n")  # partial results too
    print_table(out)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
