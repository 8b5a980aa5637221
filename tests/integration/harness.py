"""Helpers to run the real controller and simulated home in the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from config.credentials import SiteCredentials
from config.site import Site
from controller.auth.accounts import ensure_user, random_password
from controller.auth.tokens import create_user_token
from controller.bus_messages import TwinChanged
from controller.daemon import Controller, ControllerConfig
from controller.store import Store, open_store
from controller.twins import Twin
from devices.clock import SystemClock
from devices.firmware import SimulatedHome
from devices.mqtt import BrokerAddress, Brokers


@dataclass
class RunningController:
    """A controller task plus an authenticated HTTP session to its API."""

    controller: Controller
    task: asyncio.Task[None]
    token: str
    #: username -> password of the users the harness made
    passwords: dict[str, str] = field(default_factory=dict)
    http: aiohttp.ClientSession = field(init=False)

    def __post_init__(self) -> None:
        self.http = aiohttp.ClientSession(
            base_url=self.controller.http_url,
            headers={"Authorization": f"Bearer {self.token}"},
        )

    async def restart(self) -> None:
        """Stop the controller and start a new one with the same config and store."""
        await self.stop()
        fresh = await _launch(Controller(self.controller.config))
        self.controller, self.task = fresh
        self.__post_init__()

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.request(method, path, **kwargs) as resp:
            return resp.status, await resp.json()

    async def command(self, device: str, action: str, **body: Any) -> tuple[int, Any]:
        return await self.call(
            "POST", f"/api/devices/{device}/commands", json={"action": action, **body}
        )

    async def wait_twin(
        self, device: str, predicate: Callable[[Twin], bool], timeout: float = 10.0
    ) -> Twin:
        """Wait until the twin satisfies ``predicate`` (checked on every twin change)."""
        return await wait_twin(self.controller, device, predicate, timeout)

    async def stop(self) -> None:
        await self.http.close()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def wait_twin(
    controller: Controller, device: str, predicate: Callable[[Twin], bool], timeout: float = 10.0
) -> Twin:
    twin = controller.twins.get(device)
    assert twin is not None, device
    with controller.bus.subscribe(TwinChanged) as sub:
        async with asyncio.timeout(timeout):
            while not predicate(twin):
                await sub.get()
    return twin


async def until(condition: Callable[[], bool], timeout: float) -> None:
    """Poll ``condition`` (state another task or process fills) until it holds."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 (what it reads has no event to wait on)
            await asyncio.sleep(0.02)


async def live_message(
    ws: aiohttp.ClientWebSocketResponse,
    match: Callable[[dict[str, Any]], bool],
    timeout: float = 10.0,
) -> dict[str, Any]:
    """The first ``/api/ws`` message that ``match`` accepts (batches unpacked)."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await ws.receive_json()
            for msg in frame["data"] if frame["type"] == "batch" else [frame]:
                if match(msg):
                    return msg


async def start_controller(
    broker: Brokers,
    site: Site,
    creds: SiteCredentials,
    db_path: Path | None,
    *,
    db_url: str | None = None,
    **config: Any,
) -> RunningController:
    """A controller task with the harness's users and a token of its own; its store a
    SQLite file at ``db_path``, or ``db_url`` (PostgreSQL: several instances of a site
    on one store, each started with its own ``client_id``)."""
    if db_url is None:
        assert db_path is not None, "a SQLite path or a store URL"
        db_url = f"sqlite:///{db_path}"
    store = open_store(db_url)
    await store.open()
    try:
        now = SystemClock().now()
        passwords = await make_test_users(store, site, now=now)
        token, _ = await create_user_token(store, username="test-staff", name="test", now=now)
    finally:
        await store.close()
    controller = Controller(
        ControllerConfig(
            broker=broker, site=site, credentials=creds, db_url=db_url, http_port=0, **config
        )
    )
    return RunningController(*await _launch(controller), token, passwords)


async def make_test_users(store: Store, site: Site, *, now: datetime) -> dict[str, str]:
    """``test-staff`` (admin and staff of every wing: the token's user) and
    ``test-admin``, created at ``now`` (the clock of the test that uses them: a token
    made before its user was created is refused); returns their passwords."""
    wings = sorted({a.wing for a in site.apartments if a.wing})
    passwords = {}
    for username, roles, units in (
        ("test-staff", ("admin", "staff"), wings),
        ("test-admin", ("admin",), []),
    ):
        passwords[username] = random_password(username)
        await ensure_user(
            store,
            username=username,
            password=passwords[username],
            roles=roles,
            units=units,
            now=now,
        )
    return passwords


async def _launch(controller: Controller) -> tuple[Controller, asyncio.Task[None]]:
    task = asyncio.create_task(controller.run(), name="controller-under-test")
    async with asyncio.timeout(15):
        ready = asyncio.create_task(controller.ready.wait())
        done, _ = await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            ready.cancel()
            task.result()  # raises the startup error
        await controller.link.connected.wait()
    return controller, task


@dataclass
class RunningHome:
    home: SimulatedHome
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def start_home(
    broker: BrokerAddress, site: Site, creds: SiteCredentials, heartbeat_s: float = 60.0
) -> RunningHome:
    home = SimulatedHome(site, creds, broker, clock=SystemClock(), heartbeat_s=heartbeat_s)
    task = asyncio.create_task(home.run(), name="simulated-home")
    return RunningHome(home, task)


async def wait_all_online(controller: Controller, timeout: float = 20.0) -> None:
    """Wait until every twin reports online with a state."""

    def all_online() -> bool:
        return all(
            t.reachability.value == "online" and t.reported is not None
            for t in controller.twins.all()
        )

    with controller.bus.subscribe(TwinChanged) as sub:
        async with asyncio.timeout(timeout):
            while not all_online():
                await sub.get()


#: How long a browser test waits for one thing to appear.
TIMEOUT_MS = 10_000


async def sign_in(page: Any, ctl: RunningController) -> None:
    """Sign ``test-staff`` in on the dashboard and wait until it is live."""
    await page.goto(f"{ctl.controller.http_url}/")
    await page.wait_for_url("**/ui/login.html", timeout=TIMEOUT_MS)
    await page.fill("#username", "test-staff")
    await page.fill("#password", ctl.passwords["test-staff"])
    await page.click("#login-button")
    await page.wait_for_selector('[data-apartment="101"] dd.lock', timeout=TIMEOUT_MS)
    await page.wait_for_selector('body[data-live="up"]', timeout=TIMEOUT_MS)


@contextlib.asynccontextmanager
async def user_sessions(running: RunningController) -> AsyncIterator[Any]:
    """``await make(username, roles, units=(), apartments=())`` → an HTTP session with a
    fresh token of that user (created or updated); all closed on exit."""
    sessions: list[aiohttp.ClientSession] = []

    async def make(
        username: str,
        roles: tuple[str, ...],
        *,
        units: tuple[str, ...] = (),
        apartments: tuple[str, ...] = (),
    ) -> aiohttp.ClientSession:
        store, now = running.controller.store, SystemClock().now()
        await ensure_user(
            store,
            username=username,
            password=random_password(username),
            roles=roles,
            units=units,
            apartments=apartments,
            now=now,
        )
        token, _ = await create_user_token(store, username=username, name="test", now=now)
        session = aiohttp.ClientSession(
            base_url=running.controller.http_url, headers={"Authorization": f"Bearer {token}"}
        )
        sessions.append(session)
        return session

    try:
        yield make
    finally:
        for session in sessions:
            await session.close()
