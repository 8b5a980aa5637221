"""The aiohttp application: middlewares for JSON errors and auth, and the routes.

When the daemon stops, every open WebSocket (dashboards, room screens, relatives) is
closed first, ``going away`` (the pages reconnect), rather than waited for until
aiohttp's shutdown timeout: Ctrl-C of ``tryggbo demo`` with a page open took 32 s.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

from aiohttp import WSCloseCode, web

from ..logs import request_ids
from ..store.repository import StoreError
from .auth import PRINCIPAL as PRINCIPAL  # re-exported: handlers import it from here
from .auth import guard
from .edges import EDGES, client_address, edges_middleware, user_sockets
from .errors import ApiError, error_response
from .keys import (
    ALARMS,
    AUTH,
    BUS,
    CALLS,
    CLOCK,
    COMMANDS,
    EVENTS,
    FIRMWARE_DIR,
    HEALTH,
    INVITATIONS,
    METRICS,
    SCHEDULES,
    SCREENS,
    SITE,
    STORE,
    THROTTLED,
    TWINS,
    HealthCheck,
)
from .roles import declared

if TYPE_CHECKING:
    from ..daemon import Controller

log = logging.getLogger(__name__)

#: The open WebSockets, closed when the daemon stops (:func:`keep_socket`).
OPEN_SOCKETS = web.AppKey("open_sockets", weakref.WeakSet[web.WebSocketResponse])
PUBLIC_PATHS = frozenset({"/api/health", "/health", "/"})
#: The web pages' static files hold no data and no secrets: served without sign-in.
PUBLIC_PREFIXES = ("/ui/",)

#: Sent with every response: the pages load nothing from elsewhere, run no inline
#: script, and cannot be framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error is JSON; a store that cannot do its part is 503 ``store_unavailable``
    (nothing was changed); an unexpected exception is logged and answered 500."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except StoreError as exc:
        log.error("store unavailable on %s %s: %s", request.method, request.path, exc)
        return error_response(503, "store_unavailable", f"not done, the store failed: {exc}")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error; see the daemon log")


def is_public(path: str) -> bool:
    """Paths anyone may fetch: health, the redirect to the UI, the UI's static files."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every response, errors and redirects included."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # a raised redirect is a response too
        for name, value in SECURITY_HEADERS.items():
            exc.headers.setdefault(name, value)
        raise
    if not response.prepared:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sign-in, CSRF and the route's declared roles (see :mod:`.auth`, :mod:`.roles`)."""
    if is_public(request.path) and declared(request.match_info.handler) is None:
        return await handler(request)  # static pages; a declared route is always checked
    return await guard(request, handler, request.app[AUTH])


def keep_socket(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Every WebSocket handler calls this once the socket is prepared."""
    request.app[OPEN_SOCKETS].add(ws)


async def _close_sockets(app: web.Application) -> None:
    sockets = app[OPEN_SOCKETS]
    for ws in list(sockets):
        with contextlib.suppress(Exception):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")


def build_app(controller: Controller) -> web.Application:
    """The API application for one running controller: each service the routes use
    under its own key (:mod:`.keys`); the routes never see the daemon itself."""
    from ..ops.health import StoreProbe, report
    from . import (
        routes_activity,
        routes_alarms,
        routes_auth,
        routes_calls,
        routes_devices,
        routes_events,
        routes_firmware,
        routes_night_flow,
        routes_ops,
        routes_plan,
        routes_reports,
        routes_schedules,
        routes_screen,
        routes_ui,
        routes_users,
        websocket,
    )

    app = web.Application(
        middlewares=[
            client_address,  # first: everything after sees the client behind a proxy
            request_ids,
            headers_middleware,
            errors_middleware,
            edges_middleware,
            auth_middleware,
            user_sockets,  # inside the guard: the caller is known
        ],
        client_max_size=64 * 1024,
    )
    app[SITE] = controller.site
    app[CLOCK] = controller.clock
    app[STORE] = controller.store
    app[TWINS] = controller.twins
    app[COMMANDS] = controller.commands
    app[ALARMS] = controller.alarms
    app[AUTH] = controller.auth
    app[SCHEDULES] = controller.schedules
    app[BUS] = controller.bus
    app[CALLS] = controller.calls
    app[INVITATIONS] = controller.invitations
    app[THROTTLED] = controller.throttled
    app[SCREENS] = controller.screens
    app[METRICS] = controller.metrics
    app[EVENTS] = controller.events
    app[FIRMWARE_DIR] = routes_firmware.images_dir(controller.config)
    health: HealthCheck = partial(report, controller, StoreProbe())
    app[HEALTH] = health
    app[EDGES] = controller.edges
    app[OPEN_SOCKETS] = weakref.WeakSet()
    app.on_shutdown.append(_close_sockets)
    routes_devices.register(app)
    routes_events.register(app)
    routes_alarms.register(app)
    routes_night_flow.register(app)
    websocket.register(app)
    routes_ui.register(app)
    routes_auth.register(app)
    routes_users.register(app)
    routes_activity.register(app)
    routes_schedules.register(app)
    routes_ops.register(app)
    routes_plan.register(app)
    routes_screen.register(app)
    routes_calls.register(app)
    routes_firmware.register(app)
    routes_reports.register(app)
    return app
