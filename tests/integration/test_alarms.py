"""Alarms end to end on the suite's Mosquitto with the simulated firmware: the help
button through the API and the WebSocket, the night flow, jammed locks, restarts,
and the night door under a controller whose clock shows a chosen local time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from config.site import Site
from controller.api.live_messages import live_message as wire
from controller.bus_messages import AlarmChanged
from controller.daemon import Controller, ControllerConfig
from controller.event_bus import Subscription
from devices.clock import SystemClock
from devices.firmware.lock import SimulatedLock
from devices.firmware.screen import SimulatedScreen
from tests.conftest import BrokerUnderTest

from .harness import RunningController, RunningHome, live_message, wait_all_online

Match = Callable[[dict[str, Any]], bool]


def screen(home: RunningHome, device: str) -> SimulatedScreen:
    dev = home.home.devices[device]
    assert isinstance(dev, SimulatedScreen)
    return dev


def lock(home: RunningHome, device: str) -> SimulatedLock:
    dev = home.home.devices[device]
    assert isinstance(dev, SimulatedLock)
    return dev


def alarm_of(kind: str, device: str | None, change: str = "raised") -> Match:
    return lambda d: (d["kind"], d["device"], d["change"]) == (kind, device, change)


async def next_alarm(
    sub: Subscription[AlarmChanged], site: Site, match: Match, timeout: float = 10.0
) -> dict[str, Any]:
    """The first alarm change matching, as the WebSocket shows it; the others are skipped."""
    async with asyncio.timeout(timeout):
        while True:
            kind, data = wire(await sub.get(), site) or ("", {})
            assert kind == "alarm"
            if match(data):
                return data


async def ws_alarm(ws: aiohttp.ClientWebSocketResponse, match: Match) -> dict[str, Any]:
    msg = await live_message(ws, lambda m: m["type"] == "alarm" and match(m["data"]))
    return msg["data"]


async def test_help_press_take_unlock_on_site_close(
    ctl: RunningController, home: RunningHome
) -> None:
    async with ctl.http.ws_connect("/api/ws") as ws:
        assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
        screen(home, "a105-screen").press_help()
        pushed = await ws_alarm(ws, alarm_of("help", "a105-screen"))
        alarm_id = pushed["id"]
        assert (pushed["apartment"], pushed["resident"], pushed["state"]) == (
            "105",
            "Karin Sjöberg",
            "open",
        )
        assert (pushed["suggested_reason"], pushed["count"], pushed["escalated"]) == (
            "emergency",
            1,
            False,
        )
        status, body = await ctl.call("GET", "/api/alarms?state=active")
        assert status == 200
        assert alarm_id in [a["id"] for a in body["alarms"]]

        screen(home, "a105-screen").press_help()  # again while active: counted, no new alarm
        repeat = await ws_alarm(ws, alarm_of("help", "a105-screen", "repeated"))
        assert (repeat["id"], repeat["count"]) == (alarm_id, 2)

        status, taken = await ctl.call(
            "POST", f"/api/alarms/{alarm_id}/ack", json={"comment": "on my way"}
        )
        assert (status, taken["state"], taken["ack_comment"]) == (200, "acknowledged", "on my way")
        assert taken["acked_by"] == "test-staff"
        status, body = await ctl.call("POST", f"/api/alarms/{alarm_id}/ack", json={})
        assert (status, body["error"]["code"]) == (409, "alarm_state")
        assert body["error"]["details"]["alarm"]["acked_by"] == "test-staff"

        status, body = await ctl.command("a105-lock", "unlock", reason=taken["suggested_reason"])
        assert (status, body["outcome"]) == (200, "ok"), body
        status, there = await ctl.call("POST", f"/api/alarms/{alarm_id}/on_site", json={})
        assert (status, there["state"], there["on_site_by"]) == (200, "on_site", "test-staff")
        status, body = await ctl.call("POST", f"/api/alarms/{alarm_id}/close", json={})
        assert (status, body["error"]["code"]) == (400, "bad_body")
        # the door is unlocked: "Lås dörren?" first (tests/integration/test_alarm_door.py)
        await ctl.wait_twin("a105-lock", lambda t: getattr(t.reported, "lock", None) == "unlocked")
        status, body = await ctl.call(
            "POST", f"/api/alarms/{alarm_id}/close", json={"note": "had fallen; unhurt"}
        )
        assert (status, body["error"]["code"]) == (409, "door_unlocked")
        status, body = await ctl.call(
            "POST", f"/api/alarms/{alarm_id}/door", json={"action": "lock"}
        )
        assert (status, body["command"]["outcome"]) == (200, "ok"), body
        status, closed = await ctl.call(
            "POST", f"/api/alarms/{alarm_id}/close", json={"note": "had fallen; unhurt"}
        )
        assert (status, closed["state"], closed["close_note"]) == (
            200,
            "closed",
            "had fallen; unhurt",
        )
        for change in ("acknowledged", "on_site", "closed"):
            assert (await ws_alarm(ws, alarm_of("help", "a105-screen", change)))["id"] == alarm_id
    status, body = await ctl.command("a105-lock", "lock", reason="after the visit")
    assert (status, body["outcome"]) == (200, "ok"), body

    status, body = await ctl.call("GET", f"/api/alarms/{alarm_id}")
    assert (status, body["state"], body["count"]) == (200, "closed", 2)
    status, body = await ctl.call("GET", "/api/alarms?state=closed&limit=5")
    assert alarm_id in [a["id"] for a in body["alarms"]]
    assert (await ctl.call("GET", "/api/alarms/999999"))[0] == 404
    assert (await ctl.call("POST", "/api/alarms/999999/ack", json={}))[0] == 404
    assert (await ctl.call("GET", "/api/alarms?state=maybe"))[0] == 400
    log = await ctl.controller.store.activity(limit=20)
    mine = [(a.action, a.reason, a.outcome) for a in reversed(log) if a.subject == str(alarm_id)]
    assert mine == [
        ("alarm_ack", "on my way", "ok"),
        ("alarm_ack", None, "conflict"),
        ("alarm_on_site", None, "ok"),
        ("alarm_door", None, "ok"),
        ("alarm_close", "had fallen; unhurt", "ok"),
    ]


async def test_jammed_lock_raises_jammed(ctl: RunningController, home: RunningHome) -> None:
    device = lock(home, "a106-lock")
    with ctl.controller.bus.subscribe(AlarmChanged) as sub:
        device.faults.jam_probability = 1.0
        try:
            status, body = await ctl.command("a106-lock", "unlock", reason="care visit")
            assert (status, body["error"]) == (409, "jammed"), body
            alarm = await next_alarm(sub, ctl.controller.site, alarm_of("jammed", "a106-lock"))
        finally:
            device.faults.jam_probability = 0.0
        assert (alarm["apartment"], alarm["suggested_reason"]) == ("106", "technician")
        status, body = await ctl.command("a106-lock", "lock", reason="technician")
        assert (status, body["outcome"]) == (200, "ok"), body
        cleared = await next_alarm(
            sub, ctl.controller.site, alarm_of("jammed", "a106-lock", "cleared")
        )
        assert cleared["id"] == alarm["id"]
    status, body = await ctl.call(
        "POST", f"/api/alarms/{alarm['id']}/close", json={"note": "bolt freed"}
    )
    assert (status, body["state"]) == (200, "closed")


async def test_alarms_survive_a_controller_restart(
    ctl: RunningController, home: RunningHome
) -> None:
    with ctl.controller.bus.subscribe(AlarmChanged) as sub:
        screen(home, "a106-screen").press_help()
        alarm = await next_alarm(sub, ctl.controller.site, alarm_of("help", "a106-screen"))
    await ctl.restart()
    status, body = await ctl.call("GET", "/api/alarms?state=active")
    assert status == 200
    [again] = [a for a in body["alarms"] if a["id"] == alarm["id"]]
    assert again["state"] == "open"
    async with asyncio.timeout(10):
        await ctl.controller.alarms.loaded.wait()
    assert alarm["id"] in [a.id for a in ctl.controller.alarms.active()]
    await wait_all_online(ctl.controller)
    with ctl.controller.bus.subscribe(AlarmChanged) as sub:
        screen(home, "a106-screen").press_help()  # deduped against the reloaded alarm
        repeat = await next_alarm(
            sub, ctl.controller.site, alarm_of("help", "a106-screen", "repeated")
        )
    assert (repeat["id"], repeat["count"]) == (alarm["id"], 2)
    status, body = await ctl.call(
        "POST", f"/api/alarms/{alarm['id']}/close", json={"note": "checked, all well"}
    )
    assert status == 200, body


# ---------------------------------------------------------------- chosen local time


class ShownClock:
    """The real clock shifted so the controller sees a chosen local time; it runs on
    from there. Devices keep the real time (they get no commands in these tests)."""

    def __init__(self) -> None:
        self._real = SystemClock()
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self._real.now() + self.offset

    def monotonic(self) -> float:
        return self._real.monotonic()

    def show(self, when: datetime) -> None:
        self.offset = when - self._real.now()


async def _launch(controller: Controller) -> asyncio.Task[None]:
    task = asyncio.create_task(controller.run(), name="alarm-test-controller")
    async with asyncio.timeout(15):
        ready = asyncio.create_task(controller.ready.wait())
        done, _ = await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            ready.cancel()
            task.result()
        await controller.link.connected.wait()
        await controller.alarms.loaded.wait()
    return task


@contextlib.asynccontextmanager
async def running(config: ControllerConfig, clock: ShownClock) -> AsyncIterator[Controller]:
    controller = Controller(config, clock=clock)
    task = await _launch(controller)
    try:
        yield controller
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def open_and_close(home: RunningHome, device: str) -> None:
    lk = lock(home, device)
    lk.open_door()
    lk.close_door()


async def test_night_door_only_at_night_and_only_with_recorded_supervision(
    mosquitto: BrokerUnderTest, home: RunningHome, tmp_path: Path
) -> None:
    site = mosquitto.site
    zone = site.zone
    clock = ShownClock()
    clock.show(datetime(2026, 11, 26, 12, 0, tzinfo=zone))  # a Thursday noon
    config = ControllerConfig(
        broker=mosquitto.address,
        site=site,
        credentials=mosquitto.credentials,
        db_url=f"sqlite:///{tmp_path / 'night.sqlite'}",
        http_port=0,
        client_id="test-alarm-clock-ctl",
        stale_factor=10_000.0,  # the clock jumps: no staleness from that
    )
    async with running(config, clock) as controller:
        await wait_all_online(controller)
        with controller.bus.subscribe(AlarmChanged) as sub:
            # day: a supervised apartment's door raises nothing (the help press after it
            # is the marker: every alarm the door could have raised would come first)
            await open_and_close(home, "a104-lock")
            screen(home, "a104-screen").press_help()
            marker = await next_alarm(sub, controller.site, lambda d: d["change"] == "raised")
            assert (marker["kind"], marker["device"]) == ("help", "a104-screen")
            await controller.alarms.act(marker["id"], "close", actor="test", text="marker")

            clock.show(datetime(2026, 11, 26, 23, 30, tzinfo=zone))  # night
            await open_and_close(home, "a101-lock")  # consent recorded
            night = await next_alarm(sub, controller.site, lambda d: d["change"] == "raised")
            assert (night["kind"], night["device"], night["apartment"]) == (
                "night_door",
                "a101-lock",
                "101",
            )
            assert night["suggested_reason"] == "emergency"
            assert night["details"]["supervision"]["basis"] == "consent"
            assert night["details"]["review_overdue"] is False
            await open_and_close(home, "a102-lock")  # nothing recorded for 102
            await open_and_close(home, "a101-lock")  # marker: counted on the first
            marker = await next_alarm(
                sub, controller.site, lambda d: d["change"] in ("raised", "repeated")
            )
            assert (marker["id"], marker["change"], marker["count"]) == (
                night["id"],
                "repeated",
                2,
            )
    # a restart keeps the open night alarm and goes on escalating it
    async with running(config, clock) as controller:
        assert [a.id for a in controller.alarms.active()] == [night["id"]]
        with controller.bus.subscribe(AlarmChanged) as sub:
            minutes = site.site.escalate_after_minutes
            clock.show(datetime(2026, 11, 26, 23, 30 + minutes, 30, tzinfo=zone))
            escalated = await next_alarm(sub, controller.site, lambda d: d["change"] == "escalated")
        assert (escalated["id"], escalated["escalated"], escalated["escalations"]) == (
            night["id"],
            True,
            1,
        )
        stored = await controller.store.get_alarm(night["id"])
        assert stored is not None
        assert stored.escalations == 1
