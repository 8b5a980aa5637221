"""What the paho fast path (devices/paho_fastpath.py) is worth: how fast one reader
takes a backlog of QoS 1 messages with it and with paho as it ships (what a paho the
guard refuses gives).

``python -m bench.paho_read [--messages N] [--rounds R]``: a private Mosquitto; per
round a persistent reader's offline queue is filled with N 100-byte QoS 1 messages,
then the reader connects (the controller's way: ``on_message``, QoS 1) and the time
until it has handed over the last one is taken. The two sides alternate; the median
and the spread of the rates are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time
from typing import Any

import aiomqtt

from devices.mqtt import make_client

from .common import BenchBroker, start_broker

PAYLOAD = b"x" * 100


def _client(b: BenchBroker, login: str, **options: Any) -> aiomqtt.Client:
    creds = b.credentials.controller_login(login)
    return make_client(
        b.process.address,
        identifier=login,
        username=creds.username,
        password=creds.password,
        **options,
    )


async def one_round(b: BenchBroker, messages: int, *, fast_read: bool) -> float:
    """Messages per second one reader takes from its backlog."""
    topic = f"tryggbo/{b.site.slug}/bench/backlog"
    got = 0
    done = asyncio.Event()

    def on_message(_message: aiomqtt.Message) -> None:
        nonlocal got
        got += 1
        if got == messages:
            done.set()

    def reader() -> aiomqtt.Client:
        return _client(b, "bench-echo", persistent=True, on_message=on_message, fast_read=fast_read)

    async with reader() as first:
        await first.subscribe(topic, qos=1)
    async with _client(b, "bench-caller", persistent=False) as writer:
        for start in range(0, messages, 100):
            batch = range(start, min(start + 100, messages))
            await asyncio.gather(*(writer.publish(topic, PAYLOAD, qos=1) for _ in batch))
    began = time.perf_counter()
    async with reader():
        async with asyncio.timeout(120):
            await done.wait()
        elapsed = time.perf_counter() - began
    async with _client(b, "bench-echo", persistent=False):
        pass  # a clean session: the next round starts empty
    return messages / elapsed


async def main(messages: int, rounds: int) -> None:
    """Alternate the two sides ``rounds`` times each; print median and spread."""
    logging.getLogger("mqtt").setLevel(logging.ERROR)  # aiomqtt: "pending publish calls"
    b = start_broker()
    rates: dict[str, list[float]] = {"fast path": [], "paho as it ships": []}
    try:
        for n in range(rounds):
            order = (True, False) if n % 2 == 0 else (False, True)
            for fast in order:
                rate = await one_round(b, messages, fast_read=fast)
                rates["fast path" if fast else "paho as it ships"].append(rate)
    finally:
        b.process.stop()
    print(f"{messages} QoS 1 messages of {len(PAYLOAD)} bytes, {rounds} rounds per side")
    for side, values in rates.items():
        print(
            f"  {side:17} median {statistics.median(values):8,.0f} msg/s "
            f"(min {min(values):,.0f}, max {max(values):,.0f})"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.rounds))
