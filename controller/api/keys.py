"""The services the routes reach, one typed ``web.AppKey`` each.

:func:`controller.api.app.build_app` sets every key from the running daemon; a route
reads only the keys it needs (``request.app[STORE]``), never the daemon as a whole
(``tests/unit/test_api_keys.py`` checks). A test can build an app of a few services.

The types are imported for the type checker only: several of the services' modules
import the API's helpers (``controller.calls.socket`` uses :func:`keep_socket`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from config.site import Site
    from devices.clock import Clock
    from scheduler.engine import ScheduleEngine

    from ..alarms import AlarmService
    from ..auth import Authenticator
    from ..calls.invitations import Invitations
    from ..calls.screen_bridge import ScreenBridge
    from ..calls.signalling import CallService
    from ..command_bus import CommandBus
    from ..event_bus import EventBus
    from ..event_writer import EventWriter
    from ..ops.metrics import Metrics
    from ..refusal_tally import RefusalTally
    from ..store import Store
    from ..twins import TwinRegistry

#: ``(http status, body)`` of the daemon's health check (:mod:`controller.ops.health`).
HealthCheck = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]

#: The home: apartments, devices, zone, unlock reasons, public URL.
SITE: web.AppKey[Site] = web.AppKey("site")
#: The one clock (tests inject theirs).
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
#: Users, sessions, audit, activity, alarms, plans: the store.
STORE: web.AppKey[Store] = web.AppKey("store")
#: The devices' twins and which apartment each is in.
TWINS: web.AppKey[TwinRegistry] = web.AppKey("twins")
#: Sending a command to a device (audited, waited for).
COMMANDS: web.AppKey[CommandBus] = web.AppKey("commands")
#: Alarms: read, take, on site, close.
ALARMS: web.AppKey[AlarmService] = web.AppKey("alarms")
#: Sign-in, sessions, API tokens and the activity log's ``note``.
AUTH: web.AppKey[Authenticator] = web.AppKey("auth")
#: The schedule engine.
SCHEDULES: web.AppKey[ScheduleEngine] = web.AppKey("schedules")
#: The in-process bus (the live WebSocket subscribes to it).
BUS: web.AppKey[EventBus] = web.AppKey("bus")
#: The relatives' video calls and visiting hours.
CALLS: web.AppKey[CallService] = web.AppKey("calls")
#: The relatives' invitation links.
INVITATIONS: web.AppKey[Invitations] = web.AppKey("invitations")
#: Throttled refusals of invitation links, one activity row per address and window.
THROTTLED: web.AppKey[RefusalTally] = web.AppKey("throttled")
#: The room screens' kiosk pages.
SCREENS: web.AppKey[ScreenBridge] = web.AppKey("screens")
#: Prometheus metrics.
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
#: The event writer (how many events the store refused and set aside).
EVENTS: web.AppKey[EventWriter] = web.AppKey("events")
#: Where uploaded firmware images are kept.
FIRMWARE_DIR: web.AppKey[Path] = web.AppKey("firmware_dir")
#: The daemon's health check.
HEALTH: web.AppKey[HealthCheck] = web.AppKey("health")
