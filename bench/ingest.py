"""Ingest: how fast a receiver drains what the devices queued for it while it was away,
counting a message only when its work is done, against the fastest honest Python
subscribers, on the same broker, in alternating rounds.

One sample: the receiver's persistent session is primed (subscribed, then away);
every device publishes ``k`` state reports and one event (QoS 1, queued by the broker
for that session only); the receiver (a process of its own, bench/ingest_sides.py)
connects, subscribes again (as the controller's link does on every connect) and drains:
the ``N * (k + 1)`` queued messages, then the ``~3 N`` retained ones (meta, availability,
state) the subscription replays; every side gets exactly these. The clock runs from
the first message it handles to the moment the last of them is done:

* ``raw``: paho ``loop_forever``, counting;
* ``nodered``: paho ``loop_forever``, parsing the JSON and keeping the last value per
  device (a Node-RED ``mqtt in -> json -> function`` flow, without Node-RED);
* ``tryggbo``: the controller acknowledged every message (it acknowledges only once
  the message's work is durable: the event row committed, the alarm decision stored;
  the twin is updated before), and the dashboard's WebSocket client (another process)
  has received every device's final twin and every event.

Rounds alternate the sides (the order rotates each round) and repeat; the summary
gives each side's median and range, and the median of the per-round ratios (each
ratio from two samples taken a few seconds apart). CPU per message is the receiver
process's own user + system time (``/proc/<pid>/stat``) from its start of work to its
last message done, divided by the messages; the broker's is given beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho

from controller.ops.brokers import MosquittoProcess
from devices.contract import SiteTopics

from .fleet import Fleet
from .ingest_sides import LOGINS, cpu_seconds, subscriptions
from .swarm_group import SwarmGroup

SIDES = ("raw", "nodered", "tryggbo")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _client(fleet: Fleet, name: str, *, clean: bool) -> paho.Client:
    login = fleet.credentials.controller_login(name)
    c = paho.Client(
        paho.CallbackAPIVersion.VERSION2,
        client_id=login.username,
        clean_session=clean,
        protocol=paho.MQTTv311,
    )
    c.username_pw_set(login.username, login.password)
    return c


def session(fleet: Fleet, proc: MosquittoProcess, name: str, *, keep: bool) -> int:
    """``keep``: a persistent session of login ``name`` with the controller's
    subscriptions, then away; the retained messages the subscription brings are
    received first (else the session keeps them queued and the drain gets them twice);
    returns how many there were (but the controller's own availability). Else: connect
    with a clean session and leave (the broker forgets the session, so it queues
    nothing more for that login)."""
    c = _client(fleet, name, clean=not keep)
    ready = threading.Event()
    own = SiteTopics(fleet.site.slug).controller_availability
    last = [time.monotonic()]
    retained = [0]

    def on_message(_c: Any, _u: Any, m: paho.MQTTMessage) -> None:
        last[0] = time.monotonic()
        if m.retain and m.topic != own:
            retained[0] += 1

    c.on_message = on_message
    if keep:
        c.on_connect = lambda client, *_a: client.subscribe(
            [(t, 1) for t in subscriptions(fleet.site.slug)]
        )
        c.on_subscribe = lambda *_a: ready.set()
    else:
        c.on_connect = lambda *_a: ready.set()
    c.connect(proc.host, proc.port)
    c.loop_start()
    if not ready.wait(30):
        raise RuntimeError(f"{name}: no {'SUBACK' if keep else 'CONNACK'} in 30 s")
    if keep:
        last[0] = time.monotonic()
        while time.monotonic() - last[0] < 0.5:  # the retained replay has ended
            time.sleep(0.05)
    c.disconnect()
    c.loop_stop()
    return retained[0]


async def _spawn(*args: str, log: Path | None = None) -> asyncio.subprocess.Process:
    stderr = log.open("ab") if log else None
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    finally:
        if stderr:
            stderr.close()


async def _line(p: asyncio.subprocess.Process, word: str, timeout: float = 120) -> str:
    """The rest of the first line of ``p`` that starts with ``word``."""
    assert p.stdout is not None
    async with asyncio.timeout(timeout):
        while True:
            line = (await p.stdout.readline()).decode()
            if not line:
                raise RuntimeError(f"process {p.pid} exited (rc {await p.wait()}) before {word}")
            if line.startswith(word):
                return line[len(word) :].strip()


def _send(p: asyncio.subprocess.Process, line: str) -> None:
    assert p.stdin is not None
    p.stdin.write(line.encode() + b"\n")


async def _stop(p: asyncio.subprocess.Process | None) -> None:
    if p is None:
        return
    if p.stdin is not None and not p.stdin.is_closing():
        p.stdin.close()
    try:
        async with asyncio.timeout(30):
            await p.wait()
    except TimeoutError:
        p.kill()
        await p.wait()


async def _profiler(pid: int, out: Path) -> asyncio.subprocess.Process:
    """py-spy sampling ``pid`` (every thread, native frames off) into collapsed stacks."""
    spy = Path(sys.executable).with_name("py-spy")
    return await asyncio.create_subprocess_exec(
        str(spy), "record", "--pid", str(pid), "--rate", "250", "--format", "raw",
        "--output", str(out), "--nonblocking",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def sample(
    side: str,
    fleet: Fleet,
    proc: MosquittoProcess,
    group: SwarmGroup,
    k: int,
    n: int,
    profile: Path | None = None,
) -> dict[str, Any]:
    """One drain by ``side`` of ``k`` state reports and one event per device;
    ``profile``: a folder where py-spy's record of the controller's drain is written."""
    replay = await asyncio.to_thread(session, fleet, proc, LOGINS[side], keep=True)
    queued = fleet.devices * (k + 1)
    expected = queued + replay  # what it is sent: queued, then the resubscribe's replay
    db = fleet.directory / f"ingest-{n}.sqlite"
    argv = ["-m", "bench.ingest_sides", side, str(fleet.directory), proc.host, str(proc.port)]
    log = fleet.directory / "ingest-tryggbo.log"  # the daemon logs at INFO, as `serve` does
    if side == "tryggbo":
        child = await _spawn(*argv, str(expected), str(db), log=log)
    else:
        child = await _spawn(*argv, str(expected))
    ws: asyncio.subprocess.Process | None = None
    try:
        if side == "tryggbo":
            token = await _line(child, "TOKEN", 180)
            url = await _line(child, "HTTP")
        await _line(child, "READY", 180)
        if side == "tryggbo":
            ws = await _spawn("-m", "bench.ws_client", url, token)
            await _line(ws, "CONNECTED", 60)
        published = sum(int(x) for x in await group.ask(f"burst {k}", "BURST"))
        if published != queued:
            raise RuntimeError(f"swarm published {published}, expected {queued}")
        load_before = _load()
        broker_cpu = cpu_seconds(proc.pid) if proc.pid else 0.0
        ws_cpu = cpu_seconds(ws.pid) if ws else 0.0
        spy = None
        if profile is not None and side == "tryggbo":
            spy = await _profiler(child.pid, profile / f"ingest-{n}.txt")
            assert spy.stdout is not None  # "py-spy> Sampling process ..." once attached
            async with asyncio.timeout(30):
                await spy.stdout.readline()
        _send(child, "go")
        done = json.loads(await _line(child, "DONE", 600))
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its record on SIGINT
            await spy.wait()
        broker_cpu = (cpu_seconds(proc.pid) if proc.pid else 0.0) - broker_cpu
        end = done["done"]
        out: dict[str, Any] = {"side": side, "load_before": load_before}
        if ws is not None:
            _send(ws, "report")
            seen = json.loads(await _line(ws, "STATS", 60))
            ws_cpu = cpu_seconds(ws.pid) - ws_cpu
            _send(child, "check")
            check = json.loads(await _line(child, "CHECK", 120))
            complete = (
                seen["seq_sum"] == done["twin_seq_sum"] and seen["booted_events"] == fleet.devices
            )
            end = max(end, seen["twins_at"], seen["events_at"])
            out["acknowledged_s"] = round(done["done"] - done["first"], 3)
            out["dashboard_s"] = round(max(seen["twins_at"], seen["events_at"]) - done["first"], 3)
            out["dashboard_complete"] = complete
            out["dashboard"] = {k_: v for k_, v in seen.items() if not k_.endswith("_at")}
            out["dashboard_client_cpu_s"] = round(ws_cpu, 3)
            out["events_stored"] = check["booted_events_stored"]
            out["events_expected"] = fleet.devices
        seconds = end - done["first"]
        out.update(
            messages=expected,
            queued=queued,
            retained_replay=replay,
            seconds=round(seconds, 3),
            msg_s=round(expected / seconds),
            cpu_us_per_msg=round(done["cpu_s"] / expected * 1e6, 1),
            broker_cpu_us_per_msg=round(broker_cpu / expected * 1e6, 1),
            connect_to_first_s=round(done["first"] - done["go"], 3),
            load_after=_load(),
            **{k_: v for k_, v in done.items() if k_ not in ("go", "first", "done", "messages")},
        )
        return out
    except Exception:
        if side == "tryggbo" and log.exists():
            print(log.read_text()[-4000:], file=sys.stderr)
        raise
    finally:
        if ws is not None:
            await _stop(ws)
        await _stop(child)
        await asyncio.to_thread(session, fleet, proc, LOGINS[side], keep=False)
        with contextlib.suppress(FileNotFoundError):
            for suffix in ("", "-wal", "-shm"):
                (db.parent / (db.name + suffix)).unlink()


def _spread(values: list[float]) -> dict[str, Any]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
        "all": values,
    }


def summarize(samples: list[dict[str, Any]]) -> dict[str, Any]:
    by_side = {s: [x for x in samples if x["side"] == s] for s in SIDES}
    out: dict[str, Any] = {}
    for side, xs in by_side.items():
        if xs:
            out[side] = {
                "msg_s": _spread([x["msg_s"] for x in xs]),
                "cpu_us_per_msg": _spread([x["cpu_us_per_msg"] for x in xs]),
                "broker_cpu_us_per_msg": _spread([x["broker_cpu_us_per_msg"] for x in xs]),
            }
    ratios: dict[str, list[float]] = {"tryggbo/raw": [], "tryggbo/nodered": [], "nodered/raw": []}
    rounds = sorted({x["round"] for x in samples})
    for r in rounds:
        got = {x["side"]: x["msg_s"] for x in samples if x["round"] == r}
        for name in ratios:
            a, b = name.split("/")
            if a in got and b in got:
                ratios[name].append(round(got[a] / got[b], 3))
    out["ratios"] = {name: _spread(v) for name, v in ratios.items() if v}
    ours = by_side["tryggbo"]
    if ours:  # what the controller's figure stands for held in every sample
        out["tryggbo_checks"] = {
            "samples": len(ours),
            "dashboard_complete": sum(1 for x in ours if x.get("dashboard_complete")),
            "all_events_stored": sum(
                1 for x in ours if x.get("events_stored") == x.get("events_expected")
            ),
        }
    return out


async def ingest(
    fleet: Fleet,
    proc: MosquittoProcess,
    group: SwarmGroup,
    repeats: int,
    k: int = 2,
    profile: Path | None = None,
) -> dict[str, Any]:
    """``repeats`` rounds of the three sides, the order rotating each round."""
    samples: list[dict[str, Any]] = []
    started = time.monotonic()
    for r in range(repeats):
        order = SIDES[r % 3 :] + SIDES[: r % 3]
        for side in order:
            x = await sample(side, fleet, proc, group, k, len(samples), profile)
            x["round"] = r
            samples.append(x)
            print(
                f"  ingest round {r + 1}/{repeats} {side:<8} {x['msg_s']:>7} msg/s "
                f"{x['cpu_us_per_msg']:>6} us/msg  load {x['load_before'][0]}",
                file=sys.stderr,
                flush=True,
            )
    return {
        "devices": fleet.devices,
        "reports_per_device": k,
        "events_per_device": 1,
        "queued_per_drain": fleet.devices * (k + 1),
        "repeats": repeats,
        "wall_s": round(time.monotonic() - started, 1),
        "summary": summarize(samples),
        "samples": samples,
    }
