"""A loopback HTTP control panel for a running simulated home (technicians, demos).

``tryggbo simulate --control 127.0.0.1:8765`` serves:

- ``GET  /devices``                       every device: type, online, state, faults
- ``PATCH /devices/{id}/faults``          JSON subset of :class:`Faults` (validated)
- ``POST /devices/{id}/{knob}``           a resident or hardware action: one of the
  type's ``knobs`` (its module in ``devices/contract/types/``), e.g. ``open_door``,
  ``press_help``, ``get_up``; every type has ``go_offline``, ``come_online`` and
  ``reboot``; a knob taking a value (``move_by_hand``) needs ``{"value": N}``.

Bad input gets a JSON 400/404 and changes nothing.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from .base import SimulatedDevice
from .home import SimulatedHome

HOME = web.AppKey("home", SimulatedHome)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _describe(device: SimulatedDevice) -> dict[str, Any]:
    return {
        "id": device.device_id,
        "type": device.device_type.value,
        "online": device.online,
        "state": device.state.model_dump(mode="json", by_alias=True),
        "faults": device.faults.model_dump(),
    }


def _device(request: web.Request) -> SimulatedDevice | None:
    return request.app[HOME].devices.get(request.match_info["device"])


async def list_devices(request: web.Request) -> web.Response:
    return web.json_response(
        {"devices": [_describe(d) for d in request.app[HOME].devices.values()]}
    )


async def set_faults(request: web.Request) -> web.Response:
    device = _device(request)
    if device is None:
        return _error(404, f"no device {request.match_info['device']!r}")
    try:
        changes = await request.json()
        if not isinstance(changes, dict):
            raise ValueError("body must be a JSON object")
        updated = device.faults.model_validate({**device.faults.model_dump(), **changes})
    except (json.JSONDecodeError, ValueError, ValidationError) as exc:
        return _error(400, f"bad faults: {exc}")
    for name in changes:
        setattr(device.faults, name, getattr(updated, name))
    return web.json_response(_describe(device))


async def turn_knob(request: web.Request) -> web.Response:
    device = _device(request)
    knob = request.match_info["knob"]
    if device is None:
        return _error(404, f"no device {request.match_info['device']!r}")
    # the knobs a technician may turn are the type's (devices/contract/types/); no other
    takes_value = device.spec.knobs.get(knob)
    if takes_value is None:
        return _error(400, f"a {device.device_type.value} has no knob {knob!r}")
    method = getattr(device, knob)
    args: list[Any] = []
    if takes_value:
        try:
            body = await request.json()
            args = [int(body["value"])]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            return _error(400, f'{knob} needs a body {{"value": <integer>}}')
    try:
        result = method(*args)
        if inspect.isawaitable(result):
            await result
    except (ValueError, TimeoutError) as exc:
        return _error(400, f"{knob} failed: {exc}")
    return web.json_response(_describe(device))


def build_control_app(home: SimulatedHome) -> web.Application:
    app = web.Application(client_max_size=16 * 1024)
    app[HOME] = home
    app.router.add_get("/devices", list_devices)
    app.router.add_patch("/devices/{device}/faults", set_faults)
    app.router.add_post("/devices/{device}/{knob}", turn_knob)
    return app


async def serve_control(home: SimulatedHome, host: str, port: int) -> web.AppRunner:
    """Start the control panel; the caller cleans the runner up."""
    runner = web.AppRunner(build_control_app(home), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
