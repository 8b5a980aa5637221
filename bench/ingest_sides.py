"""The three receivers of the ingest benchmark (bench/ingest.py), each in its own
process so that its CPU time (``/proc/<pid>/stat``) is its own:

``python -m bench.ingest_sides SIDE FLEET_DIR HOST PORT EXPECTED [DB]``

* ``raw``: a plain paho ``loop_forever`` subscriber that counts (the fastest honest
  Python subscriber);
* ``nodered``: the same, and it also parses every payload as JSON and keeps the last
  value per device and channel (what a Node-RED flow ``mqtt in -> json -> function``
  keeping flow context does);
* ``tryggbo``: the controller as ``tryggbo serve`` runs it (store, twins, alarms, event
  writer, HTTP and ``/api/ws``, manual acknowledgements); ``DB`` is its SQLite file.

Each connects with its own login (client id = login) to the persistent session the
parent primed, and subscribes to what the controller's link subscribes to. A side
counts every message it is sent (what was queued for it while it was away, then the
retained ones its subscription replays; not the controller's own availability, which
the link handles itself) when its work is done:

* ``raw``: ``on_message`` returned (paho then sends the PUBACK);
* ``nodered``: parsed and kept (likewise);
* ``tryggbo``: acknowledged, which the controller does only once the message's work is
  durable (controller/receipts.py: an event's row committed, an alarm decision
  stored); the twin is updated inside the handler. The dashboard's frames are timed by
  the WebSocket client (bench/ws_client.py) and the parent takes the later of both.

Protocol: ``READY`` (tryggbo first prints ``TOKEN t`` and ``HTTP url``), then waits for
``go`` on stdin; prints ``DONE {json}`` with CLOCK_MONOTONIC stamps (comparable
between processes) and the CPU seconds the process used from ``go`` to done. The
tryggbo side then answers ``check`` with ``CHECK {json}`` (events in the store) and
stops when stdin closes; the paho sides exit after ``DONE``.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho

from devices.contract import SiteTopics

from .fleet import Fleet, load_fleet, raise_fd_limit

#: the login (and client id) of each side
LOGINS = {"raw": "bench-raw", "nodered": "bench-nodered", "tryggbo": "bench-tryggbo"}
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time of a whole process (every thread), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14, 15)


def subscriptions(site_slug: str) -> list[str]:
    """Exactly what the controller's MQTT link subscribes to."""
    from controller.mqtt_link import MqttLink
    from devices.contract import SiteTopics
    from devices.mqtt import BrokerAddress

    link = MqttLink(BrokerAddress("127.0.0.1", 1), SiteTopics(site_slug), None, lambda m, r: None)
    return link.subscriptions()


# ---------------------------------------------------------------------- paho sides


