"""Session-wide real parts: the suite's Mosquitto, the simulated home, a controller."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import BrokerUnderTest

from .harness import RunningController, RunningHome, start_controller, start_home, wait_all_online


@pytest.fixture(scope="session")
async def home(mosquitto: BrokerUnderTest) -> AsyncIterator[RunningHome]:
    running = await start_home(mosquitto.address, mosquitto.site, mosquitto.credentials)
    yield running
    await running.stop()


@pytest.fixture(scope="session")
async def ctl(
    mosquitto: BrokerUnderTest, home: RunningHome, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningController]:
    db = tmp_path_factory.mktemp("store") / "tryggbo.sqlite"
    running = await start_controller(mosquitto.address, mosquitto.site, mosquitto.credentials, db)
    await wait_all_online(running.controller)
    yield running
    await running.stop()
