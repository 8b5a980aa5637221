"""Real parts for the CLI tests: a small site on its own private Mosquitto, its
simulated home, a running controller, and a technician's API token.

A broker of its own (not the suite's session broker) so these tests can run beside
tests/integration without two controllers of one site fighting over a client id.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from config.credentials import SiteCredentials, ensure_credentials
from config.site import Site, load_site
from controller.auth.accounts import ensure_user, random_password
from controller.auth.tokens import create_user_token
from controller.ops.brokers import MosquittoProcess, find_mosquitto, wait_listening
from controller.store import open_store
from devices.clock import SystemClock
from tests.integration.harness import (
    RunningController,
    RunningHome,
    start_controller,
    start_home,
    wait_twin,
)

SMALL_SITE = """\
[site]
slug = "clitest"
name = "CLI test home"

[[apartments]]
number = "101"
wing = "A"
devices = ["lock", "curtain", "screen"]

[[apartments]]
number = "102"
wing = "A"
devices = ["curtain", "screen"]

[[apartments]]
number = "103"
wing = "A"
devices = [{ id = "a103-curtain", type = "curtain", model = "serial-curtain-1" }]
"""

#: On a serial line (tests/cli/test_serial.py runs its bridge), not in the simulated home.
SERIAL_DEVICE = "a103-curtain"


@dataclass
class SmallSite:
    site: Site
    site_file: Path
    credentials: SiteCredentials
    credentials_file: Path
    broker: MosquittoProcess


@pytest.fixture(scope="session")
def small_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallSite]:
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed: run `make test` (it installs it)")
    root = tmp_path_factory.mktemp("cli-site")
    site_file = root / "site.toml"
    site_file.write_text(SMALL_SITE, encoding="utf-8")
    site = load_site(site_file)
    creds_file = root / "credentials.json"
    creds = ensure_credentials(site, creds_file)
    broker = MosquittoProcess(creds, root / "broker")
    broker.start()
    try:
        yield SmallSite(site, site_file, creds, creds_file, broker)
    finally:
        broker.stop()


@pytest.fixture(scope="session")
async def small_home(small_site: SmallSite) -> AsyncIterator[RunningHome]:
    on_mqtt = [a for a in small_site.site.apartments if a.number != "103"]
    site = small_site.site.model_copy(update={"apartments": on_mqtt})
    running = await start_home(small_site.broker.address, site, small_site.credentials)
    yield running
    await running.stop()


@dataclass
class Daemon:
    """The running controller plus what a technician's CLI needs to reach it."""

    running: RunningController
    home: RunningHome
    api: str
    token: str

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            TRYGGBO_API=self.api,
            TRYGGBO_TOKEN=self.token,
            TRYGGBO_CLI_CONFIG="/nonexistent/tryggbo-cli.toml",
            COLUMNS="200",
        )
        return env


@pytest.fixture(scope="session")
async def daemon(
    small_site: SmallSite, small_home: RunningHome, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Daemon]:
    db = tmp_path_factory.mktemp("cli-store") / "tryggbo.sqlite"
    running = await start_controller(
        small_site.broker.address, small_site.site, small_site.credentials, db
    )
    for device_id in small_home.home.devices:
        await wait_twin(
            running.controller, device_id, lambda t: t.reachability.value == "online", 20
        )
    store = open_store(f"sqlite:///{db}")
    await store.open()
    try:
        now = SystemClock().now()
        await ensure_user(
            store,
            username="tech",
            password=random_password("tech"),
            roles=("technician",),
            now=now,
        )
        token, _ = await create_user_token(store, username="tech", name="cli-test", now=now)
    finally:
        await store.close()
    yield Daemon(running, small_home, running.controller.http_url, token)
    await running.stop()


@pytest.fixture
def launch_broker() -> Iterator[Callable[[Path, int], bool]]:
    """Start ``mosquitto -c CONF`` (stopped after the test); True once it listens."""
    procs: list[subprocess.Popen[bytes]] = []

    def launch(conf: Path, port: int) -> bool:
        binary = find_mosquitto()
        assert binary is not None
        procs.append(subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.DEVNULL))
        return wait_listening("127.0.0.1", port, 10)

    yield launch
    for proc in procs:
        proc.terminate()
        proc.wait(10)


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


async def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> CliResult:
    """Run ``tryggbo ARGS`` as a user would (a child process), without blocking the
    loop the controller runs in."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "controller",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    async with asyncio.timeout(timeout):
        stdout, stderr = await proc.communicate()
    assert proc.returncode is not None
    return CliResult(proc.returncode, stdout.decode(), stderr.decode())


def invoke(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """Run ``tryggbo ARGS`` in this process (typer's CliRunner): only for arguments the
    CLI refuses before it talks to anything (no event loop may be needed)."""
    from typer.testing import CliRunner

    from controller.cli.app import app

    result = CliRunner().invoke(app, list(args), env=env)
    return CliResult(result.exit_code, result.stdout, result.stderr)
