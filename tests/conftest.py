"""Shared fixtures: a real private Mosquitto started by the suite on a free port.

The broker runs from the same conf/passwd/ACL renderer as production, with the
example site's per-device credentials, so ACL tests test the shipped ACL.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from config.credentials import MqttLogin, SiteCredentials, ensure_credentials
from config.site import EXAMPLE_SITE, Site, load_site
from controller.ops import brokers
from controller.ops.brokers import MosquittoProcess, find_mosquitto
from devices.mqtt import BrokerAddress

# the fault, security and fuzz suites' own broker, home and controller
# and the scale-out suites' 3-node NATS cluster
pytest_plugins = ["tests.reliability_fixtures", "tests.nats_cluster"]

#: Controller logins the suites connect with beside a site's controller: the broker
#: binds client ids to logins, so every further controller (``client_id=``,
#: ``TRYGGBO_CLIENT_ID``) and every observer with the controller's rights has its own.
OBSERVERS = ("test-observer", "test-observer-2", "test-observer-3")
TEST_CONTROLLERS = (
    *OBSERVERS,
    "test-auth-ctl",
    "test-auth-idle",
    "test-second-ctl",
    "test-alarm-clock-ctl",
    "test-report-ctl",
    "test-alarm-door-ctl",
    "test-escalation-ctl",
    "test-plan-store-ctl",
    "ctl-a",
    "ctl-b",
    "ctl-one",
    "ctl-two",
)


def _own_ports_per_worker() -> None:
    """Under pytest-xdist (``-n 2``) each worker process takes its servers' ports from a
    slice of the range of its own: ``free_ports`` never gives one twice within a process,
    and a broker a test stopped gets its port back when it restarts, so no other worker
    may be given that port meanwhile."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ...
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count < 2:
        return
    low, high = brokers._PORT_RANGE
    size = (high - low + 1) // count
    start = low + int(worker[2:]) * size
    brokers._PORT_RANGE = (start, start + size - 1)


_own_ports_per_worker()


@dataclass
class BrokerUnderTest:
    """The suite's Mosquitto plus the site and credentials it was configured for."""

    process: MosquittoProcess
    site: Site
    credentials: SiteCredentials
    credentials_file: Path

    @property
    def address(self) -> BrokerAddress:
        return self.process.address

    def observer(self, n: int = 0) -> MqttLogin:
        """A login with the controller's rights that is not the controller's (for a
        test's own client beside a running controller); ``n``: another one at once."""
        return self.credentials.controller_login(OBSERVERS[n])

    def start(self) -> None:
        self.process.start()

    def stop(self, *, kill: bool = False) -> None:
        self.process.stop(kill=kill)

    def restart(self, *, kill: bool = False) -> None:
        self.process.restart(kill=kill)


@pytest.fixture(scope="session")
def example_site() -> Site:
    return load_site(EXAMPLE_SITE)


@pytest.fixture(scope="session")
def mosquitto(
    tmp_path_factory: pytest.TempPathFactory, example_site: Site
) -> Iterator[BrokerUnderTest]:
    """A private Mosquitto for the example site, for the whole session."""
    if find_mosquitto() is None:
        pytest.fail(
            "mosquitto is not installed: run `make test` (it installs it) or "
            "apt-get install mosquitto"
        )
    root = tmp_path_factory.mktemp("mosquitto")
    creds_file = root / "credentials.json"
    creds = ensure_credentials(example_site, creds_file, controllers=TEST_CONTROLLERS)
    proc = MosquittoProcess(creds, root / "broker")
    proc.start()
    broker = BrokerUnderTest(proc, example_site, creds, creds_file)
    try:
        yield broker
    finally:
        proc.stop()


@pytest.fixture
def broker(mosquitto: BrokerUnderTest) -> Iterator[BrokerUnderTest]:
    """The session broker, guaranteed running (a test may stop or restart it)."""
    mosquitto.start()
    yield mosquitto
    mosquitto.start()


# --- real headless Chromium (Debian's /usr/bin/chromium) via Playwright's async API ---

CHROMIUM = os.environ.get("TRYGGBO_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("TRYGGBO_ARTIFACTS", "test-artifacts"))
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
async def browser():
    from playwright.async_api import async_playwright

    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):  # noqa: ASYNC240
        pytest.fail(f"{CHROMIUM} is missing: run `make test` (installs Debian's chromium)")
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser) -> AsyncIterator[object]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="sv-SE")
    pg = await context.new_page()
    yield pg
    await context.close()
