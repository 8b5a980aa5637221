"""The aiohttp application: middlewares for JSON errors and auth, and the routes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from .auth import Principal, authenticate
from .errors import ApiError, error_response

if TYPE_CHECKING:
    from ..daemon import Controller

log = logging.getLogger(__name__)

CONTROLLER = web.AppKey("controller", object)
PRINCIPAL = web.RequestKey("principal", Principal)
PUBLIC_PATHS = frozenset({"/api/health"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def controller_of(request: web.Request) -> Controller:
    return request.app[CONTROLLER]  # type: ignore[return-value]


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error is JSON; an unexpected exception is logged and answered 500."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error; see the daemon log")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path not in PUBLIC_PATHS:
        request[PRINCIPAL] = await authenticate(request, controller_of(request).store)
    return await handler(request)


def build_app(controller: Controller) -> web.Application:
    """The API application for one running controller."""
    from . import routes_devices, routes_events, websocket

    app = web.Application(
        middlewares=[errors_middleware, auth_middleware], client_max_size=64 * 1024
    )
    app[CONTROLLER] = controller
    routes_devices.register(app)
    routes_events.register(app)
    websocket.register(app)
    return app
