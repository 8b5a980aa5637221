"""Start the swarm as several processes and talk to them (stdin/stdout lines)."""

from __future__ import annotations

import asyncio
import sys

from .fleet import Fleet


class SwarmGroup:
    """``processes`` swarm processes sharing the fleet's devices."""

    def __init__(self, fleet: Fleet, host: str, port: int, processes: int = 3) -> None:
        self.fleet = fleet
        self.host, self.port = host, port
        self.n = processes
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(self, timeout: float = 180.0) -> float:
        """Start every process; return seconds until every device was connected."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        for i in range(self.n):
            self.procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bench.swarm", str(self.fleet.directory),
                    str(i), str(self.n), self.host, str(self.port),
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                )
            )  # fmt: skip
        async with asyncio.timeout(timeout):
            await asyncio.gather(*(self._expect(p, "READY") for p in self.procs))
        return loop.time() - started

    async def _expect(self, proc: asyncio.subprocess.Process, word: str) -> str:
        assert proc.stdout is not None
        while True:
            line = (await proc.stdout.readline()).decode()
            if not line:
                raise RuntimeError(f"swarm process {proc.pid} exited (rc {proc.returncode})")
            if line.startswith(word):
                return line.split(" ", 1)[1].strip() if " " in line else ""

    async def ask(self, line: str, answer: str, timeout: float = 300.0) -> list[str]:
        for p in self.procs:
            assert p.stdin is not None
            p.stdin.write(line.encode() + b"\n")
            await p.stdin.drain()
        async with asyncio.timeout(timeout):
            return list(await asyncio.gather(*(self._expect(p, answer) for p in self.procs)))

    async def stop(self) -> None:
        for p in self.procs:
            if p.returncode is None and p.stdin is not None:
                p.stdin.write(b"quit\n")
        for p in self.procs:
            try:
                async with asyncio.timeout(10):
                    await p.wait()
            except TimeoutError:
                p.kill()
                await p.wait()
        self.procs = []
