"""Municipal-scale benchmarks on a fleet of simulated devices (bench.swarm), each
against a baseline measured in the same run on the same Mosquitto.

(The ingest benchmark is bench/ingest.py.)

* ``fire``: the controller's command bus sends ``unlock`` (then ``lock``) to every lock
  at once: time until every ack; then the fire panel's ``alarm``: time until every lock
  has reported ``unlocked``, seen by a raw subscriber and by the controller's twins.
* ``restart_memory``: the daemon as its own process: time from its start to every twin
  synced, and its RSS, for a small and the large fleet (bytes per device).
* ``round_trip``: HTTP API -> signed command -> device ack -> HTTP answer against a raw
  MQTT publish/echo, idle and with the devices' heartbeats flowing (500 msg/s), the
  sides and conditions alternating over several repeats.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import paho.mqtt.client as paho

from controller.daemon import Controller
from controller.ops.brokers import MosquittoProcess, free_port
from devices.contract import Channel, FireSignal, SiteTopics, encode
from tests.integration.harness import start_controller, wait_all_online

from . import roundtrip
from .common import BenchBroker, summary
from .fleet import Fleet
from .ingest_sides import cpu_seconds
from .swarm_group import SwarmGroup


def bench_broker(fleet: Fleet, proc: MosquittoProcess) -> BenchBroker:
    return BenchBroker(fleet.site, fleet.credentials, fleet.directory, proc)


def _paho(fleet: Fleet, client_id: str, *, clean: bool, login: Any = None) -> paho.Client:
    """A paho client; without ``login``, the bench login ``client_id`` (the broker makes
    the client id the login's name)."""
    login = login or fleet.credentials.controller_login(client_id)
    c = paho.Client(
        paho.CallbackAPIVersion.VERSION2,
        client_id=login.username,
        clean_session=clean,
        protocol=paho.MQTTv311,
    )
    c.username_pw_set(login.username, login.password)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    return c


# ------------------------------------------------------------------------------ fire


class LockWatcher:
    """A raw subscriber stamping when every lock has reported ``unlocked``."""

    def __init__(self, fleet: Fleet, proc: MosquittoProcess) -> None:
        self.locks = set(fleet.locks())
        self.unlocked: set[str] = set()
        self.done_at = 0.0
        self.done = threading.Event()
        t = SiteTopics(fleet.site.slug)
        self.c = _paho(fleet, "bench-lock-watch", clean=True)
        self.c.on_message = self._on_message
        self.c.connect(proc.host, proc.port)
        self.c.loop_start()
        self.c.subscribe(t.all_devices(Channel.STATE), qos=1)
        self.armed = False

    def arm(self) -> None:
        self.unlocked.clear()
        self.done.clear()
        self.armed = True

    def _on_message(self, _c: Any, _u: Any, m: paho.MQTTMessage) -> None:
        if not self.armed or m.retain or b'"lock":"unlocked"' not in m.payload:
            return
        device = m.topic.split("/")[3]
        self.unlocked.add(device)
        if len(self.unlocked) == len(self.locks) and not self.done.is_set():
            self.done_at = time.perf_counter()
            self.done.set()

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _fire_panel(fleet: Fleet, proc: MosquittoProcess, state: str) -> None:
    c = _paho(fleet, "bench-fire-panel", clean=True, login=fleet.credentials.fire_panel)
    c.connect(proc.host, proc.port)
    c.loop_start()
    signal = FireSignal(state=state, ts=datetime.now(UTC))  # type: ignore[arg-type]
    c.publish(SiteTopics(fleet.site.slug).fire, encode(signal), qos=1, retain=True)
    c.disconnect()
    c.loop_stop()


async def _fan_out(
    ctl: Controller, locks: list[str], action: str, others: dict[str, list[int]]
) -> dict:
    """All commands at once. Besides the total: when half and all of the commands had
    passed each stage (``issued`` line committed, command handed to the MQTT client,
    ack from the device matched, ``resolved`` line committed), from wrappers that
    only take the time; and the CPU it cost, here and in ``others`` (name -> pids:
    the broker, the simulated devices)."""
    stages: dict[str, list[float]] = {"issued": [], "sent": [], "acked": [], "resolved": []}
    append, kept, put = ctl.store.append_audit, ctl.store.append_audit_kept, ctl.link.put
    resolve = ctl.commands.resolve

    async def timed_append(record: Any) -> int:
        row_id = await append(record)
        stages["issued"].append(time.perf_counter())
        return row_id

    async def timed_kept(record: Any) -> int:
        row_id = await kept(record)
        stages["resolved"].append(time.perf_counter())
        return row_id

    def timed_put(*args: Any, **kw: Any) -> None:
        put(*args, **kw)
        stages["sent"].append(time.perf_counter())

    def timed_resolve(device: str, ack: Any) -> bool:
        matched = resolve(device, ack)
        stages["acked"].append(time.perf_counter())
        return matched

    ctl.store.append_audit = timed_append  # type: ignore[method-assign]
    ctl.store.append_audit_kept = timed_kept  # type: ignore[method-assign]
    ctl.link.put = timed_put  # type: ignore[method-assign]
    ctl.commands.resolve = timed_resolve  # type: ignore[method-assign]
    started = time.perf_counter()
    cpu_started, loop_cpu_started = time.process_time(), time.thread_time()
    others_started = {name: sum(map(cpu_seconds, pids)) for name, pids in others.items()}
    results = await asyncio.gather(
        *(
            ctl.commands.send(lock, action, actor="bench", reason="other: evacuation drill")
            for lock in locks
        )
    )
    seconds = time.perf_counter() - started
    loop_cpu = time.thread_time() - loop_cpu_started
    cpu = time.process_time() - cpu_started
    others_cpu = {
        f"{name}_cpu_s": round(sum(map(cpu_seconds, pids)) - others_started[name], 3)
        for name, pids in others.items()
    }
    ctl.store.append_audit, ctl.store.append_audit_kept = append, kept  # type: ignore[method-assign]
    ctl.link.put, ctl.commands.resolve = put, resolve  # type: ignore[method-assign]
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[r.outcome.value] = outcomes.get(r.outcome.value, 0) + 1

    def half_and_all(times: list[float]) -> list[float] | None:
        if not times:
            return None
        times.sort()
        return [round(times[len(times) // 2] - started, 3), round(times[-1] - started, 3)]

    return {
        "locks": len(locks),
        "seconds": round(seconds, 3),
        # seconds from the start until half and all of the commands had passed a stage
        "stages_half_all_s": {name: half_and_all(times) for name, times in stages.items()},
        # CPU of the event loop's thread (the controller's own work), and of the whole
        # benchmark process (its store threads, and the raw fire watcher's thread)
        "event_loop_cpu_s": round(loop_cpu, 3),
        "process_cpu_s": round(cpu, 3),
        **others_cpu,
        "outcomes": outcomes,
    }


async def fire(fleet: Fleet, proc: MosquittoProcess, devices: list[int] | None = None) -> dict:
    """Command fan-out (``unlock``, then ``lock``, to every lock) and the fire alarm's;
    ``devices``: the pids simulating the devices (for their CPU figure)."""
    running = await start_controller(
        proc.address,
        fleet.site,
        fleet.credentials,
        fleet.directory / "fire.sqlite",
        client_id="bench-ctl-fire",
    )
    ctl = running.controller
    watcher = await asyncio.to_thread(LockWatcher, fleet, proc)
    locks = fleet.locks()
    try:
        await wait_all_online(ctl, timeout=120)
        others = {"broker": [proc.pid] if proc.pid else [], "devices": devices or []}
        unlock = await _fan_out(ctl, locks, "unlock", others)
        relock = await _fan_out(ctl, locks, "lock", others)
        watcher.arm()
        lock_twins = [ctl.twins.get(d) for d in locks]
        started = time.perf_counter()
        await asyncio.to_thread(_fire_panel, fleet, proc, "alarm")
        async with asyncio.timeout(120):
            while not all(  # noqa: ASYNC110
                t is not None and t.reported is not None and t.reported.lock == "unlocked"  # type: ignore[union-attr]
                for t in lock_twins
            ):
                await asyncio.sleep(0.01)  # polls the twins every 10 ms
        controller_s = time.perf_counter() - started
        await asyncio.to_thread(watcher.done.wait, 60)
        broker_s = watcher.done_at - started
    finally:
        await asyncio.to_thread(_fire_panel, fleet, proc, "normal")
        watcher.close()
        await running.stop()
    return {
        "locks": len(locks),
        "command_fan_out_unlock": unlock,
        "command_fan_out_lock": relock,
        "fire_all_unlocked_seen_raw_s": round(broker_s, 3),
        "fire_all_unlocked_in_twins_s": round(controller_s, 3),
    }


# --------------------------------------------------------------- daemon as a process


@dataclass
class DaemonProcess:
    proc: asyncio.subprocess.Process
    token: str
    url: str
    synced_s: float
    synced_from_spawn_s: float
    rss: int

    async def stats(self) -> dict[str, Any]:
        """Messages the daemon has handled so far, and its CPU seconds."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(b"stats\n")
        async with asyncio.timeout(30):
            while not (line := (await self.proc.stdout.readline()).decode()).startswith("STATS"):
                if not line:
                    raise RuntimeError("bench controller exited")
        return json.loads(line.split(" ", 1)[1])

    async def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            async with asyncio.timeout(30):
                await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


async def start_daemon(fleet: Fleet, proc: MosquittoProcess, db: Path) -> DaemonProcess:
    t0 = time.time()
    p = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.controller_proc", str(fleet.directory),
        proc.host, str(proc.port), str(db), str(free_port()), str(t0),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert p.stdout is not None
    lines: dict[str, str] = {}
    async with asyncio.timeout(180):
        while "RSS" not in lines:
            line = (await p.stdout.readline()).decode()
            if not line:
                raise RuntimeError("bench controller exited early")
            word, _, rest = line.strip().partition(" ")
            lines[word] = rest
    synced, from_spawn = (float(x) for x in lines["SYNCED"].split())
    return DaemonProcess(p, lines["TOKEN"], lines["HTTP"], synced, from_spawn, int(lines["RSS"]))


async def api_round_trips(daemon: DaemonProcess, devices: list[str], rounds: int) -> list[float]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {daemon.token}"}) as http:
        times = []
        for i in range(rounds):
            start = time.perf_counter()
            async with http.post(
                f"{daemon.url}/api/devices/{devices[i % len(devices)]}/commands",
                json={"action": "ping"},
            ) as resp:
                body = await resp.json()
            if body.get("outcome") != "ok":
                raise RuntimeError(f"ping failed: {body}")
            times.append((time.perf_counter() - start) * 1000)
    return times[10:]


def _rt_summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Per condition: each side's p50 and p99 (median and range over the repeats), and
    the median and range of the per-repeat ratios (API over raw echo)."""
    out: dict[str, Any] = {}
    for condition in ("idle", "loaded"):
        xs = [x for x in samples if x["condition"] == condition]
        if not xs:
            continue
        c: dict[str, Any] = {}
        for side in ("raw_mqtt_ms", "api_ms"):
            got = [x for x in xs if x["side"] == side]
            c[side] = {pct: _spread([x["ms"][pct] for x in got]) for pct in ("p50", "p99", "max")}
        for pct in ("p50", "p99"):
            ratios = []
            for r in sorted({x["repeat"] for x in xs}):
                pair = {x["side"]: x["ms"][pct] for x in xs if x["repeat"] == r}
                if len(pair) == 2:
                    ratios.append(round(pair["api_ms"] / pair["raw_mqtt_ms"], 2))
            c[f"{pct}_ratio"] = _spread(ratios)
        c["background_msg_s"] = _spread([x["background_msg_s"] for x in xs])
        out[condition] = c
    return out


def _spread(values: list[float]) -> dict[str, Any]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
        "all": values,
    }


async def round_trip(
    fleet: Fleet,
    proc: MosquittoProcess,
    daemon: DaemonProcess,
    group: SwarmGroup,
    rounds: int,
    repeats: int,
) -> dict:
    """``repeats`` times, idle and loaded (the order alternating), the raw echo and the
    API (the order alternating): ``rounds`` round trips each. Loaded: every device
    reports its state every ``devices / 500`` s (500 msg/s); the rate the daemon
    handled during each sample is measured (``background_msg_s``)."""
    devices = [d.id for _a, d in fleet.site.devices()][:: max(1, fleet.devices // 50)]
    period = fleet.devices / 500
    samples: list[dict[str, Any]] = []
    lost: list[int] = []
    for r in range(repeats):
        conditions = ("idle", "loaded") if r % 2 == 0 else ("loaded", "idle")
        for condition in conditions:
            await group.ask(f"heartbeat {period if condition == 'loaded' else 0}", "OK")
            await asyncio.sleep(1.0)  # the heartbeats have started or stopped
            sides = ("raw_mqtt_ms", "api_ms") if r % 2 == 0 else ("api_ms", "raw_mqtt_ms")
            for side in sides:
                before, t0 = await daemon.stats(), time.monotonic()
                load = [round(x, 2) for x in os.getloadavg()]
                async with asyncio.timeout(300):
                    if side == "raw_mqtt_ms":
                        times = await roundtrip.raw_echo(bench_broker(fleet, proc), rounds, lost)
                    else:
                        times = await api_round_trips(daemon, devices, rounds)
                after, t1 = await daemon.stats(), time.monotonic()
                handled = after["received"] - before["received"]
                if side == "api_ms":
                    handled -= rounds  # the pings' acks are not background
                samples.append(
                    {
                        "repeat": r,
                        "condition": condition,
                        "side": side,
                        "ms": summary(times),
                        "seconds": round(t1 - t0, 2),
                        "background_msg_s": round(handled / (t1 - t0)),
                        "daemon_cpu_s": round(after["cpu_s"] - before["cpu_s"], 2),
                        "load": load,
                    }
                )
    await group.ask("heartbeat 0", "OK")
    return {
        "devices": fleet.devices,
        "rounds": rounds,
        "repeats": repeats,
        "raw_echo_lost": len(lost),
        "summary": _rt_summary(samples),
        "samples": samples,
    }


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2)