def run_paho(side: str, fleet: Fleet, host: str, port: int, expected: int) -> None:
    login = fleet.credentials.controller_login(LOGINS[side])
    topics = [(t, 1) for t in subscriptions(fleet.site.slug)]
    c = paho.Client(
        paho.CallbackAPIVersion.VERSION2,
        client_id=login.username,
        clean_session=False,
        protocol=paho.MQTTv311,
    )
    c.username_pw_set(login.username, login.password)
    c.on_connect = lambda client, *_a: client.subscribe(topics)
    s: dict[str, Any] = {"first": 0.0, "done": 0.0, "cpu_done": 0.0, "retained": 0}
    own = SiteTopics(fleet.site.slug).controller_availability
    counted = 0
    last: dict[tuple[str, str], Any] = {}

    def finish() -> None:
        s["done"] = time.monotonic()
        s["cpu_done"] = cpu_seconds()
        c.disconnect()

    def count(_c: Any, _u: Any, m: paho.MQTTMessage) -> None:
        nonlocal counted
        if not s["first"]:
            s["first"] = time.monotonic()
        if m.topic == own:
            return
        s["retained"] += m.retain
        counted += 1
        if counted == expected:
            finish()

    def parse_and_keep(_c: Any, _u: Any, m: paho.MQTTMessage) -> None:
        nonlocal counted
        if not s["first"]:
            s["first"] = time.monotonic()
        parts = m.topic.split("/")  # tryggbo/{site}/devices/{device}/{channel}
        try:
            value = json.loads(m.payload)
        except ValueError:  # availability is a plain word
            value = m.payload.decode()
        if len(parts) == 5:
            last[parts[3], parts[4]] = value
        if m.topic == own:
            return
        s["retained"] += m.retain
        counted += 1
        if counted == expected:
            finish()

    c.on_message = count if side == "raw" else parse_and_keep
    print("READY", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    cpu_go = cpu_seconds()
    go = time.monotonic()
    c.connect(host, port, keepalive=60)
    sock = c.socket()
    if isinstance(sock, socket.socket):  # PUBACKs leave at once (no Nagle delay)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.loop_forever()
    result = {
        "go": go,
        "first": s["first"],
        "done": s["done"],
        "messages": counted,
        "retained": s["retained"],
        "cpu_s": round(s["cpu_done"] - cpu_go, 3),
    }
    if side == "nodered":
        result["kept"] = len(last)
    print("DONE " + json.dumps(result), flush=True)


# ---------------------------------------------------------------------- tryggbo


def _ack_tally(expected: int, on_all: Any) -> Any:
    """A receipt that waits for the drain's messages: each message's receipt releases
    it once, when that message is acknowledged (its work durable)."""
    from controller.receipts import Receipt

    class AckTally(Receipt):
        count = 0

        def release(self) -> None:  # called once per message waited for
            self.count += 1
            if self.count == expected:
                on_all()

    return AckTally(None)


async def run_tryggbo(fleet: Fleet, host: str, port: int, expected: int, db: Path) -> None:
    from controller.daemon import Controller, ControllerConfig, tune_gc
    from controller.logs import configure
    from devices.mqtt import BrokerAddress

    from .controller_proc import prepare_store

    configure("INFO")  # as `tryggbo serve` does by default (stderr: a file of the bench)
    tune_gc()  # likewise
    token = await prepare_store(db, fleet.site)
    ctl = Controller(
        ControllerConfig(
            broker=BrokerAddress(host, port),
            site=fleet.site,
            credentials=fleet.credentials,
            db_url=f"sqlite:///{db}",
            http_port=0,
            client_id=LOGINS["tryggbo"],
        )
    )
    gate = asyncio.Event()  # the MQTT link waits for `go` (the dashboard is attached)
    link_run = ctl.link.run

    async def gated() -> None:
        await gate.wait()
        await link_run()

    ctl.link.run = gated  # type: ignore[method-assign]
    s: dict[str, Any] = {"first": 0.0, "done": 0.0, "cpu_done": 0.0, "retained": 0}
    s["last_handled"] = 0.0
    done = asyncio.Event()

    def all_acked() -> None:
        s["done"] = time.monotonic()
        s["cpu_done"] = cpu_seconds()
        s["handled"] = counted
        done.set()

    tally = _ack_tally(expected, all_acked)
    handler = ctl.link.handler
    counted = 0

    def counting(message: Any, receipt: Any) -> None:
        nonlocal counted
        if not s["first"]:
            s["first"] = time.monotonic()
        handler(message, receipt)
        s["retained"] += message.retain
        counted += 1
        if counted == expected:
            s["last_handled"] = time.monotonic()
        tally.wait_for(receipt)  # released when this message is acknowledged

    ctl.link.handler = counting
    task = asyncio.create_task(ctl.run())
    await ctl.ready.wait()
    print(f"TOKEN {token}", flush=True)
    print(f"HTTP {ctl.http_url}", flush=True)
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        if (await reader.readline()).strip() != b"go":
            return
        cpu_go = cpu_seconds()
        go = time.monotonic()
        gate.set()
        waiter = asyncio.create_task(done.wait())
        await asyncio.wait({waiter, task}, timeout=600, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        if not done.is_set():
            raise RuntimeError(f"tryggbo: {tally.count}/{expected} acknowledged in 600 s")
        twins = ctl.twins.all()
        result = {
            "go": go,
            "first": s["first"],
            "done": s["done"],
            "messages": s["handled"],
            "acknowledged": tally.count,
            "retained": s["retained"],
            "last_handled_s": round(s["last_handled"] - s["first"], 3),
            "cpu_s": round(s["cpu_done"] - cpu_go, 3),
            "events_written": ctl.events.written,
            "twins_with_state": sum(1 for t in twins if t.reported is not None),
            "twin_seq_sum": sum(t.reported.seq for t in twins if t.reported is not None),
            "dropped": dict(ctl.reports.dropped.counts),
            "link_connects": ctl.link.connects,
        }
        print("DONE " + json.dumps(result), flush=True)
        while line := (await reader.readline()).strip():
            if line == b"check":  # after the timed part: read the store back
                events = await ctl.store.recent_events(limit=10 * expected)
                stored = sum(1 for e in events if e.type == "booted")
                print("CHECK " + json.dumps({"booted_events_stored": stored}), flush=True)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def main() -> None:
    side, directory, host, port, expected = sys.argv[1:6]
    raise_fd_limit()
    fleet = load_fleet(Path(directory))
    if side == "tryggbo":
        asyncio.run(run_tryggbo(fleet, host, int(port), int(expected), Path(sys.argv[6])))
    else:
        run_paho(side, fleet, host, int(port), int(expected))


if __name__ == "__main__":
    main()
