"""The controller daemon: one TaskGroup of named long-lived tasks.

MQTT link, staleness watch, event writer, alarms, schedules and HTTP server run side
by side; a task that fails is logged and brings the daemon down for its supervisor to
restart, never silently. Stopping (cancel) says ``offline`` on the controller's
availability topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from aiohttp import web

from config.credentials import SiteCredentials
from config.site import Site
from devices.clock import Clock, SystemClock
from devices.contract import SiteTopics
from devices.mqtt import BrokerAddress
from scheduler.engine import ScheduleEngine
from scheduler.fallback import FallbackPublisher

from .alarms import AlarmService
from .auth import Authenticator
from .calls.invitations import CallStore, Invitations
from .calls.screen_bridge import ScreenBridge
from .calls.signalling import CallService
from .command_bus import CommandBus
from .device_reports import DeviceReports
from .event_bus import EventBus
from .event_writer import EventWriter
from .mqtt_link import MqttLink
from .store import Store, StoreError, open_store
from .twins import TwinRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ControllerConfig:
    broker: BrokerAddress
    site: Site
    credentials: SiteCredentials | None
    db_url: str
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    command_timeout_s: float = 10.0
    stale_factor: float = 2.5
    stale_check_s: float = 1.0
    #: MQTT client id; one per controller instance (default tryggbo-controller-{site}).
    client_id: str | None = None
    #: A browser session unused this long is signed out.
    session_idle_s: float = 12 * 3600.0


class Controller:
    """All parts of the daemon, wired together; ``run()`` runs them."""

    def __init__(
        self, config: ControllerConfig, clock: Clock | None = None, store: Store | None = None
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.site = config.site
        self.topics = SiteTopics(config.site.slug)
        self.store: Store = store or open_store(config.db_url)
        self.auth = Authenticator(self.store, self.clock, idle_s=config.session_idle_s)
        self.bus = EventBus()
        self.twins = TwinRegistry(config.site, stale_factor=config.stale_factor)
        self.events = EventWriter(self.store)
        creds = config.credentials
        keys = {dev: c.key for dev, c in creds.devices.items()} if creds else {}
        self.reports: DeviceReports
        self.link = MqttLink(
            config.broker,
            self.topics,
            creds.controller if creds else None,
            self._on_message,
            identifier=config.client_id,
        )
        self.commands = CommandBus(
            link=self.link,
            topics=self.topics,
            twins=self.twins,
            keys=keys,
            store=self.store,
            bus=self.bus,
            clock=self.clock,
            timeout_s=config.command_timeout_s,
        )
        self.reports = DeviceReports(
            site=self.site.slug,
            twins=self.twins,
            commands=self.commands,
            bus=self.bus,
            clock=self.clock,
            store_event=self.events.put,
        )
        self.alarms = AlarmService(
            store=self.store,
            bus=self.bus,
            twins=self.twins,
            site=self.site,
            clock=self.clock,
            connected=self.link.connected.is_set,
        )
        self.schedules = ScheduleEngine(
            self.store,
            self.commands,
            self.site,
            self.clock,
            bus=self.bus,
            fallback=FallbackPublisher(self.link, self.site, self.clock),
        )
        #: the room screens' kiosk pages and the relatives' video calls
        self.screens = ScreenBridge(self.site, creds, config.broker, self.bus, self.clock)
        self.screens.display_name = self._display_name
        calls_store: CallStore = self.store  # type: ignore[assignment]
        self.invitations = Invitations(calls_store, self.clock)
        self.calls = CallService(
            self.site, calls_store, self.commands, self.bus, self.screens, self.clock
        )
        self.ready = asyncio.Event()
        self.http_port: int | None = None

    async def _display_name(self, username: str) -> str:
        """The name a resident's screen shows for a member of staff."""
        try:
            user = await self.store.user_by_name(username)
        except StoreError:  # a failing store must not hold up a help confirmation
            log.exception("cannot read user %s", username)
            return username
        return (user.display_name or username) if user else username

    def _on_message(self, message: object) -> None:
        self.reports(message)  # type: ignore[arg-type]

    @property
    def http_url(self) -> str:
        return f"http://{self.config.http_host}:{self.http_port}"

    async def run(self) -> None:
        """Run until cancelled."""
        from .api import build_app  # the API imports the daemon's types

        await self.store.open()
        settled = await self.commands.settle_crashed()
        if settled:
            log.warning(
                "%d commands were in flight when the last process stopped: "
                "recorded as outcome unknown",
                settled,
            )
        runner = web.AppRunner(build_app(self), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.config.http_host, self.config.http_port)
            await site.start()
            server = site._server
            sockets = getattr(server, "sockets", None) or []
            self.http_port = sockets[0].getsockname()[1] if sockets else self.config.http_port
            log.info("HTTP API on %s", self.http_url)
            async with asyncio.TaskGroup() as tasks:
                # first: it subscribes to the bus before the link delivers anything
                tasks.create_task(self.alarms.run(), name="alarms")
                tasks.create_task(self.link.run(), name="mqtt-link")
                tasks.create_task(self.events.run(), name="event-writer")
                tasks.create_task(self._watch_stale(), name="stale-watch")
                tasks.create_task(self.schedules.run(), name="schedules")
                tasks.create_task(self.screens.run(), name="screens")
                tasks.create_task(self.calls.run(), name="calls")
                self.ready.set()
        finally:
            self.ready.clear()
            with contextlib.suppress(Exception):
                await asyncio.shield(self._shutdown(runner))

    async def _shutdown(self, runner: web.AppRunner) -> None:
        await self.screens.stop_all()
        with contextlib.suppress(TimeoutError):
            await self.events.flush(timeout=5)
        await runner.cleanup()
        await self.store.close()

    async def _watch_stale(self) -> None:
        while True:
            await asyncio.sleep(self.config.stale_check_s)
            self.reports.check_stale()
