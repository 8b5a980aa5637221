"""Municipal-scale benchmarks on a fleet of simulated devices (bench.swarm), each
against a baseline measured in the same run on the same Mosquitto.

* ``ingest``: every device queues state reports and an event for a persistent
  session while the receiver is away; then the receiver connects and the drain is
  timed (its own rate, not the publishers'). Receivers: a raw paho subscriber, and the
  controller (twins, event store, alarms, with a WebSocket client in another process).
* ``fire``: the controller's command bus sends ``unlock`` (then ``lock``) to every lock
  at once: time until every ack; then the fire panel's ``alarm``: time until every lock
  has reported ``unlocked``, seen by a raw subscriber and by the controller's twins.
* ``restart_memory``: the daemon as its own process: time from its start to every twin
  synced, and its RSS, for a small and the large fleet (bytes per device).
* ``round_trip``: HTTP API -> signed command -> device ack -> HTTP answer against a raw
  MQTT publish/echo, both while the devices' heartbeats flow.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import paho.mqtt.client as paho

from controller.brokers import MosquittoProcess, free_port
from controller.daemon import Controller, ControllerConfig
from devices.contract import Channel, FireSignal, SiteTopics, encode
from tests.integration.harness import start_controller, wait_all_online

from . import roundtrip
from .common import BenchBroker, summary
from .controller_proc import prepare_store
from .fleet import Fleet
from .swarm_group import SwarmGroup

DEVICE_CHANNELS = (Channel.META, Channel.AVAILABILITY, Channel.STATE, Channel.EVENT, Channel.ACK)


def bench_broker(fleet: Fleet, proc: MosquittoProcess) -> BenchBroker:
    return BenchBroker(fleet.site, fleet.credentials, fleet.directory, proc)


def _paho(fleet: Fleet, client_id: str, *, clean: bool, login: Any = None) -> paho.Client:
    login = login or fleet.credentials.controller
    c = paho.Client(
        paho.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean,
        protocol=paho.MQTTv311,
    )
    c.username_pw_set(login.username, login.password)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    return c


def _subscriptions(fleet: Fleet) -> list[tuple[str, int]]:
    """What the controller's link subscribes to (so both receivers get the same)."""
    t = SiteTopics(fleet.site.slug)
    return [(t.all_devices(ch), 1) for ch in DEVICE_CHANNELS] + [(t.fire, 1)]


def _prime(fleet: Fleet, proc: MosquittoProcess, client_id: str) -> None:
    """A persistent session with the controller's subscriptions, then away."""
    c = _paho(fleet, client_id, clean=False)
    done = threading.Event()
    c.on_subscribe = lambda *a: done.set()
    c.connect(proc.host, proc.port)
    c.loop_start()
    c.subscribe(_subscriptions(fleet))
    done.wait(10)
    c.disconnect()
    c.loop_stop()


# ---------------------------------------------------------------------------- ingest


def _raw_drain(fleet: Fleet, proc: MosquittoProcess, client_id: str, events: int) -> dict:
    got = seen_events = counted = 0
    first = last = 0.0
    done = threading.Event()

    def on_message(_c: Any, _u: Any, m: paho.MQTTMessage) -> None:
        nonlocal got, seen_events, first, last, counted
        got += 1
        if got == 1:
            first = time.perf_counter()
        if m.topic.endswith("/event"):
            seen_events += 1
            if seen_events == events:
                last = time.perf_counter()
                counted = got  # what arrives after the last event is not the drain's
                done.set()

    c = _paho(fleet, client_id, clean=False)
    c.on_message = on_message
    c.connect(proc.host, proc.port)
    c.loop_start()
    c.subscribe(_subscriptions(fleet))
    ok = done.wait(300)
    c.disconnect()
    c.loop_stop()
    if not ok:
        raise RuntimeError(f"raw subscriber saw {seen_events}/{events} events")
    return {
        "messages": counted,
        "seconds": round(last - first, 3),
        "msg_s": round(counted / (last - first)),
    }


