"""The controller daemon as its own process, for the memory, restart and round-trip
benchmarks: ``python -m bench.controller_proc FLEET_DIR HOST PORT DB HTTP_PORT T0``.

T0 is the wall-clock instant the parent started this process. The store (migrated,
with the test users and a token) is made by a child interpreter first
(``python -m bench.controller_proc --prepare FLEET_DIR DB``): the daemon's process
then holds what a daemon restarted on its store holds, not alembic (migrating a new
store loads it) nor zxcvbn (setting the users' passwords does), ~23 MB between them.
Prints ``TOKEN t`` (an API token of ``test-staff``), ``HTTP url``, then ``SYNCED s``
(seconds from the controller's start, then from T0 less the child's time, to every
twin online with a reported state) and
``RSS bytes`` (after a GC, with the site's twins all synced); then answers ``stats``
on stdin with ``STATS {json}`` (messages handled so far, the process's CPU seconds);
runs until SIGINT/SIGTERM or stdin closes. With ``PYTHONTRACEMALLOC`` set and
``TRYGGBO_BENCH_SNAPSHOT=FILE``, it dumps a tracemalloc snapshot to FILE before ``RSS``
(``python -m bench.memory --where``). Its MQTT login (and client id) is
``bench-controller``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

from config.site import Site
from controller.auth.tokens import create_user_token
from controller.daemon import Controller, ControllerConfig, tune_gc
from controller.store import open_store
from devices.clock import SystemClock
from devices.mqtt import BrokerAddress
from tests.integration.harness import make_test_users

from .fleet import Fleet, load_fleet, raise_fd_limit
from .ingest_sides import cpu_seconds

CLIENT_ID = "bench-controller"


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def prepare_store(db: Path, site: Site) -> str:
    """Users ``test-staff`` and ``test-admin`` in a new store; an API token of the first."""
    store = open_store(f"sqlite:///{db}")
    await store.open()
    try:
        now = SystemClock().now()
        await make_test_users(store, site, now=now)
        token, _ = await create_user_token(store, username="test-staff", name="bench", now=now)
    finally:
        await store.close()
    return token


def prepare_apart(directory: str, db: str) -> str:
    """:func:`prepare_store` in a child interpreter; the token."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.controller_proc", "--prepare", directory, db],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()[-1]


def controller(fleet: Fleet, host: str, port: int, db: str, http_port: int) -> Controller:
    """The daemon of ``fleet`` (which the caller drops, as ``tryggbo serve`` drops what
    it loaded: the controller keeps of the devices' secrets only what it uses)."""
    return Controller(
        ControllerConfig(
            broker=BrokerAddress(host, port),
            site=fleet.site,
            credentials=fleet.credentials,
            db_url=f"sqlite:///{db}",
            http_port=http_port,
            client_id=CLIENT_ID,
        )
    )


def unsynced(ctl: Controller) -> list[str]:
    """Twins not yet online with a reported state."""
    return [t.id for t in ctl.twins.all() if t.reachability.value != "online" or t.reported is None]


async def main() -> None:
    directory, host, port, db, http_port, t0 = sys.argv[1:7]
    raise_fd_limit()
    tune_gc()  # as `tryggbo daemon` does
    prepared = time.time()
    token = prepare_apart(directory, db)
    t0 = str(float(t0) + time.time() - prepared)  # the child's time is not the daemon's
    started = time.time()
    ctl = controller(load_fleet(Path(directory)), host, int(port), db, int(http_port))
    task = asyncio.create_task(ctl.run())
    next_report = time.monotonic() + 10
    while waiting := unsynced(ctl):
        if task.done():
            task.result()
        if time.monotonic() >= next_report:  # progress, and who holds it up
            next_report += 10
            twin = ctl.twins.get(waiting[0])
            print(f"waiting for {len(waiting)} twins, e.g. {twin}", file=sys.stderr, flush=True)
        await asyncio.sleep(0.05)
    synced = time.time()
    print(f"TOKEN {token}", flush=True)
    print(f"HTTP {ctl.http_url}", flush=True)
    print(f"SYNCED {synced - started:.3f} {synced - float(t0):.3f}", flush=True)
    await asyncio.sleep(1.0)  # let the event writer and alarms settle
    gc.collect()
    snapshot = os.environ.get("TRYGGBO_BENCH_SNAPSHOT")
    if snapshot and tracemalloc.is_tracing():
        tracemalloc.take_snapshot().dump(snapshot)
    print(f"RSS {rss_bytes()}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def answer() -> None:
        while line := (await reader.readline()).strip():
            if line == b"stats":
                stats = {"received": ctl.reports.received, "cpu_s": cpu_seconds()}
                print("STATS " + json.dumps(stats), flush=True)

    waiter = asyncio.create_task(answer())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


if __name__ == "__main__":
    if sys.argv[1] == "--prepare":
        directory, db = sys.argv[2:4]
        print(asyncio.run(prepare_store(Path(db), load_fleet(Path(directory)).site)))
    else:
        asyncio.run(main())
