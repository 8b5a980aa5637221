"""`/api/health` names a device whose connection is taken over again and again: two
clients under one device login and client id on the real Mosquitto knock each other off
(Mosquitto sends no last will on a takeover, so the device never looks offline)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from config.credentials import ensure_credentials
from config.site import Site
from controller.ops.brokers import MosquittoProcess
from controller.ops.health import TAKEOVER_LIMIT
from controller.twins import Twin
from devices.clock import SystemClock
from devices.firmware import SimulatedDevice
from devices.firmware.home import make_device

from .harness import RunningController, start_controller

DEVICE = "a101-screen"


@pytest.fixture
async def lone_ctl(tmp_path: Path, example_site: Site) -> AsyncIterator[RunningController]:
    """A controller on a broker of its own, with no simulated home: the test's clients
    are the only devices (the session's broker and controller are not disturbed)."""
    creds = ensure_credentials(example_site, tmp_path / "credentials.json")
    broker = MosquittoProcess(creds, tmp_path / "broker")
    await asyncio.to_thread(broker.start)
    try:
        running = await start_controller(
            broker.address, example_site, creds, tmp_path / "tryggbo.sqlite"
        )
        try:
            yield running
        finally:
            await running.stop()
    finally:
        await asyncio.to_thread(broker.stop)


def _screen(ctl: RunningController) -> SimulatedDevice:
    """One more client with the screen's own login and client id."""
    config = ctl.controller.config
    return make_device(
        "screen",
        config.site.slug,
        DEVICE,
        config.broker,
        config.credentials.device(DEVICE),
        clock=SystemClock(),
    )


def reporting(client: SimulatedDevice) -> Callable[[Twin], bool]:
    """The twin shows ``client``'s current boot."""
    return lambda twin: twin.reported is not None and twin.reported.boot == client.boot


async def test_two_clients_with_one_device_login_are_named_by_health(
    lone_ctl: RunningController,
) -> None:
    ctl = lone_ctl
    registry = ctl.controller.twins
    first = _screen(ctl)
    tasks = [asyncio.create_task(first.run())]
    try:
        await first.wait_online()
        await ctl.wait_twin(DEVICE, reporting(first))
        await first.reboot()  # one reconnect of one client is no problem
        await ctl.wait_twin(DEVICE, reporting(first))
        status, health = await ctl.call("GET", "/api/health")
        assert (status, health["status"], health["taken_over_devices"]) == (200, "ok", {}), health

        second = _screen(ctl)  # a second client under the same login: they take turns
        tasks.append(asyncio.create_task(second.run()))
        await ctl.wait_twin(  # every takeover brings a new announcement (a twin change)
            DEVICE,
            lambda _t: (
                registry.takeovers(ctl.controller.clock.now()).get(DEVICE, 0) >= TAKEOVER_LIMIT
            ),
            timeout=30,
        )
        status, health = await ctl.call("GET", "/api/health")
        assert (status, health["status"]) == (200, "degraded"), health
        assert health["taken_over_devices"][DEVICE] >= TAKEOVER_LIMIT, health
        problem = next(p for p in health["problems"] if "taken over" in p)
        assert DEVICE in problem, health
        assert health["devices"]["offline"] == 0  # no last will: it never looked offline
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
