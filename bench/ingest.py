"""Ingest: state reports per second through the controller's MQTT link into twins,
against a raw paho-mqtt subscriber on the same broker.

Fair by construction: N reports are queued by the broker for a persistent session
while the receiver is away, then the receiver connects and the drain is timed, so
the figure is the receiver's own rate, not the publisher's.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import UTC, datetime

import paho.mqtt.client as paho

from controller.daemon import Controller, ControllerConfig
from devices.contract import Channel, SiteTopics

from .common import BenchBroker

DEVICE_TYPES_STATE = {
    "lock": {"lock": "locked", "door": "closed", "battery": 90},
    "curtain": {"position": 0, "target": None, "motion": "idle"},
    "screen": {
        "power": "on",
        "brightness": 80,
        "night_mode": False,
        "message": None,
        "call": "idle",
    },
}


def _paho(b: BenchBroker, client_id: str, clean: bool) -> paho.Client:
    c = paho.Client(
        paho.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean,
        protocol=paho.MQTTv311,
    )
    c.username_pw_set(b.credentials.controller.username, b.credentials.controller.password)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    return c


def _prime_session(b: BenchBroker, client_id: str) -> None:
    """Create a persistent session subscribed to every state topic, then leave."""
    c = _paho(b, client_id, clean=False)
    done = threading.Event()
    c.on_subscribe = lambda *a: done.set()
    c.connect(b.process.host, b.process.port)
    c.loop_start()
    c.subscribe(SiteTopics(b.site.slug).all_devices(Channel.STATE), qos=1)
    done.wait(5)
    c.disconnect()
    c.loop_stop()


def _publish_reports(b: BenchBroker, n: int) -> None:
    """Publish ``n`` valid state reports (QoS 1, not retained) round-robin."""
    topics = SiteTopics(b.site.slug)
    devices = [(d.id, d.type.value) for _a, d in b.site.devices()]
    c = _paho(b, "bench-publisher", clean=True)
    c.connect(b.process.host, b.process.port)
    c.loop_start()
    ts = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    infos = []
    for i in range(n):
        dev, kind = devices[i % len(devices)]
        body = {
            "seq": i,
            "ts": ts,
            "boot": "bench",
            "firmware": "1.0.0",
            "uptime_s": i,
            **DEVICE_TYPES_STATE[kind],
        }
        infos.append(c.publish(topics.device(dev, Channel.STATE), json.dumps(body), qos=1))
    for info in infos:
        info.wait_for_publish(30)
    c.disconnect()
    c.loop_stop()


def raw_paho_rate(b: BenchBroker, n: int) -> float:
    client_id = "bench-raw-subscriber"
    _prime_session(b, client_id)
    _publish_reports(b, n)
    got = 0
    first = last = 0.0
    done = threading.Event()

    def on_message(_c: paho.Client, _u: object, _m: paho.MQTTMessage) -> None:
        nonlocal got, first, last
        got += 1
        if got == 1:
            first = time.perf_counter()
        if got == n:
            last = time.perf_counter()
            done.set()

    c = _paho(b, client_id, clean=False)
    c.on_message = on_message
    c.connect(b.process.host, b.process.port)
    c.loop_start()
    done.wait(120)
    c.disconnect()
    c.loop_stop()
    return (n - 1) / (last - first)


async def _controller_drain(b: BenchBroker, n: int) -> float:
    client_id = "bench-controller"
    await asyncio.to_thread(_prime_session, b, client_id)
    await asyncio.to_thread(_publish_reports, b, n)
    ctl = Controller(
        ControllerConfig(
            broker=b.process.address,
            site=b.site,
            credentials=b.credentials,
            db_url=f"sqlite:///{b.data_dir / 'ingest.sqlite'}",
            http_port=0,
            client_id=client_id,
        )
    )
    stamps: dict[str, float] = {}
    done = asyncio.Event()
    handler = ctl.reports
    state_count = 0

    def counting(message: object) -> None:
        nonlocal state_count
        handler(message)  # type: ignore[arg-type]
        if str(message.topic).endswith("/state"):  # type: ignore[attr-defined]
            state_count += 1
            if state_count == 1:
                stamps["first"] = time.perf_counter()
            if state_count == n:
                stamps["last"] = time.perf_counter()
                done.set()

    ctl.link.handler = counting
    task = asyncio.create_task(ctl.run())
    try:
        async with asyncio.timeout(120):
            await done.wait()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    applied = sum(1 for t in ctl.twins.all() if t.reported is not None)
    assert applied == len(ctl.twins), "not every twin got its state"
    return (n - 1) / (stamps["last"] - stamps["first"])


def run(b: BenchBroker, n: int = 20_000) -> dict[str, float]:
    raw = raw_paho_rate(b, n)
    ours = asyncio.run(_controller_drain(b, n))
    return {
        "messages": n,
        "raw_paho_msg_s": round(raw),
        "controller_msg_s": round(ours),
        "ratio": round(ours / raw, 3),
    }
