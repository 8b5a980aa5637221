"""Health, devices with their twins, and commands."""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import web
from pydantic import Field

from ..command_bus import CommandError, Outcome
from ..device_labels import describe_all
from ..store import StoreError
from .access import principal_of, public, require_command, requires
from .bodies import read_body
from .errors import ApiError
from .keys import COMMANDS, TWINS
from .privacy import command_for, twin_for
from .queries import Query, read_query
from .responses import json_response
from .schemas import CommandRequest

#: HTTP status per outcome: the body always says which outcome it was.
OUTCOME_STATUS = {
    Outcome.OK: HTTPStatus.OK,
    Outcome.REJECTED: HTTPStatus.CONFLICT,
    Outcome.FAILED: HTTPStatus.CONFLICT,
    Outcome.OFFLINE: HTTPStatus.GATEWAY_TIMEOUT,
    Outcome.TIMEOUT: HTTPStatus.GATEWAY_TIMEOUT,
    Outcome.UNKNOWN: HTTPStatus.GATEWAY_TIMEOUT,
    Outcome.REFUSED: HTTPStatus.FORBIDDEN,
}


class DevicesQuery(Query):
    """``GET /api/devices?type=``: only devices of this type (none: all)."""

    type: str | None = Field(default=None, max_length=32)


@public
async def health(request: web.Request) -> web.Response:
    """``GET /api/health`` (also ``/health`` for load balancers and probes): what is
    wrong, if anything (no auth); see controller/ops/health.py."""
    from .routes_ops import health_response

    return await health_response(request)


@requires("admin", "staff", "technician")
async def list_devices(request: web.Request) -> web.Response:
    registry = request.app[TWINS]
    kind = read_query(request, DevicesQuery).type
    principal = principal_of(request)
    shown = [
        twin_for(principal, t.to_dict())
        for t in registry.all()
        if kind is None or t.type.value == kind
    ]
    return json_response({"devices": shown})


@requires("admin", "staff", "technician")
async def device_types(request: web.Request) -> web.Response:
    """``GET /api/device-types``: every registered device type (its module in
    devices/contract/types/): actions with their args' JSON schema and flags, events,
    the fields and controls the dashboard draws, alarms, Home Assistant entities and
    the labels in Swedish and English."""
    return json_response({"types": describe_all()})


@requires("admin", "staff", "technician")
async def get_device(request: web.Request) -> web.Response:
    twins = request.app[TWINS]
    twin = twins.get(request.match_info["device"])
    if twin is None:
        raise ApiError(404, "unknown_device", f"no device {request.match_info['device']!r}")
    apartment = twins.apartment(twin.id)
    body = twin_for(principal_of(request), twin.to_dict())
    if apartment is not None:
        body["resident"] = apartment.resident
        body["floor"] = apartment.floor
        body["wing"] = apartment.wing
    return json_response(body)


@requires("admin", "staff", "technician")
async def send_command(request: web.Request) -> web.Response:
    """``POST /api/devices/{device}/commands``: waits for the outcome (bounded).

    Admin: any action anywhere; technician: maintenance actions anywhere; staff: any
    action on devices of their units' apartments (:func:`may_command`)."""
    twins = request.app[TWINS]
    commands = request.app[COMMANDS]
    device = request.match_info["device"]
    if device not in twins:
        raise ApiError(404, "unknown_device", f"no device {device!r}")
    body = await read_body(request, CommandRequest)
    principal = require_command(request, device, body.action)
    try:
        result = await commands.send(
            device,
            body.action,
            body.args,
            actor=principal.actor,
            reason=body.reason,
            timeout_s=body.timeout_s,
        )
    except CommandError as exc:
        raise ApiError(400, exc.reason, str(exc)) from None
    except StoreError as exc:
        raise ApiError(
            503, "store_unavailable", f"command refused: its audit record cannot be written ({exc})"
        ) from None
    # a technician's ping of a screen does not show the screen's message (privacy.py)
    body_out = command_for(principal, result.to_dict()) or {}
    return json_response(body_out, status=OUTCOME_STATUS[result.outcome])


def register(app: web.Application) -> None:
    app.router.add_get("/api/health", health)
    app.router.add_get("/health", health)
    app.router.add_get("/api/devices", list_devices)
    app.router.add_get("/api/device-types", device_types)
    app.router.add_get("/api/devices/{device}", get_device)
    app.router.add_post("/api/devices/{device}/commands", send_command)
