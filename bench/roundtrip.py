"""Command round trip: HTTP API -> signed command -> firmware ack -> HTTP answer,
against a raw MQTT publish/echo round trip on the same broker.

The controller and the 72 simulated devices run as `tryggbo demo --broker` in their
own process (as in production, the API client is elsewhere); heartbeats every 5 s
keep traffic flowing while we measure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time

import aiohttp
from aiomqtt import MqttError

from controller.brokers import free_port
from devices.mqtt import make_client

from .common import BenchBroker, summary


async def raw_echo(b: BenchBroker, rounds: int, lost: list[int] | None = None) -> list[float]:
    """p50/p99 of publish -> echo client -> publish back, in ms (QoS 1, NODELAY)."""
    lost = [] if lost is None else lost
    login = b.credentials.controller
    ping, pong = f"tryggbo/{b.site.slug}/bench/ping", f"tryggbo/{b.site.slug}/bench/pong"

    def mk(ident):
        return make_client(
            b.process.address,
            identifier=ident,
            username=login.username,
            password=login.password,
            persistent=False,
        )

    async with mk("bench-echo") as echo, mk("bench-caller") as caller:
        await echo.subscribe(ping, qos=1)
        await caller.subscribe(pong, qos=1)

        async def serve() -> None:
            async for msg in echo.messages:
                await echo.publish(pong, msg.payload, qos=1)

        server = asyncio.create_task(serve())
        times: list[float] = []
        try:
            for i in range(rounds):
                start = time.perf_counter()
                await caller.publish(ping, str(i), qos=1)
                try:
                    async with asyncio.timeout(5):
                        async for msg in caller.messages:
                            if msg.payload == str(i).encode():
                                break
                except TimeoutError:
                    lost.append(i)  # reported; never seen in a run so far
                    continue
                times.append((time.perf_counter() - start) * 1000)
        finally:
            server.cancel()
            with contextlib.suppress(asyncio.CancelledError, MqttError):
                await server
    return times[10:]  # warm-up


async def api_round_trip(b: BenchBroker, rounds: int) -> list[float]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "controller",
        "demo",
        "--broker",
        b.process.address.url,
        "--data",
        str(b.data_dir),
        "--http",
        f"127.0.0.1:{port}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    text = ""
    try:
        async with asyncio.timeout(60):
            while "API token" not in text:
                line = (await proc.stdout.readline()).decode()
                if not line:
                    raise RuntimeError("demo exited:\n" + text)
                text += line
        token = re.search(r"API token\s+(\S+)", text).group(1)  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}"
        devices = ["a101-lock", "a102-screen", "a103-curtain", "a201-lock", "a202-screen"]
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            async with asyncio.timeout(60):
                while True:
                    async with http.get(f"{url}/api/health") as resp:
                        if (await resp.json())["devices"]["online"] == 72:
                            break
                    await asyncio.sleep(0.2)
            times = []
            for i in range(rounds):
                start = time.perf_counter()
                async with http.post(
                    f"{url}/api/devices/{devices[i % len(devices)]}/commands",
                    json={"action": "ping"},
                ) as resp:
                    body = await resp.json()
                if body.get("outcome") != "ok":
                    raise RuntimeError(f"ping failed: {body}")
                times.append((time.perf_counter() - start) * 1000)
    finally:
        proc.send_signal(signal.SIGINT)
        await proc.wait()
    return times[10:]


def run(b: BenchBroker, rounds: int = 500) -> dict[str, object]:
    raw = summary(asyncio.run(raw_echo(b, rounds)))
    api = summary(asyncio.run(api_round_trip(b, rounds)))
    return {
        "raw_mqtt_ms": raw,
        "api_ms": api,
        "p50_ratio": round(api["p50"] / raw["p50"], 2),
        "p99_ratio": round(api["p99"] / raw["p99"], 2),
    }
