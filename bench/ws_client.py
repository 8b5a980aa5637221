"""A dashboard stand-in in its own process: ``python -m bench.ws_client URL TOKEN``
opens ``/api/ws`` and prints ``CONNECTED`` after the snapshot; then counts what the
frames carry.

For the ingest benchmark it keeps, per device, the highest state ``seq`` a twin frame
showed, and stamps (CLOCK_MONOTONIC, comparable with the other processes) the last
frame that raised one (``twins_at``: when the dashboard had every device's final
state, if ``seq_sum`` matches the controller's twins) and the last frame with a
device's ``booted`` event (``events_at``). On ``report`` (stdin) it waits until no
frame has come for 0.3 s (at most 30 s) and prints ``STATS {json}``. When stdin
closes it prints ``COUNT n`` (live messages received) and exits.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aiohttp


class Seen:
    def __init__(self) -> None:
        self.messages = 0
        self.frames = 0
        self.booted = 0
        self.seqs: dict[str, int] = {}
        self.seq_sum = 0
        self.twins_at = 0.0
        self.events_at = 0.0
        self.last_frame_at = 0.0

    def frame(self, data: dict[str, Any]) -> None:
        now = time.monotonic()
        self.frames += 1
        self.last_frame_at = now
        for msg in data["data"] if data["type"] == "batch" else [data]:
            self.messages += 1
            kind, body = msg["type"], msg["data"]
            if kind == "twin":
                state = body.get("state") or {}
                seq = state.get("seq")
                if seq is None:
                    continue
                device = body["id"]
                before = self.seqs.get(device, 0)
                if seq > before:
                    self.seqs[device] = seq
                    self.seq_sum += seq - before
                    self.twins_at = now
            elif kind == "event" and body.get("type") == "booted":
                self.booted += 1
                self.events_at = now

    def stats(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "messages": self.messages,
            "booted_events": self.booted,
            "devices_with_state": len(self.seqs),
            "seq_sum": self.seq_sum,
            "twins_at": self.twins_at,
            "events_at": self.events_at,
        }


async def main(url: str, token: str) -> None:
    seen = Seen()
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http,
        http.ws_connect(f"{url}/api/ws", max_msg_size=0) as ws,
    ):
        first = await ws.receive_json()
        assert first["type"] == "snapshot", first["type"]
        print("CONNECTED", flush=True)

        async def count_all() -> None:
            async for msg in ws:
                seen.frame(msg.json())

        counter = asyncio.create_task(count_all())
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := (await reader.readline()).strip():
            if line == b"report":
                limit = time.monotonic() + 30
                while time.monotonic() - seen.last_frame_at < 0.3 and time.monotonic() < limit:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                print("STATS " + json.dumps(seen.stats()), flush=True)
        counter.cancel()
    print(f"COUNT {seen.messages}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
