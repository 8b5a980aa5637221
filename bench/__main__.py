"""`python -m bench` (or `make bench`): run every benchmark, print a table, write JSON.

``--quick`` runs a 2,000-device fleet and fewer rounds; ``--only NAME`` runs one
benchmark (ingest, fire, restart, round_trip, scheduler, dashboard, calls);
``--devices N`` sizes the large fleet (default 10,000: 5,000 apartments with a lock
each); ``--repeats`` how often the ingest and round-trip comparisons alternate their
sides.
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

from . import calls, controller_proc, dashboard, scale
from . import ingest as ingest_bench
from . import scheduler as scheduler_bench
from .common import start_broker
from .fleet import raise_fd_limit, start_fleet_broker, write_fleet
from .swarm_group import SwarmGroup
from .table import print_table

ALL = ("restart", "round_trip", "ingest", "fire", "scheduler", "dashboard", "calls")


def load() -> dict[str, Any]:
    """The load average (``/proc/loadavg``: 1, 5, 15 min, running/all tasks) now."""
    return {
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "proc_loadavg": Path("/proc/loadavg").read_text().strip(),
        "at": time.strftime("%H:%M:%S"),
    }


async def small_fleet(args: argparse.Namespace, only: set[str], out: dict[str, Any]) -> None:
    """1,000 devices: the daemon's RSS and restart, and the round trip under traffic."""
    if not only & {"restart", "round_trip"}:
        return
    fleet = write_fleet(500)
    broker = start_fleet_broker(fleet)
    group = SwarmGroup(fleet, broker.host, broker.port, processes=2)
    try:
        await group.start()
        await group.ask(f"heartbeat {fleet.devices / 500}", "OK")  # 500 state reports/s
        daemon = await scale.start_daemon(fleet, broker, fleet.directory / "small.sqlite")
        try:
            out["restart_1k"] = {"devices": fleet.devices, **_daemon_figures(daemon)}
            if "round_trip" in only:
                out["round_trip"] = {
                    "load": load(),
                    **await scale.round_trip(
                        fleet, broker, daemon, group, args.rounds, args.repeats
                    ),
                    "load_after": load(),
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
            # its persistent session would queue every later message for nobody
            await asyncio.to_thread(
                ingest_bench.session, fleet, broker, controller_proc.CLIENT_ID, keep=False
            )
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
            out["ingest"] = {
                "load": load(),
                **await ingest_bench.ingest(
                    fleet, broker, group, args.repeats, profile=args.profile
                ),
                "load_after": load(),
            }
        if "fire" in only:
            swarm = [p.pid for p in group.procs]
            out["fire"] = {"load": load(), **await scale.fire(fleet, broker, swarm)}
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
    parser.add_argument(
        "--quick", action="store_true", help="2,000 devices, fewer rounds and repeats"
    )
    parser.add_argument("--only", action="append", choices=ALL, help="run only these")
    parser.add_argument("--devices", type=int, default=10_000, help="large fleet size")
    parser.add_argument("--rounds", type=int, default=1000, help="round trips per sample")
    parser.add_argument(
        "--repeats", type=int, default=5, help="rounds of the ingest and round-trip comparisons"
    )
    parser.add_argument("--schedules", type=int, default=10_000, help="schedules loaded")
    parser.add_argument("--apartments", type=int, default=1000, help="dashboard overview")
    parser.add_argument("--calls", type=int, default=20, help="video calls set up")
    parser.add_argument("--out", type=Path, default=Path("bench/results/latest.json"))
    parser.add_argument(
        "--profile",
        type=Path,
        help="py-spy records the controller's ingest drains into this folder (collapsed stacks)",
    )
    args = parser.parse_args()
    if args.quick:
        args.devices, args.rounds, args.schedules, args.apartments = 2000, 300, 2000, 200
        args.repeats = min(args.repeats, 2)
    only = set(args.only or ALL)
    raise_fd_limit()
    tune_gc()  # the in-process controllers (fire) as `tryggbo daemon` runs
    out: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "args": {k: str(v) for k, v in vars(args).items()},
        "load_at_start": load(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
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
