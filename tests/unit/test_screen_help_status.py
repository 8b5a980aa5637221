"""The room screen's help status follows the help alarm's changes on the bus
(``AlarmChanged``): taken by whom (the name the resident sees), on site, closed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from config.site import EXAMPLE_SITE, load_site
from controller.bus_messages import AlarmChanged
from controller.calls.screen_bridge import ScreenBridge
from controller.event_bus import EventBus
from controller.store.alarm_records import AlarmRecord
from devices.clock import ManualClock
from devices.mqtt import BrokerAddress

T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
SCREEN = "a101-screen"


def help_alarm(state: str, acked_by: str) -> AlarmRecord:
    return AlarmRecord(
        kind="help",
        apartment="101",
        device=SCREEN,
        state=state,
        raised_at=T0,
        id=7,
        acked_by=acked_by,
    )


async def test_the_screen_shows_who_took_its_help_alarm_until_it_is_closed() -> None:
    bus = EventBus()
    bridge = ScreenBridge(
        load_site(EXAMPLE_SITE),
        None,
        BrokerAddress.parse("mqtt://127.0.0.1:1"),
        bus,
        ManualClock(T0),
    )

    async def display_name(username: str) -> str:
        return {"anna": "Anna S."}.get(username, username)

    bridge.display_name = display_name
    pushed: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def pages(device_id: str) -> set[Callable[[dict[str, Any]], None]]:
        """The screen's one open page: what it is sent is queued here."""
        return {pushed.put_nowait} if device_id == SCREEN else set()

    bridge.pages = pages  # type: ignore[method-assign]
    task = asyncio.create_task(bridge.run())
    try:
        await asyncio.sleep(0)  # one loop turn: the task runs up to its first wait
        assert bus.subscriber_count == 1, "the bridge did not subscribe"
        battery = AlarmRecord(
            kind="battery_low", apartment="101", device="a101-lock", state="open", raised_at=T0
        )
        bus.publish(AlarmChanged(battery, "raised"))  # not a help alarm: not shown
        bus.publish(AlarmChanged(help_alarm("acknowledged", acked_by="anna"), "acked"))
        shown = await asyncio.wait_for(pushed.get(), 5)
        assert shown == {
            "type": "help_status",
            "alarm_id": 7,
            "alarm_state": "acknowledged",
            "acked_by": "Anna S.",
            "on_site_by": None,
        }
        assert bridge.help_message(SCREEN) == {k: v for k, v in shown.items() if k != "type"}
        bus.publish(AlarmChanged(help_alarm("closed", acked_by="anna"), "closed"))
        closed = await asyncio.wait_for(pushed.get(), 5)
        assert closed["alarm_state"] == "closed"
        assert bridge.help_message(SCREEN) is None  # a page opened now shows no alarm
        assert pushed.empty()
    finally:
        task.cancel()
