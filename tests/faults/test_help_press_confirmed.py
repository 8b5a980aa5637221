"""A help press is confirmed end to end, whatever fails between the button and the
store: the screen repeats the press until a controller confirms on the screen's
``confirm`` topic that its alarm is stored.

Loss paths, each performed for real on Mosquitto with ``tryggbo serve`` children:
the controller SIGKILLed right after the press; a dead member of a ``$share`` group
holding presses; a screen over its rate limit; an event the store refuses just before
the press (PostgreSQL), which must not block it.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from config.site import Site
from devices.clock import SystemClock
from devices.contract import Channel, Event, SiteTopics, encode
from devices.firmware.screen import SimulatedScreen
from tests.conftest import BrokerUnderTest
from tests.pg_server import scratch_pg_database
from tests.reliability_fixtures import mqtt_client, private_broker

from .served import ServedController

SCREEN = "a104-screen"
#: a press must be stored and confirmed this long after the controller can take it
BOUND_S = 15.0


@asynccontextmanager
async def screen_running(broker: BrokerUnderTest, device: str) -> AsyncIterator[SimulatedScreen]:
    """The screen's firmware on its own login, with its confirmations."""
    screen = SimulatedScreen(
        broker.site.slug,
        device,
        broker.address,
        broker.credentials.device(device),
        clock=SystemClock(),
        heartbeat_s=30,
    )
    task = asyncio.create_task(screen.run())
    try:
        await screen.link.wait_online()
        yield screen
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def confirmations(screen: SimulatedScreen) -> dict[str, asyncio.Event]:
    """press id -> set when the screen got its confirmation."""
    got: dict[str, asyncio.Event] = {}

    def on_confirmed(done: Any) -> None:
        got.setdefault(done.press_id, asyncio.Event()).set()

    screen.on_help_confirmed = on_confirmed
    return got


