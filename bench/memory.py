"""The daemon's memory: its imports apart, idle at N devices, and over a steady load.

``python -m bench.memory [--devices 10000] [--minutes 3] [--out FILE]``
``python -m bench.memory --where [--devices 10000]``

* **imports**: VmRSS of a fresh interpreter, after importing what the daemon's own
  modules need (``controller.daemon``), with the API's modules too (the running
  daemon loads them as it starts) and after what ``tryggbo serve`` loads
  (``controller.cli.app``, then the API);
* **idle**: the daemon (``bench/controller_proc.py``) once every twin is synced and a
  GC ran, at ``--devices`` devices;
* **steady load**: every device reports its state every ``devices / 500`` s (500
  msg/s) for ``--minutes``; the daemon's VmRSS and VmHWM (peak) from
  ``/proc/<pid>/status`` every 10 s. Growth: the last sample minus the first taken
  after one minute of load (the buffers have grown to their working size by then).

``--where`` says what the bytes per device are: tracemalloc snapshots of the synced
daemon at a tenth of ``--devices`` and at ``--devices``, compared line by line (bytes
per added device, the lines that allocate most of them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from . import scale
from .fleet import raise_fd_limit, start_fleet_broker, write_fleet
from .swarm_group import SwarmGroup

_RSS = (
    "import re,sys;{imp};s=open('/proc/self/status').read();"
    "print(re.search(r'VmRSS:\\s+(\\d+)',s).group(1), len(sys.modules))"
)


#: What the running daemon has loaded: its modules and the API's (imported as it starts).
_WITH_API = (
    "import controller.daemon, importlib, pkgutil, controller.api as a;"
    "[importlib.import_module(m.name) for m in pkgutil.iter_modules(a.__path__, 'controller.api.')]"
)


_SERVE = "import controller.cli.app;" + _WITH_API


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (kB) of a process."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def import_rss() -> dict[str, dict[str, int]]:
    """VmRSS (kB) and module count of a fresh interpreter after each import."""
    out = {}
    for name, imp in (
        ("python", "pass"),
        ("controller.daemon", "import controller.daemon"),
        ("controller.daemon and every controller.api module (build_app loads them)", _WITH_API),
        ("tryggbo serve (controller.cli.app, and the API as it starts)", _SERVE),
    ):
        rss, modules = subprocess.run(
            [sys.executable, "-c", _RSS.format(imp=imp)], capture_output=True, text=True, check=True
        ).stdout.split()
        out[name] = {"rss_kb": int(rss), "modules": int(modules)}
    return out


async def steady(devices: int, minutes: float) -> dict[str, Any]:
    """Idle RSS at ``devices``, then RSS every 10 s under 500 msg/s for ``minutes``."""
    fleet = write_fleet(devices // 2)
    broker = start_fleet_broker(fleet)
    group = SwarmGroup(fleet, broker.host, broker.port, processes=3)
    daemon = None
    try:
        await group.start()
        daemon = await scale.start_daemon(fleet, broker, fleet.directory / "memory.sqlite")
        pid = daemon.proc.pid
        idle = status_kb(pid)
        await group.ask(f"heartbeat {fleet.devices / 500}", "OK")
        start = time.monotonic()
        before = await daemon.stats()
        samples = []
        while (elapsed := time.monotonic() - start) < minutes * 60:
            await asyncio.sleep(10)  # the sampling period, not a synchronisation
            samples.append({"t_s": round(elapsed + 10), **status_kb(pid)})
            print(f"  memory {samples[-1]}", file=sys.stderr, flush=True)
        after = await daemon.stats()
        await group.ask("heartbeat 0", "OK")
        rate = (after["received"] - before["received"]) / (time.monotonic() - start)
        warm = next((s for s in samples if s["t_s"] >= 60), samples[0])
        return {
            "devices": fleet.devices,
            "idle_rss_kb": daemon.rss // 1024,
            "idle_status_kb": idle,
            "load_msg_s": round(rate),
            "minutes": minutes,
            "samples": samples,
            "growth_after_1min_kb": samples[-1]["VmRSS"] - warm["VmRSS"],
            "peak_kb": max(s["VmHWM"] for s in samples),
        }
    finally:
        if daemon is not None:
            await daemon.stop()
        await group.stop()
        broker.stop()
        shutil.rmtree(fleet.directory, ignore_errors=True)


async def snapshot_at(devices: int, out: Path) -> int:
    """The synced daemon's tracemalloc snapshot at ``devices`` (to ``out``); its RSS."""
    fleet = write_fleet(devices // 2)
    broker = start_fleet_broker(fleet)
    group = SwarmGroup(fleet, broker.host, broker.port, processes=3)
    daemon = None
    saved = dict(os.environ)
    os.environ.update(PYTHONTRACEMALLOC="1", TRYGGBO_BENCH_SNAPSHOT=str(out))
    try:
        await group.start()
        daemon = await scale.start_daemon(fleet, broker, fleet.directory / "memory.sqlite")
        return daemon.rss
    finally:
        os.environ.clear()
        os.environ.update(saved)
        if daemon is not None:
            await daemon.stop()
        await group.stop()
        broker.stop()
        shutil.rmtree(fleet.directory, ignore_errors=True)


def where(devices: int, top: int = 25) -> dict[str, Any]:
    """Bytes per device between a tenth of ``devices`` and ``devices``, by line."""
    small, large = devices // 10, devices
    files = {n: Path(f"/tmp/tryggbo-memory-{n}.tracemalloc") for n in (small, large)}
    rss = {n: asyncio.run(snapshot_at(n, path)) for n, path in files.items()}
    before, after = (tracemalloc.Snapshot.load(str(files[n])) for n in (small, large))
    added = large - small
    diff = after.compare_to(before, "lineno")
    traced = sum(s.size_diff for s in diff)
    lines = [
        {
            "bytes_per_device": round(s.size_diff / added, 1),
            "blocks_per_device": round(s.count_diff / added, 2),
            "where": f"{s.traceback[0].filename}:{s.traceback[0].lineno}",
        }
        for s in diff[:top]
    ]
    return {
        "devices": [small, large],
        "rss_kb": {str(n): r // 1024 for n, r in rss.items()},
        "rss_bytes_per_device": round((rss[large] - rss[small]) / added),
        "traced_bytes_per_device": round(traced / added),
        "top_lines": lines,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--where", action="store_true", help="what the bytes per device are")
    args = parser.parse_args()
    raise_fd_limit()
    if args.where:
        out = where(args.devices)
    else:
        out = {"imports": import_rss(), **asyncio.run(steady(args.devices, args.minutes))}
    text = json.dumps(out, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
