"""`tryggbo demo` as a user runs it: a real process that must come up with every
device online, with its own Mosquitto, and with the embedded broker."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from controller.brokers import free_port

TRYGGBO = [sys.executable, "-m", "controller"]


async def _healthy(url: str, want_online: int, timeout: float) -> dict:
    """Ask /api/health until every device is online (bounded)."""
    last: dict = {}
    async with aiohttp.ClientSession() as http, asyncio.timeout(timeout):
        while True:
            try:
                async with http.get(f"{url}/api/health") as resp:
                    last = await resp.json()
                    if last["devices"]["online"] == want_online:
                        return last
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)  # polling an external process's endpoint


@pytest.mark.parametrize("broker_flag", [[], ["--embedded"]], ids=["mosquitto", "embedded"])
async def test_demo_starts_and_every_device_is_online(
    tmp_path: Path, broker_flag: list[str]
) -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *TRYGGBO,
        "demo",
        "--http",
        f"127.0.0.1:{port}",
        "--data",
        str(tmp_path),
        *broker_flag,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output = []
    try:
        async with asyncio.timeout(60):
            assert proc.stdout is not None
            while True:
                line = (await proc.stdout.readline()).decode()
                assert line, "demo exited early:\n" + "".join(output)
                output.append(line)
                if "relative's call" in line:
                    break
        printed = "".join(output)
        token = re.search(r"API token\s+(\S+)", printed).group(1)
        link = re.search(r"relative's call\s+\S+/ui/call\.html#t=(\S+)", printed).group(1)
        assert re.search(r"room screen\s+\S+/ui/screen\.html#token=\S+", printed)
        url = f"http://127.0.0.1:{port}"
        health = await _healthy(url, want_online=72, timeout=60)
        assert health["status"] == "ok"
        assert health["devices"]["total"] == 72
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            aiohttp.ClientSession(headers=headers) as http,
            http.post(
                f"{url}/api/devices/a101-lock/commands",
                json={"action": "unlock", "reason": "care visit"},
            ) as resp,
        ):
            body = await resp.json()
            assert (resp.status, body["outcome"]) == (200, "ok"), body
        async with (  # the printed relative's link opens its call page's API
            aiohttp.ClientSession() as http,
            http.get(f"{url}/api/calls/invitation", headers={"X-Invitation": link}) as resp,
        ):
            assert resp.status == 200, await resp.text()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            async with asyncio.timeout(15):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, "".join(output)
    child = re.search(r"private mosquitto \(pid (\d+)\)", "".join(output))
    assert bool(child) == (not broker_flag), "".join(output)
    if child:  # the demo's own broker is gone with it
        assert not os.path.exists(f"/proc/{child.group(1)}")  # noqa: ASYNC240
