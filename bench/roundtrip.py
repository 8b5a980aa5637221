"""The raw MQTT publish/echo round trip: the baseline of the command round trip
(:func:`bench.scale.round_trip`), on the same broker in the same run."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiomqtt
from aiomqtt import MqttError

from devices.mqtt import make_client, reraise_swallowed_cancel

from .common import BenchBroker


async def raw_echo(b: BenchBroker, rounds: int, lost: list[int] | None = None) -> list[float]:
    """p50/p99 of publish -> echo client -> publish back, in ms (QoS 1, NODELAY)."""
    lost = [] if lost is None else lost
    ping, pong = f"tryggbo/{b.site.slug}/bench/ping", f"tryggbo/{b.site.slug}/bench/pong"

    def mk(ident: str) -> aiomqtt.Client:
        login = b.credentials.controller_login(ident)  # client id = login (broker binds)
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
                # a stop racing with the PUBACK is swallowed by wait_for in 3.11;
                # without this the server ran on and the benchmark hung in its cleanup
                reraise_swallowed_cancel()

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
