"""The room screen's kiosk page and the screen's MQTT device as one device.

The page (a browser on the wall) speaks only to the daemon, over its WebSocket with a
screen credential. While at least one page of a screen is open, the daemon runs that
screen's firmware (:class:`PageScreen`, the simulated screen's firmware with the page as
its touch panel) on its own MQTT connection, under the screen's own MQTT login and
client id. So the controller sees exactly the contract's screen: retained state,
``help_pressed``/``call_accepted``/``call_declined``/``touched`` events, commands and
acks, last will when the page goes away. A simulated screen without a browser is the
same firmware run by ``SimulatedHome``; a screen is driven by one or the other (the
broker lets one connection hold a client id).

Help presses are never lost silently: each press has an id the page repeats until it
is confirmed; the firmware publishes ``help_pressed`` (QoS 1, kept in the outbox while
disconnected) with that ``press_id`` and repeats it until a controller confirms it on
the screen's ``confirm`` topic, which the alarm service does once the alarm is stored
(devices/firmware/screen.py). The page is told "staff have been called" only on that
confirmation, whichever controller instance stored the alarm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from config.credentials import KeptCredentials
from config.site import Apartment, Site
from devices.clock import Clock
from devices.contract import DeviceType, HelpConfirmed
from devices.mqtt import Brokers

from ..bus_messages import AlarmChanged
from ..event_bus import EventBus

if TYPE_CHECKING:  # the firmware is imported when a first page opens (issue 18: memory)
    from .page_screen import PageScreen

log = logging.getLogger(__name__)

#: A screen's firmware keeps running this long after its last page closed (a reload).
LINGER_S = 10.0

Send = Callable[[dict[str, Any]], None]


@dataclass(eq=False)
class _Running:
    device: PageScreen
    task: asyncio.Task[None]
    pages: set[Send] = field(default_factory=set)
    #: presses a controller confirmed (stored as an alarm)
    confirmed: set[str] = field(default_factory=set)
    stopper: asyncio.TimerHandle | None = None


class ScreenBridge:
    """Runs :class:`PageScreen` firmware for screens whose page is open."""

    def __init__(
        self,
        site: Site,
        credentials: KeptCredentials | None,
        broker: Brokers,
        bus: EventBus,
        clock: Clock,
    ) -> None:
        self.site = site
        self.credentials = credentials
        self.broker = broker
        self.bus = bus
        self.clock = clock
        self.linger_s = LINGER_S
        #: username -> the name the resident sees (set by the daemon; None: usernames)
        self.display_name: Callable[[str], Awaitable[str]] | None = None
        self._running: dict[str, _Running] = {}
        #: device -> the last help alarm pushed for it (the alarm as JSON)
        self._help_alarm: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ pages

    def screen_of(self, apartment: Apartment) -> str | None:
        return next((d.id for d in apartment.devices if d.type is DeviceType.SCREEN), None)

    def attach(self, device_id: str, send: Send) -> PageScreen:
        """A page of ``device_id`` opened: run its firmware if not yet running."""
        running = self._running.get(device_id)
        if running is None:
            if self.credentials is None:
                raise LookupError("the daemon has no device credentials for screens")
            from .page_screen import PageScreen

            device = PageScreen(
                self.site.slug,
                device_id,
                self.broker,
                self.credentials.device(device_id),
                clock=self.clock,
                model="kiosk-page",
            )
            task = asyncio.create_task(device.run(), name=f"page-screen-{device_id}")
            running = _Running(device, task)
            self._running[device_id] = running
            device.on_change = lambda: self._broadcast(device_id, self.state_message(device_id))
            device.on_help_confirmed = lambda done: self._on_confirmed(device_id, done)
            log.info("screen %s: page attached, firmware started", device_id)
        if running.stopper is not None:
            running.stopper.cancel()
            running.stopper = None
        running.pages.add(send)
        return running.device

    def detach(self, device_id: str, send: Send) -> None:
        running = self._running.get(device_id)
        if running is None:
            return
        running.pages.discard(send)
        if not running.pages and running.stopper is None:
            loop = asyncio.get_running_loop()
            running.stopper = loop.call_later(self.linger_s, self._stop, device_id)

    def _stop(self, device_id: str) -> None:
        running = self._running.get(device_id)
        if running is None or running.pages:
            return
        del self._running[device_id]
        running.task.cancel()
        log.info("screen %s: last page closed, firmware stopped", device_id)

    async def stop_all(self) -> None:
        for device_id, running in list(self._running.items()):
            del self._running[device_id]
            running.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running.task

    def device(self, device_id: str) -> PageScreen | None:
        running = self._running.get(device_id)
        return running.device if running else None

    def pages(self, device_id: str) -> set[Send]:
        running = self._running.get(device_id)
        return set(running.pages) if running else set()

    def _broadcast(self, device_id: str, message: dict[str, Any]) -> None:
        for send in self.pages(device_id):
            send(message)

    def broadcast(self, device_id: str, message: dict[str, Any]) -> bool:
        """Send ``message`` to the screen's open pages here; whether it has any."""
        pages = self.pages(device_id)
        for send in pages:
            send(message)
        return bool(pages)

    def state_message(self, device_id: str) -> dict[str, Any]:
        running = self._running.get(device_id)
        view = running.device.view() if running else {}
        return {"type": "state", "data": view}

    def help_message(self, device_id: str) -> dict[str, Any] | None:
        """The state of the screen's current help alarm, for a page that (re)opens."""
        alarm = self._help_alarm.get(device_id)
        if alarm is None or alarm.get("state") == "closed":
            return None
        return _help_status(alarm)

    # ------------------------------------------------------------------ help

    def press_help(self, device_id: str, press_id: str) -> None:
        """The resident pressed call staff (``press_id`` repeated by the page until
        confirmed)."""
        running = self._running.get(device_id)
        if running is None:
            return
        if press_id in running.confirmed:
            self._broadcast(device_id, self._help_confirmation(device_id, [press_id]))
            return
        running.device.press_help(press_id)  # the firmware repeats it until confirmed

    def _on_confirmed(self, device_id: str, done: HelpConfirmed) -> None:
        """A controller confirmed a help press of this screen: tell its pages."""
        running = self._running.get(device_id)
        if running is None:
            return
        running.confirmed.add(done.press_id)
        alarm = self._help_alarm.get(device_id, {})
        if alarm.get("id") != done.alarm_id:  # this instance has not seen the alarm yet
            alarm = {"id": done.alarm_id, "state": done.alarm_state}
            self._help_alarm[device_id] = alarm
        self._broadcast(device_id, self._help_confirmation(device_id, [done.press_id]))

    def _help_confirmation(self, device_id: str, presses: list[str]) -> dict[str, Any]:
        alarm = self._help_alarm.get(device_id, {})
        return {"type": "help_confirmed", "presses": presses, **_help_status(alarm)}

    async def run(self) -> None:
        """Watch the controller's help alarms and tell the screens' pages how theirs go
        (taken, staff on site, closed)."""
        with self.bus.subscribe(AlarmChanged, queue_size=0) as sub:
            while True:
                alarm = (await sub.get()).alarm
                if alarm.kind == "help" and alarm.device:
                    status = {
                        "id": alarm.id,
                        "state": alarm.state,
                        "acked_by": alarm.acked_by,
                        "on_site_by": alarm.on_site_by,
                    }
                    self._on_help_alarm(alarm.device, await self._with_names(status))

    async def _with_names(self, alarm: dict[str, Any]) -> dict[str, Any]:
        """The alarm with the display names of the staff who took it (for the screen)."""
        if self.display_name is None:
            return alarm
        names = {}
        for field_name in ("acked_by", "on_site_by"):
            username = alarm.get(field_name)
            if username:
                names[field_name] = await self.display_name(username)
        return {**alarm, **names}

    def _on_help_alarm(self, device_id: str, alarm: dict[str, Any]) -> None:
        self._help_alarm[device_id] = alarm
        # a page waiting for its own press ignores this: it waits for the confirmation
        self._broadcast(device_id, {"type": "help_status", **_help_status(alarm)})


def _help_status(alarm: dict[str, Any]) -> dict[str, Any]:
    return {
        "alarm_id": alarm.get("id"),
        "alarm_state": alarm.get("state"),
        "acked_by": alarm.get("acked_by"),
        "on_site_by": alarm.get("on_site_by"),
    }
