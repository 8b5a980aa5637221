"""The broker SIGKILLed and restarted in the middle of a burst of commands and events."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from controller.bus_messages import AlarmChanged, CommandResolved, DeviceEvent
from devices.firmware.screen import SimulatedScreen
from tests.conftest import BrokerUnderTest
from tests.integration.harness import RunningController, RunningHome, wait_all_online
from tests.reliability_fixtures import gather_limited

from .execution_counter import count_executions
from .stored_presses import stored_presses

DEFINITE = {"ok", "rejected", "failed", "timeout", "offline"}
#: a help press made while the broker was down reaches the controller and raises its
#: alarm within this long after the broker is back (measured: see docs/reliability.md)
HELP_BOUND_S = 10.0


async def _close_alarms(ctl: RunningController, kind: str) -> None:
    status, body = await ctl.call("GET", "/api/alarms")
    assert status == 200
    for alarm in body["alarms"]:
        if alarm["kind"] == kind and alarm["state"] != "closed":
            status, _ = await ctl.call(
                "POST", f"/api/alarms/{alarm['id']}/close", json={"note": "test over"}
            )
            assert status == 200


async def test_broker_killed_during_burst_loses_nothing_and_runs_nothing_twice(
    rel_ctl: RunningController, rel_home: RunningHome, rel_broker: BrokerUnderTest
) -> None:
    home = rel_home.home
    site = rel_broker.site
    screens = [d.id for _a, d in site.devices() if d.type == "screen"]
    curtains = [d.id for _a, d in site.devices() if d.type == "curtain"]
    pressers_before, pressers_during = screens[:6], screens[6:12]
    results: list[tuple[str, int, dict[str, Any]]] = []

    async def burst(device: str, action: str, key: str, values: list[int]) -> None:
        for value in values:
            status, body = await rel_ctl.command(device, action, args={key: value})
            results.append((device, status, body))

    ctl = rel_ctl.controller
    with (
        count_executions(home) as executions,
        ctl.bus.subscribe(CommandResolved) as commands_seen,
        ctl.bus.subscribe(DeviceEvent, queue_size=0) as events_seen,
        ctl.bus.subscribe(AlarmChanged, queue_size=0) as alarms_seen,
    ):
        tasks = [
            asyncio.create_task(burst(s, "set_brightness", "brightness", [31, 32, 33]))
            for s in screens
        ] + [
            asyncio.create_task(burst(c, "set_position", "position", [40, 60, 80]))
            for c in curtains
        ]
        for _ in range(10):  # the burst is under way
            await commands_seen.get(timeout=10)
        presses: dict[str, str] = {}
        for screen in pressers_before:
            presses[screen] = home[screen].press_help()  # type: ignore[attr-defined]
        await asyncio.to_thread(rel_broker.stop, kill=True)
        for screen in pressers_during:  # queued in the device until the broker is back
            presses[screen] = home[screen].press_help()  # type: ignore[attr-defined]
        await asyncio.to_thread(rel_broker.start)
        restarted = ctl.clock.now()  # the controller stamps events with this clock
        async with asyncio.timeout(60):
            await asyncio.gather(*tasks)

        # every command has a definite outcome, answered and audited
        assert len(results) == 3 * (len(screens) + len(curtains))
        outcomes = {body["outcome"] for _d, _s, body in results}
        assert outcomes <= DEFINITE, outcomes
        assert "ok" in outcomes
        for device, _status, body in results:
            status, audit = await rel_ctl.call(
                "GET", f"/api/audit?command_id={body['command_id']}&limit=10"
            )
            assert status == 200
            resolved = [r for r in audit["audit"] if r["kind"] == "resolved"]
            assert [r["outcome"] for r in resolved] == [body["outcome"]], (device, audit)
        # nothing was executed twice (QoS 1 redelivery is caught by the id memory)
        assert executions, "the firmware executed nothing"
        assert max(executions.values()) == 1, [i for i, n in executions.items() if n > 1]

        # every help press arrives (persistent sessions, QoS 1; the devices hold their
        # events until the controller says ``online`` after resubscribing, so a broker
        # that lost the controller's session cannot drop them) and raises its alarm
        pressed = set(pressers_before + pressers_during)
        arrived: dict[str, datetime] = {}
        async with asyncio.timeout(HELP_BOUND_S):
            while not set(arrived) >= pressed:
                msg = await events_seen.get()
                if msg.type == "help_pressed":
                    arrived.setdefault(msg.device, msg.ts)
        alarmed: set[str] = set()
        async with asyncio.timeout(HELP_BOUND_S):
            while not alarmed >= pressed:
                msg = await alarms_seen.get()
                if msg.alarm.kind == "help" and msg.change in ("raised", "repeated"):
                    alarmed.add(str(msg.alarm.device))
        worst = max(arrived[d] for d in pressers_during) - restarted
        print(f"help presses of the outage arrived {worst.total_seconds():.2f} s after restart")
        assert worst <= timedelta(seconds=HELP_BOUND_S), worst
        await wait_all_online(ctl, timeout=30)
    # every press stored exactly once (no loss, no duplicate from a redelivery)
    for screen, press_id in presses.items():
        assert (await stored_presses(rel_ctl, screen)).count(press_id) == 1, screen
    for device_id in screens + curtains:
        device = home[device_id]
        field = "brightness" if isinstance(device, SimulatedScreen) else "position"
        truth = getattr(device.state, field)
        await rel_ctl.wait_twin(
            device_id, lambda t, f=field, v=truth: getattr(t.reported, f) == v, timeout=20
        )
    # the help alarms were raised from those events
    status, body = await rel_ctl.call("GET", "/api/alarms")
    helped_alarms = {a["device"] for a in body["alarms"] if a["kind"] == "help"}
    assert helped_alarms >= set(pressers_before + pressers_during)
    await _close_alarms(rel_ctl, "help")
    await gather_limited(
        [rel_ctl.command(s, "set_brightness", args={"brightness": 70}) for s in screens]
    )


async def test_broker_back_without_its_store_keeps_help_presses_until_the_controller_listens(
    rel_ctl: RunningController, rel_home: RunningHome, rel_broker: BrokerUnderTest
) -> None:
    """The broker comes back with nothing of its store (killed before its first save,
    or a new disk): no session, no retained message. The devices are back before the
    controller, so nobody is subscribed to their events yet: a help press sent then
    would be accepted by the broker and dropped. The devices must hold it until the
    controller says ``online`` (after subscribing), and the alarm must ring."""
    site = rel_broker.site
    screens = [d.id for _a, d in site.devices() if d.type == "screen"]
    pressers = screens[12:15]
    await asyncio.to_thread(rel_broker.stop, kill=True)
    (rel_broker.process.directory / "data" / "mosquitto.db").unlink(missing_ok=True)
    await rel_ctl.stop()
    for screen in pressers:
        rel_home.home[screen].press_help()  # type: ignore[attr-defined]
    await asyncio.to_thread(rel_broker.start)
    await rel_home.home.wait_all_online(timeout=20)  # before the controller is back
    await rel_ctl.restart()
    with rel_ctl.controller.bus.subscribe(AlarmChanged, queue_size=0) as alarms_seen:
        status, body = await rel_ctl.call("GET", "/api/alarms")
        assert status == 200
        alarmed = {
            a["device"] for a in body["alarms"] if a["kind"] == "help" and a["state"] != "closed"
        }
        async with asyncio.timeout(HELP_BOUND_S):
            while not alarmed >= set(pressers):
                pushed = (await alarms_seen.get()).alarm
                if pushed.kind == "help":
                    alarmed.add(str(pushed.device))
    await wait_all_online(rel_ctl.controller, timeout=30)
    await _close_alarms(rel_ctl, "help")
