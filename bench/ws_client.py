"""A dashboard stand-in in its own process: ``python -m bench.ws_client URL TOKEN``
opens ``/api/ws``, prints ``CONNECTED`` after the snapshot, counts live messages and
prints ``COUNT n`` when stdin closes."""

from __future__ import annotations

import asyncio
import sys

import aiohttp


async def main(url: str, token: str) -> None:
    count = 0
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http,
        http.ws_connect(f"{url}/api/ws", max_msg_size=0) as ws,
    ):
        first = await ws.receive_json()
        assert first["type"] == "snapshot", first["type"]
        print("CONNECTED", flush=True)

        async def count_all() -> None:
            nonlocal count
            async for msg in ws:
                data = msg.json()
                count += len(data["data"]) if data["type"] == "batch" else 1

        counter = asyncio.create_task(count_all())
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        await reader.read()
        counter.cancel()
    print(f"COUNT {count}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