async def _ws_client(url: str, token: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.ws_client", url, token,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    if b"CONNECTED" not in line:
        raise RuntimeError(f"ws client: {line!r}")
    return proc


async def _controller_drain(
    fleet: Fleet, proc: MosquittoProcess, group: SwarmGroup, client_id: str, k: int
) -> dict:
    await asyncio.to_thread(_prime, fleet, proc, client_id)
    sent = sum(int(n) for n in await group.ask(f"burst {k}", "BURST"))
    events = fleet.devices
    db = fleet.directory / "ingest.sqlite"
    token = await prepare_store(db, fleet.site)
    ctl = Controller(
        ControllerConfig(
            broker=proc.address,
            site=fleet.site,
            credentials=fleet.credentials,
            db_url=f"sqlite:///{db}",
            http_port=0,
            client_id=client_id,
        )
    )
    # Hold the MQTT link back until the WebSocket client is attached.
    gate = asyncio.Event()
    ctl.link.run = _gated(ctl, gate)  # type: ignore[method-assign]
    counts = {"all": 0, "events": 0}
    stamps: dict[str, float] = {}
    done = asyncio.Event()
    handler = ctl.reports

    def counting(message: Any, receipt: Any) -> None:
        handler(message, receipt)
        counts["all"] += 1
        if counts["all"] == 1:
            stamps["first"] = time.perf_counter()
        if message.topic.value.endswith("/event"):
            counts["events"] += 1
            if counts["events"] == events:
                stamps["last"] = time.perf_counter()
                counts["drain"] = counts["all"]  # later arrivals are not the drain's
                done.set()

    ctl.link.handler = counting
    task = asyncio.create_task(ctl.run())
    await ctl.ready.wait()
    ws = await _ws_client(ctl.http_url, token)
    try:
        gate.set()
        async with asyncio.timeout(300):
            await done.wait()
        await ctl.events.flush(timeout=60)
        stored = len(await ctl.store.recent_events(limit=10 * events))
    finally:
        assert ws.stdin is not None
        ws.stdin.close()
        out = (await ws.stdout.read()).decode() if ws.stdout else ""  # type: ignore[union-attr]
        await ws.wait()
        await _stop_task(task)
    ws_count = int(re.search(r"COUNT (\d+)", out).group(1)) if "COUNT" in out else -1  # type: ignore[union-attr]
    seconds = stamps["last"] - stamps["first"]
    synced = sum(1 for t in ctl.twins.all() if t.reported is not None)
    return {
        "published": sent,
        "messages": counts["drain"],
        "after_the_drain": counts["all"] - counts["drain"],
        "link_connects": ctl.link.connects,
        "seconds": round(seconds, 3),
        "msg_s": round(counts["drain"] / seconds),
        "twins_with_state": synced,
        "websocket_messages": ws_count,
        "events_stored": stored,
    }


def _gated(ctl: Controller, gate: asyncio.Event) -> Any:
    link_run = ctl.link.run

    async def gated() -> None:
        await gate.wait()
        await link_run()

    return gated


async def _stop_task(task: asyncio.Task[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def ingest(fleet: Fleet, proc: MosquittoProcess, group: SwarmGroup, k: int = 2) -> dict:
    """Both drains of ``k`` state reports and one event per device."""
    await asyncio.to_thread(_prime, fleet, proc, "bench-raw-ingest")
    sent = sum(int(n) for n in await group.ask(f"burst {k}", "BURST"))
    raw = await asyncio.to_thread(_raw_drain, fleet, proc, "bench-raw-ingest", fleet.devices)
    raw["published"] = sent
    ours = await _controller_drain(fleet, proc, group, "bench-ctl-ingest", k)
    return {
        "devices": fleet.devices,
        "raw_paho": raw,
        "controller": ours,
        "ratio": round(ours["msg_s"] / raw["msg_s"], 3),
    }


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


async def _fan_out(ctl: Controller, locks: list[str], action: str) -> dict:
    """All commands at once; also when the last audit line was written and the last
    command published (wrappers that only take the time)."""
    marks = {"audited": 0.0, "published": 0.0}
    append, publish = ctl.store.append_audit, ctl.link.publish

    async def timed_append(record: Any) -> int:
        row_id = await append(record)
        marks["audited"] = time.perf_counter()
        return row_id

    async def timed_publish(*args: Any, **kw: Any) -> None:
        await publish(*args, **kw)
        marks["published"] = time.perf_counter()

    ctl.store.append_audit = timed_append  # type: ignore[method-assign]
    ctl.link.publish = timed_publish  # type: ignore[method-assign]
    started = time.perf_counter()
    results = await asyncio.gather(
        *(
            ctl.commands.send(lock, action, actor="bench", reason="other: evacuation drill")
            for lock in locks
        )
    )
    seconds = time.perf_counter() - started
    ctl.store.append_audit, ctl.link.publish = append, publish  # type: ignore[method-assign]
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[r.outcome.value] = outcomes.get(r.outcome.value, 0) + 1
    return {
        "locks": len(locks),
        "seconds": round(seconds, 3),
        "last_issued_audit_s": round(marks["audited"] - started, 3),
        "last_publish_acked_by_broker_s": round(marks["published"] - started, 3),
        "outcomes": outcomes,
    }


async def fire(fleet: Fleet, proc: MosquittoProcess) -> dict:
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
        unlock = await _fan_out(ctl, locks, "unlock")
        relock = await _fan_out(ctl, locks, "lock")
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


async def round_trip(
    fleet: Fleet, proc: MosquittoProcess, daemon: DaemonProcess, rounds: int
) -> dict:
    devices = [d.id for _a, d in fleet.site.devices()][:: max(1, fleet.devices // 50)]
    async with asyncio.timeout(300):
        lost: list[int] = []
        raw = summary(await roundtrip.raw_echo(bench_broker(fleet, proc), rounds, lost))
        api = summary(await api_round_trips(daemon, devices, rounds))
    return {
        "devices": fleet.devices,
        "raw_mqtt_ms": raw,
        "api_ms": api,
        "raw_echo_lost": len(lost),
        "p50_ratio": round(api["p50"] / raw["p50"], 2),
        "p99_ratio": round(api["p99"] / raw["p99"], 2),
    }


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2)
