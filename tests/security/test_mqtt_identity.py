"""MQTT identity attacks on the real Mosquitto (issue 15 item 4), each on a broker and
controller of its own (rendered by config/mosquitto.py as shipped):

* a room screen's login connects again and again with the controller's client id
  while residents press help: the broker must not drop the controller for it (it
  binds client ids to logins), and every press is stored and confirmed;
* a client with the controller's own login (a leaked password, or a second instance
  started with the same login) takes its connection over again and again: the
  controller notices and ``/api/health`` fails, naming the cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from config.credentials import MqttLogin
from config.site import Site
from devices.clock import SystemClock
from devices.firmware.home import make_device
from devices.firmware.screen import SimulatedScreen
from devices.mqtt import BrokerAddress, make_client
from tests.conftest import BrokerUnderTest
from tests.integration.harness import RunningController, start_controller
from tests.reliability_fixtures import private_broker

PRESSING = ["a201-screen", "a202-screen", "a203-screen", "a204-screen", "a205-screen"]
INTRUDER = "a106-screen"  # the resident's room screen whose login is misused


@contextlib.asynccontextmanager
async def lone_site(
    site: Site, directory: Path
) -> AsyncIterator[tuple[BrokerUnderTest, RunningController]]:
    """A private Mosquitto and a controller on it (no simulated home)."""
    async with private_broker(site, directory) as broker:
        running = await start_controller(
            broker.address, site, broker.credentials, directory / "tryggbo.sqlite"
        )
        try:
            yield broker, running
        finally:
            await running.stop()


@contextlib.asynccontextmanager
async def intruding(
    address: BrokerAddress, client_id: str, login: MqttLogin
) -> AsyncIterator[asyncio.Queue[int]]:
    """A client connecting with ``client_id`` and ``login`` again and again: it holds
    the session until the broker drops it, then connects at once again. Yields a
    queue that gets the count of its accepted connections as each is accepted."""
    accepted: asyncio.Queue[int] = asyncio.Queue()

    async def intrude() -> None:
        count = 0
        while True:
            with contextlib.suppress(aiomqtt.MqttError):
                client = make_client(
                    address,
                    identifier=client_id,
                    username=login.username,
                    password=login.password,
                    persistent=True,
                )
                async with client:
                    count += 1
                    accepted.put_nowait(count)
                    async for _ in client.messages:  # until the broker drops it
                        pass

    task = asyncio.create_task(intrude())
    try:
        yield accepted
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_screens_login_cannot_take_the_controllers_session(
    example_site: Site, tmp_path: Path
) -> None:
    async with lone_site(example_site, tmp_path) as (broker, running):
        ctl = running.controller
        screens: list[SimulatedScreen] = []
        tasks = []
        for device in PRESSING:
            screen = make_device(
                "screen",
                example_site.slug,
                device,
                broker.address,
                broker.credentials.device(device),
                clock=SystemClock(),
            )
            assert isinstance(screen, SimulatedScreen)
            screens.append(screen)
            tasks.append(asyncio.create_task(screen.run()))
        try:
            confirmed: asyncio.Queue[str] = asyncio.Queue()
            for screen in screens:
                await screen.wait_online()
                screen.on_help_confirmed = lambda c: confirmed.put_nowait(c.press_id)
            connects = ctl.link.connects
            login = broker.credentials.device(INTRUDER)
            async with intruding(broker.address, ctl.link.identifier, login) as accepted:
                async with asyncio.timeout(10):
                    await accepted.get()  # the intruder is in (and comes back when dropped)
                started = time.monotonic()
                pressed = {screen.press_help() for screen in screens}
                async with asyncio.timeout(20):  # confirmed once stored
                    done = {await confirmed.get() for _ in pressed}
                took = time.monotonic() - started
            assert done == pressed
            events = await ctl.store.recent_events(limit=500)
            assert sorted(e.device for e in events if e.type == "help_pressed") == PRESSING
            print(f"\n5 of 5 presses stored and confirmed in {took:.2f} s")
            assert ctl.link.connects == connects  # never dropped for the intruder
            assert ctl.link.takeovers(60) == 0
            status, health = await running.call("GET", "/api/health")
            assert (status, health["broker"]["taken_over"]) == (200, 0), health
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def test_health_fails_while_the_controllers_connection_is_taken_over(
    example_site: Site, tmp_path: Path
) -> None:
    async with lone_site(example_site, tmp_path) as (broker, running):
        ctl = running.controller
        status, health = await running.call("GET", "/api/health")
        assert (status, health["broker"]["taken_over"]) == (200, 0), health
        login = broker.credentials.controller  # its own login: the one thing binding allows
        async with intruding(broker.address, ctl.link.identifier, login) as accepted:
            async with asyncio.timeout(20):
                # the intruder is dropped only when the controller connects again: at
                # its 4th connection the controller has taken its own back 3 times
                while await accepted.get() < 4:
                    pass
            status, health = await running.call("GET", "/api/health")
        assert (status, health["status"]) == (503, "failing"), health
        problem = next((p for p in health["problems"] if "taken over" in p), None)
        assert problem is not None, health
        assert ctl.link.identifier in problem
        assert health["broker"]["taken_over"] >= 3


@pytest.mark.parametrize("instance", ["ctl-a", None])
def test_each_controller_instance_has_its_own_login(
    example_site: Site, tmp_path: Path, instance: str | None
) -> None:
    """Scale-out stays possible: each instance's client id is its own login's name."""
    from config.credentials import ensure_credentials

    creds = ensure_credentials(example_site, tmp_path / "c.json", controllers=["ctl-a"])
    login = creds.controller_login(instance)
    assert login.username == (instance or f"controller-{example_site.slug}")
    assert len({c.username for c in creds.controller_logins()}) == 3  # site, check, ctl-a
