"""The simulator's control panel: a technician sets faults and turns knobs at run time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from controller.bus_messages import DeviceEvent
from controller.ops.brokers import free_port
from devices.firmware.control import serve_control

from .harness import RunningController, RunningHome


@pytest.fixture
async def panel(home: RunningHome) -> AsyncIterator[aiohttp.ClientSession]:
    port = free_port()
    runner = await serve_control(home.home, "127.0.0.1", port)
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
        yield http
    await runner.cleanup()


async def test_faults_set_over_http_change_what_the_controller_sees(
    panel: aiohttp.ClientSession, ctl: RunningController, home: RunningHome
) -> None:
    async with panel.patch("/devices/a113-screen/faults", json={"drop_acks": True}) as r:
        assert r.status == 200
        assert (await r.json())["faults"]["drop_acks"] is True
    try:
        status, body = await ctl.command(
            "a113-screen", "set_brightness", args={"brightness": 10}, timeout_s=0.5
        )
        assert (status, body["outcome"]) == (504, "timeout")
    finally:
        async with panel.patch("/devices/a113-screen/faults", json={"drop_acks": False}) as r:
            assert r.status == 200
    assert home.home.devices["a113-screen"].faults.drop_acks is False


async def test_knobs_act_like_the_resident(
    panel: aiohttp.ClientSession, ctl: RunningController
) -> None:
    with ctl.controller.bus.subscribe(DeviceEvent) as events:
        async with panel.post("/devices/a114-screen/press_help") as r:
            assert r.status == 200
        while True:
            msg = await events.get(timeout=5)
            if msg.device == "a114-screen":
                assert msg.type == "help_pressed"
                break


async def test_bad_control_input_is_refused_and_changes_nothing(
    panel: aiohttp.ClientSession, home: RunningHome
) -> None:
    before = home.home.devices["a115-lock"].faults.model_dump()
    cases = [
        ("PATCH", "/devices/a115-lock/faults", {"jam_probability": 2}, 400),
        ("PATCH", "/devices/a115-lock/faults", {"no_such_fault": 1}, 400),
        ("PATCH", "/devices/nope/faults", {}, 404),
        ("POST", "/devices/a115-lock/press_help", None, 400),  # a lock has no help button
        ("POST", "/devices/a115-lock/__init__", None, 400),
        ("POST", "/devices/a115-curtain/move_by_hand", {"wrong": 1}, 400),
    ]
    for method, path, body, status in cases:
        async with panel.request(method, path, json=body) as r:
            assert r.status == status, (method, path, await r.text())
    assert home.home.devices["a115-lock"].faults.model_dump() == before