async def wait_confirmed(got: dict[str, asyncio.Event], press_id: str, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while press_id not in got:  # noqa: ASYNC110 (the callback makes the entry)
            await asyncio.sleep(0.05)
        await got[press_id].wait()


@asynccontextmanager
async def served_alone(
    site: Site, directory: Path, db_url: str | None = None
) -> AsyncIterator[tuple[BrokerUnderTest, ServedController]]:
    """A private Mosquitto and one running ``tryggbo serve`` on it (SQLite by default)."""
    async with private_broker(site, directory) as broker:
        url = db_url or f"sqlite:///{directory / 's.sqlite'}"
        served = ServedController(broker, url, directory / "s.log")
        await served.prepare()
        try:
            await served.start()
            yield broker, served
        finally:
            await served.stop()


async def help_alarm(served: ServedController, device: str) -> dict[str, Any]:
    body = await served.wait_for(
        "GET",
        "/api/alarms",
        lambda b: any(a["device"] == device and a["kind"] == "help" for a in b["alarms"]),
    )
    return next(a for a in body["alarms"] if a["device"] == device and a["kind"] == "help")


async def test_press_survives_a_controller_killed_right_after_it(
    example_site: Site, tmp_path: Path
) -> None:
    async with (
        served_alone(example_site, tmp_path) as (broker, served),
        screen_running(broker, SCREEN) as screen,
    ):
        got = confirmations(screen)
        press = screen.press_help()
        served.kill()  # within milliseconds of the press
        assert press in screen.help_pending  # not confirmed by the dead one
        await served.start()
        await wait_confirmed(got, press, BOUND_S)
        alarm = await help_alarm(served, SCREEN)
        assert alarm["details"]["count"] == 1  # the repeats counted once
        assert press not in screen.help_pending


async def test_press_held_for_a_dead_shared_member_reaches_the_live_one(
    example_site: Site, pg_url: str | None, tmp_path: Path
) -> None:
    if pg_url is None:
        pytest.skip("no PostgreSQL installed")
    async with (
        private_broker(example_site, tmp_path) as broker,
        scratch_pg_database(pg_url) as db_url,
        AsyncExitStack() as stack,
    ):
        members = []
        for name in ("one", "two"):
            env = {"TRYGGBO_CLIENT_ID": f"ctl-{name}", "TRYGGBO_SHARED_GROUP": "site"}
            served = ServedController(broker, db_url, tmp_path / f"{name}.log", env=env)
            members.append(served)
            stack.push_async_callback(served.stop)
        await members[0].prepare()
        members[1].token = members[0].token
        for served in members:
            await served.start()
        dead, alive = members
        screens = [d.id for _a, d in example_site.devices() if d.type == "screen"][:8]
        async with AsyncExitStack() as running:
            presses = []
            started_screens = [
                await running.enter_async_context(screen_running(broker, device))
                for device in screens
            ]
            # the member hangs, then dies: what the broker handed it stays in its session
            assert dead.proc is not None
            dead.proc.send_signal(signal.SIGSTOP)
            for device, screen in zip(screens, started_screens, strict=True):
                got = confirmations(screen)
                presses.append((device, screen.press_help(), got))
            await asyncio.sleep(0.5)  # a hung member for half a second, not a synchronisation
            dead.kill()
            started = asyncio.get_running_loop().time()
            for _device, press, got in presses:
                await wait_confirmed(got, press, BOUND_S)
            took = asyncio.get_running_loop().time() - started
        body = await alive.wait_for(
            "GET",
            "/api/alarms",
            lambda b: len([a for a in b["alarms"] if a["kind"] == "help"]) >= 8,
        )
        helps = {a["device"]: a for a in body["alarms"] if a["kind"] == "help"}
        assert set(helps) == set(screens)
        assert all(a["details"]["count"] == 1 for a in helps.values())
        # the dead member comes back with the presses it held: nothing counted twice
        await dead.start()
        async with asyncio.timeout(BOUND_S):
            while "counted already" not in dead.log_text():  # noqa: ASYNC110 (its log)
                await asyncio.sleep(0.1)
        body = await alive.call("GET", "/api/alarms")
        helps = {a["device"]: a for a in body[1]["alarms"] if a["kind"] == "help"}
        assert all(a["details"]["count"] == 1 for a in helps.values()), helps
        print(f"8 presses confirmed {took:.1f} s after they were pressed")


async def test_press_of_a_flooding_screen_is_not_rate_limited(
    example_site: Site, tmp_path: Path
) -> None:
    async with (
        served_alone(example_site, tmp_path) as (broker, served),
        screen_running(broker, SCREEN) as screen,
    ):
        got = confirmations(screen)
        for _ in range(300):  # far over its budget (burst 100, 20/s)
            screen.touch()
        press = screen.press_help()
        await wait_confirmed(got, press, BOUND_S)
        health = await served.wait_health(
            lambda h: h["dropped_messages"].get("rate_limited", 0) > 0
        )
        assert health["dropped_messages"]["rate_limited"] > 0  # the touches were
        assert (await help_alarm(served, SCREEN))["details"]["count"] == 1


async def test_event_the_store_refuses_is_set_aside_and_the_press_after_it_stored(
    example_site: Site, pg_url: str | None, tmp_path: Path
) -> None:
    """A text with a NUL character is valid JSON that PostgreSQL's JSONB refuses: the
    batch fails, that one event is set aside, the rest (the help press) is written and
    health recovers by itself."""
    if pg_url is None:
        pytest.skip("no PostgreSQL installed")
    topics = SiteTopics(example_site.slug)
    async with (
        scratch_pg_database(pg_url) as db_url,
        served_alone(example_site, tmp_path, db_url) as (broker, served),
    ):
        bad = Event(type="touched", ts=datetime.now(UTC), seq=1, note="a\u0000b")
        login = broker.credentials.device(SCREEN)
        async with mqtt_client(broker, f"{example_site.slug}-{SCREEN}", login) as device:
            await device.publish(
                topics.device(SCREEN, Channel.EVENT), encode(bad), qos=1, timeout=10
            )
        async with screen_running(broker, SCREEN) as screen:
            got = confirmations(screen)
            press = screen.press_help()
            await wait_confirmed(got, press, BOUND_S)
        body = await served.wait_for("GET", "/api/events/set-aside", lambda b: b["set_aside"])
        [aside] = body["set_aside"]
        assert (aside["device"], aside["type"], aside["key"]) == (
            SCREEN,
            "touched",
            f"1@{bad.ts.isoformat()}",
        )
        assert "\\u0000" in aside["details_json"]
        assert aside["reason"]
        # the screen's going offline makes it "degraded"; nothing says the store fails
        health = await served.wait_health(lambda h: h["status"] != "failing")
        assert not [p for p in health["problems"] if "store" in p], health["problems"]
        assert health["events_set_aside"] == 1
        events = await served.wait_for(
            "GET",
            f"/api/events?device={SCREEN}",
            lambda b: any(e["type"] == "help_pressed" for e in b["events"]),
        )
        assert not any(e["type"] == "touched" for e in events["events"])
