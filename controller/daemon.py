"""The controller daemon: one TaskGroup of named long-lived tasks.

MQTT link, staleness watch, event writer, alarms, schedules and HTTP server run side
by side; a task that fails is logged and brings the daemon down for its supervisor to
restart, never silently. Stopping (cancel) says ``offline`` on the controller's
availability topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import aiomqtt
from aiohttp import web
from pydantic import BaseModel

from config.credentials import KeptCredentials, SiteCredentials
from config.site import Site
from controller.ops.metrics import Metrics
from controller.ops.retention import RetentionPolicy, run_daily
from devices.clock import Clock, SystemClock
from devices.contract import Channel, DeviceType, HelpConfirmed, SiteTopics, encode, spec_for
from devices.mqtt import Brokers
from scheduler.engine import ScheduleEngine
from scheduler.fallback import FallbackPublisher

from .alarms import AlarmService
from .api.edges import EdgeLimits, Edges, GuardedSite
from .auth import Authenticator
from .bus_messages import CommandResolved
from .calls.invitations import LINK_POLICY, CallStore, Invitations
from .calls.screen_bridge import ScreenBridge
from .calls.signalling import CallService
from .command_bus import CommandBus
from .device_reports import DeviceRateLimit, DeviceReports
from .event_bus import EventBus
from .event_writer import EventWriter
from .leader import LeaderLease, while_leading
from .live_relay import LiveRelay
from .mqtt_link import MqttLink, NotConnected
from .receipts import Receipt
from .refusal_tally import RefusalTally
from .screen_messages import message_end
from .store import SqlStore, Store, StoreError, open_store
from .twins import TwinRegistry
from .web_tls import tls_context

log = logging.getLogger(__name__)


#: generation thresholds of the cyclic garbage collector in the daemon process
GC_THRESHOLDS = (700, 10, 1000)
#: a screen shows a call no instance told this one of: ended after this long (seconds;
#: the owner's news comes through PostgreSQL, the screen's state through the broker)
REMOTE_CALL_GRACE_S = 3.0


def tune_gc() -> None:
    """Full (generation 2) collections 100 times rarer than CPython's default.

    With 10,000 twins the heap is large, and a full collection walks all of it; during
    a drain of device traffic they took ~16 % of the loop (ingest 0.39 -> 0.47-0.50 of
    raw paho in three A/B runs). Young collections are unchanged, so short-lived
    garbage goes as before; cycles that survive to the old generation wait longer.
    Process-wide, so the entry point calls it (``tryggbo daemon``), not the class.
    """
    gc.set_threshold(*GC_THRESHOLDS)


@dataclass(frozen=True)
class ControllerConfig:
    #: one broker, or the nodes of a clustered one (the link fails over between them)
    broker: Brokers
    site: Site
    #: the site's credentials; the controller keeps what it uses of them (KeptCredentials)
    credentials: SiteCredentials | KeptCredentials | None
    db_url: str
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    command_timeout_s: float = 10.0
    stale_factor: float = 2.5
    stale_check_s: float = 1.0
    #: MQTT client id, one per controller instance: the username of its login in the
    #: credentials (the broker binds the two); None: the site's controller login.
    client_id: str | None = None
    #: A browser session unused this long is signed out.
    session_idle_s: float = 12 * 3600.0
    #: Retention (``tryggbo serve`` passes the settings); None keeps everything.
    retention: RetentionPolicy | None = None
    retention_hour: int = 3
    #: The Home Assistant bridge (controller.ha_bridge.HaBridgeConfig), None: off.
    ha_bridge: object | None = None
    #: Per-device message budget (controller/device_reports.py DeviceRateLimit);
    #: a rate of 0 turns the limit off (benchmarks that replay backlogs).
    device_rate_per_s: float = 20.0
    device_burst: float = 100.0
    #: Scale-out: the MQTT shared-subscription group of this site's controllers
    #: (None: the only controller). Each needs its own ``client_id``.
    shared_group: str | None = None
    #: The scheduler leader lease (controller/leader.py).
    lease_ttl_s: float = 6.0
    lease_renew_s: float = 2.0
    #: HTTPS for the web server (controller/web_tls.py); None: plain HTTP (the demo).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: The web server's timeouts, socket caps and trusted proxies (api/edges.py).
    edges: EdgeLimits = field(default_factory=EdgeLimits)
    #: Uploaded firmware images (controller/api/routes_firmware.py); None: the default.
    firmware_dir: Path | None = None


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
        self.events = EventWriter(self.store, self.clock)
        creds = config.credentials
        if isinstance(creds, SiteCredentials):
            # of the devices' secrets the daemon keeps only those it uses, compactly:
            # the signed types' keys and the screens' logins (it runs their page's
            # firmware, calls/screen_bridge.py) (issue 18: memory). Its config stays
            # one a controller can be made from again.
            devices = [dev for _apt, dev in config.site.devices()]
            creds = creds.kept(
                signed=(d.id for d in devices if spec_for(d.type).signed),
                logins=(d.id for d in devices if d.type is DeviceType.SCREEN),
            )
            self.config = config = replace(config, credentials=creds)
        keys: Mapping[str, bytes] = creds.keys if creds is not None else {}
        self.reports: DeviceReports
        self.link = MqttLink(
            config.broker,
            self.topics,
            creds.controller_login(config.client_id) if creds else None,
            self._on_message,
            identifier=config.client_id,
            shared_group=config.shared_group,
        )
        self.commands = CommandBus(
            link=self.link,
            topics=self.topics,
            twins=self.twins,
            keys=keys,
            store=self.store,
            bus=self.bus,
            clock=self.clock,
            unlock_reasons=self.site.site.unlock_reasons,
            timeout_s=config.command_timeout_s,
            message_end=partial(message_end, self.site.zone, self.site.site.night_window),
        )
        self.reports = DeviceReports(
            site=self.site.slug,
            twins=self.twins,
            commands=self.commands,
            bus=self.bus,
            clock=self.clock,
            store_event=self.events.put,
            rate_limit=DeviceRateLimit(config.device_rate_per_s, config.device_burst),
        )
        #: the site leader: fires schedules, escalates alarms
        self.lease = LeaderLease(
            self.store,
            self.clock,
            self.link.identifier,
            ttl_s=config.lease_ttl_s,
            renew_s=config.lease_renew_s,
        )
        self.alarms = AlarmService(
            store=self.store,
            bus=self.bus,
            twins=self.twins,
            site=self.site,
            clock=self.clock,
            connected=self.link.connected.is_set,
            confirm=self._confirm_help,
            escalates=self.lease.leading.is_set,
        )
        self.schedules = ScheduleEngine(
            self.store,
            self.commands,
            self.site,
            self.clock,
            bus=self.bus,
            commands_seen=self.bus.subscribe(CommandResolved, queue_size=10_000),
            fallback=FallbackPublisher(self.link, self.site, self.clock),
        )
        self.metrics = Metrics(self.bus)
        #: other instances' alarm changes on this bus (PostgreSQL only: live_relay.py)
        self.relay = live_relay_of(self.store, self.bus)
        self._confirmations: set[asyncio.Task[None]] = set()
        self.metrics.attach(self)
        #: the room screens' kiosk pages and the relatives' video calls
        self.screens = ScreenBridge(self.site, creds, config.broker, self.bus, self.clock)
        self.screens.display_name = self._display_name
        calls_store: CallStore = self.store  # type: ignore[assignment]
        self.invitations = Invitations(calls_store, self.clock)
        #: throttled refusals (invitation links): one activity row per address and window
        self.throttled = RefusalTally(self.auth.note, self.clock, LINK_POLICY.ip_window)
        self.calls = CallService(
            self.site, calls_store, self.commands, self.bus, self.screens, self.clock
        )
        if self.relay is not None:  # another instance's call may show on a screen first
            self.calls.remote_grace_s = REMOTE_CALL_GRACE_S
        self.edges = Edges(config.edges)
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

    def _on_message(self, message: aiomqtt.Message, receipt: Receipt) -> None:
        self.reports(message, receipt)

    def _confirm_help(self, device: str, press_id: str, alarm: dict[str, Any]) -> None:
        """Tell a screen its help press is stored (it repeats the press until then)."""
        confirmed = HelpConfirmed(
            press_id=press_id,
            alarm_id=alarm.get("id"),
            alarm_state=alarm.get("state"),
            ts=self.clock.now(),
        )
        topic = self.topics.device(device, Channel.CONFIRM)
        task = asyncio.get_running_loop().create_task(self._publish_quietly(topic, confirmed))
        self._confirmations.add(task)
        task.add_done_callback(self._confirmations.discard)

    async def _publish_quietly(self, topic: str, payload: BaseModel) -> None:
        try:
            await self.link.publish(topic, encode(payload))
        except NotConnected as exc:  # the screen repeats its press: confirmed then
            log.warning("could not confirm on %s: %s", topic, exc)

    @property
    def http_url(self) -> str:
        scheme = "https" if self.config.tls_cert else "http"
        return f"{scheme}://{self.config.http_host}:{self.http_port}"

    async def run(self) -> None:
        """Run until cancelled."""
        from .api import build_app  # the API imports the daemon's types

        tls = tls_context(self.config.tls_cert, self.config.tls_key)
        await self.store.open()
        settled = await self.commands.settle_crashed()
        if settled:
            log.warning(
                "%d commands were in flight when the last process stopped: "
                "recorded as outcome unknown",
                settled,
            )
        runner = self.edges.runner(build_app(self))
        await runner.setup()
        self.edges.accept_errors.install(asyncio.get_running_loop())
        try:
            site = GuardedSite(
                runner, self.config.http_host, self.config.http_port, self.edges, ssl_context=tls
            )
            await site.start()
            self.http_port = site.port
            log.info("HTTP API on %s", self.http_url)
            async with asyncio.TaskGroup() as tasks:
                # first: it subscribes to the bus before the link delivers anything
                tasks.create_task(self.alarms.run(), name="alarms")
                tasks.create_task(self.link.run(), name="mqtt-link")
                self._start_ops_tasks(tasks)  # retention, Home Assistant bridge
                tasks.create_task(self.events.run(), name="event-writer")
                tasks.create_task(self._watch_stale(), name="stale-watch")
                tasks.create_task(self.metrics.run(), name="metrics")
                tasks.create_task(self.screens.run(), name="screens")
                tasks.create_task(self.calls.run(), name="calls")
                tasks.create_task(self.throttled.run(), name="throttled-refusals")
                tasks.create_task(self.lease.run(), name="leader-lease")
                tasks.create_task(while_leading(self.lease, self._lead), name="schedules")
                if self.relay is not None:
                    tasks.create_task(self.relay.run(), name="live-relay")
                self.ready.set()
        finally:
            self.ready.clear()
            self.edges.accept_errors.uninstall()
            with contextlib.suppress(Exception):
                await asyncio.shield(self._shutdown(runner))

    def _start_ops_tasks(self, tasks: asyncio.TaskGroup) -> None:
        """Nightly retention and the Home Assistant bridge, when configured."""
        config = self.config
        if config.retention is not None and not config.retention.keeps_everything:
            tasks.create_task(
                run_daily(
                    config.db_url,
                    config.retention,
                    self.clock,
                    self.site.zone,
                    config.retention_hour,
                ),
                name="retention",
            )
        if config.ha_bridge is not None:
            from .ha_bridge import HaBridge, HaBridgeConfig

            assert isinstance(config.ha_bridge, HaBridgeConfig)
            tasks.create_task(HaBridge(self, config.ha_bridge).run(), name="ha-bridge")

    async def _shutdown(self, runner: web.AppRunner) -> None:
        await self.screens.stop_all()
        with contextlib.suppress(TimeoutError):
            await self.events.flush(timeout=5)
        await runner.cleanup()
        await self.throttled.flush()  # the open windows' rows, with their counts
        await self.store.close()

    async def _lead(self) -> None:
        """What only the site's leader does: fire schedules, publish device fallbacks,
        and pick up schedules other instances changed in the shared store."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.schedules.run(), name="schedule-engine")
            tasks.create_task(self._sync_schedules(), name="schedule-sync")

    async def _sync_schedules(self) -> None:
        while True:
            try:
                await self.schedules.reload()  # a failing store: one line per round
            except Exception:  # anything else is a bug; the next round tries again
                log.exception("cannot reload schedules")
            await asyncio.sleep(self.config.lease_renew_s)  # a polling period, not a sync

    async def _watch_stale(self) -> None:
        while True:
            await asyncio.sleep(self.config.stale_check_s)
            self.reports.check_stale()


def live_relay_of(store: Store, bus: EventBus) -> LiveRelay | None:
    """The relay of other instances' alarm changes, for a store they can share."""
    if not isinstance(store, SqlStore) or store.live_channel is None:
        return None
    return LiveRelay(
        dsn=store.pg_dsn(),
        channel=store.live_channel,
        instance_id=store.instance_id,
        read_alarm=store.get_alarm,
        bus=bus,
    )
