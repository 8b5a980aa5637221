"""``tryggbo serve`` as a child process, so a test can SIGKILL it (or starve its disk).

The in-process controller of the reliability suite must be stopped meanwhile: both
would use the same MQTT client id and the broker would keep disconnecting one of them.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp

from config.site import EXAMPLE_SITE
from controller.auth.tokens import create_user_token
from controller.ops.brokers import free_port
from controller.store import open_store
from devices.clock import SystemClock
from tests.conftest import BrokerUnderTest
from tests.integration.harness import make_test_users

TRYGGBO = str(Path(sys.executable).with_name("tryggbo"))


@dataclass
class ServedController:
    """One ``tryggbo serve`` child; ``start``/``kill`` may be called again and again."""

    broker: BrokerUnderTest
    db_url: str
    log_path: Path
    port: int = field(default_factory=free_port)
    #: extra TRYGGBO_* settings (client id, shared group...)
    env: dict[str, str] = field(default_factory=dict)
    #: the site file (a copy with other settings; the same devices as the broker's site)
    site_path: Path = EXAMPLE_SITE
    token: str = ""
    #: a limit of open files for the child (both soft and hard), None: inherited
    nofile: int | None = None
    proc: subprocess.Popen[bytes] | None = None
    http: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def prepare(self) -> None:
        """Create the store with the test users and an API token for test-staff."""
        store = open_store(self.db_url)
        await store.open()
        try:
            now = SystemClock().now()
            await make_test_users(store, self.broker.site, now=now)
            self.token, _ = await create_user_token(
                store, username="test-staff", name="test", now=now
            )
        finally:
            await store.close()

    async def start(self) -> None:
        """Start the child and wait until it is connected to the broker. If its HTTP
        port was taken meanwhile (another process of a busy machine), on a new one."""
        for attempt in range(3):
            logged = len(self.log_text())
            self._spawn()
            if self.http is not None:
                await self.http.close()
            self.http = aiohttp.ClientSession(
                base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}
            )
            try:
                await self.wait_health(lambda h: h["broker"]["connected"], timeout=20)
                return
            except AssertionError:
                assert self.proc is not None
                self.proc.wait(5)
                if attempt == 2 or "address already in use" not in self.log_text()[logged:]:
                    raise
                self.port = free_port()

    def _spawn(self) -> None:
        self.proc = subprocess.Popen(
            [
                TRYGGBO,
                "serve",
                "--broker",
                self.broker.address.url,
                "--site",
                str(self.site_path),
                "--db",
                self.db_url,
                "--http",
                f"127.0.0.1:{self.port}",
                "--credentials",
                str(self.broker.credentials_file),
            ],
            # through a pipe: a test may forbid the child every file write (disk full)
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TRYGGBO_LOG_LEVEL": "INFO", **self.env},
            start_new_session=True,
            preexec_fn=self._limit_files if self.nofile else None,
        )
        threading.Thread(target=self._copy_log, args=(self.proc.stdout,), daemon=True).start()

    def _limit_files(self) -> None:
        assert self.nofile is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def _copy_log(self, pipe: IO[bytes]) -> None:
        with self.log_path.open("ab") as log:
            for line in pipe:
                log.write(line)
                log.flush()

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no ``offline`` said, nothing flushed."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()
            self.http = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                await asyncio.to_thread(self.proc.wait, 10)
            except subprocess.TimeoutExpired:
                self.kill()

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        assert self.http is not None
        async with self.http.request(method, path, **kwargs) as resp:
            return resp.status, await resp.json()

    async def wait_health(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 20.0
    ) -> dict[str, Any]:
        """Poll ``/api/health`` (another process: no bus to listen on) until ``predicate``."""
        assert self.http is not None
        async with asyncio.timeout(timeout):
            while True:
                assert self.proc is not None
                assert self.proc.poll() is None, self.log_tail()
                try:
                    async with self.http.get("/api/health") as resp:
                        health = await resp.json()
                    if predicate(health):
                        return health
                except aiohttp.ClientConnectionError:
                    pass  # not listening yet
                await asyncio.sleep(0.1)

    async def wait_for(
        self, method: str, path: str, predicate: Callable[[Any], bool], timeout: float = 20.0
    ) -> Any:
        """Poll an API route until ``predicate(body)`` holds; returns the body."""
        async with asyncio.timeout(timeout):
            while True:
                status, body = await self.call(method, path)
                assert status == 200, body
                if predicate(body):
                    return body
                await asyncio.sleep(0.1)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@asynccontextmanager
async def served_controller(
    broker: BrokerUnderTest, directory: Path
) -> AsyncIterator[ServedController]:
    served = ServedController(
        broker, f"sqlite:///{directory / 'served.sqlite'}", directory / "served.log"
    )
    await served.prepare()
    try:
        yield served
    finally:
        await served.stop()
