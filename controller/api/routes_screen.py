"""``GET /api/screen/ws``: the room screen's kiosk page (``/ui/screen.html``).

The page opens the socket and sends ``{"type": "hello", "token": <screen API token>}``
(a user with role ``screen`` bound to one apartment; revoking the token or disabling
the user cuts the page off at its next action). While a page is open the daemon runs
the screen's firmware for it (:mod:`controller.calls.screen_bridge`).

Page -> daemon: ``help {press}``, ``accept {call_id}``, ``decline {call_id}``,
``hangup {call_id}``, ``signal {call_id, data}``, ``curtain {action: open|close}``,
``touch``. Daemon -> page: ``welcome``, ``state``, ``plan``, ``help_confirmed``,
``help_status``, ``call_start``, ``signal``, ``ended``, ``curtain``, ``error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from aiohttp import web

from config.site import Apartment
from devices.contract import DeviceType
from scheduler.model import parse_hhmm
from scheduler.timing import wall_to_instant

from ..auth.principal import Principal, Role
from ..auth.service import AuthFailed
from ..calls.socket import PageSocket
from ..command_bus import CommandError
from ..store import StoreError
from .access import public
from .keys import AUTH, CALLS, CLOCK, COMMANDS, SCHEDULES, SCREENS, SITE, STORE

log = logging.getLogger(__name__)

#: A page's credential is checked again this often (and before every action).
RECHECK_S = 15.0


def _apartment_of(request: web.Request, principal: Principal) -> Apartment | None:
    site = request.app[SITE]
    if len(principal.apartments) != 1:
        return None
    number = next(iter(principal.apartments))
    return next((a for a in site.apartments if a.number == number), None)


async def plan_of(
    request: web.Request, apartment: Apartment, now: datetime
) -> list[dict[str, Any]]:
    """Today's plan (site-local date): staff-entered entries (untimed ones first, ``at``
    None) and the scheduled firings for the apartment's devices."""
    site = request.app[SITE]
    store = request.app[STORE]
    schedules = request.app[SCHEDULES]
    zone = site.zone
    today = now.astimezone(zone).date()
    items: list[dict[str, Any]] = []
    untimed: list[dict[str, Any]] = []
    try:
        entries = await store.plan_entries(apartment.number, today)
    except StoreError as exc:  # the routines still show; the page asks again later
        log.warning("plan entries of %s not read: %s", apartment.number, exc)
        entries = []
    for entry in entries:
        if entry.at is None:
            untimed.append({"at": None, "what": entry.text, "action": None})
        else:
            wall = datetime.combine(today, parse_hhmm(entry.at))
            at = wall_to_instant(wall, zone)[0].astimezone(zone)
            items.append({"at": at.isoformat(), "what": entry.text, "action": None})
    for loaded in schedules.all():
        if not loaded.record.enabled or loaded.schedule is None:
            continue
        for group in schedules.upcoming(loaded, now, count=4):
            if group["apartment"] != apartment.number:
                continue
            for firing in group["firings"]:
                at = datetime.fromisoformat(firing["at"]).astimezone(zone)
                if at.date() == today:
                    items.append(
                        {
                            "at": at.isoformat(),
                            "what": loaded.record.name,
                            "action": loaded.schedule.action,
                        }
                    )
    unique = {(i["at"], i["what"]): i for i in items}
    return untimed + sorted(unique.values(), key=lambda i: i["at"])


@public  # the socket authenticates itself: the first message carries the screen token
async def screen_socket(request: web.Request) -> web.WebSocketResponse:
    auth = request.app[AUTH]
    screens = request.app[SCREENS]
    clock = request.app[CLOCK]
    site = request.app[SITE]
    sock = PageSocket()
    token = await sock.open(request)
    if token is None:
        return sock.ws
    try:
        principal = await auth.token_principal(token)
    except AuthFailed as exc:
        await sock.refuse(exc.code, exc.message)
        return sock.ws
    apartment = _apartment_of(request, principal)
    device = screens.screen_of(apartment) if apartment else None
    if not principal.has_role(Role.SCREEN) or apartment is None or device is None:
        await auth.note(
            principal.actor,
            "refused",
            subject="screen socket",
            reason="not a screen credential of one apartment with a screen",
            outcome="forbidden",
        )
        await sock.refuse("forbidden", "a screen credential bound to one apartment is needed")
        return sock.ws
    try:
        screens.attach(device, sock.send)
    except LookupError as exc:
        await sock.refuse("unavailable", str(exc))
        return sock.ws
    try:
        now = clock.now()
        info = site.site
        sock.send(
            {
                "type": "welcome",
                "apartment": apartment.number,
                "resident": apartment.resident,
                "device": device,
                "timezone": info.timezone,
                "night_window": info.night_window,
                "ice_servers": info.ice_servers,
                "now": now.isoformat(),
            }
        )
        sock.send(screens.state_message(device))
        sock.send({"type": "plan", "items": await plan_of(request, apartment, now)})
        help_status = screens.help_message(device)
        if help_status:
            sock.send({"type": "help_status", **help_status})
        watcher = asyncio.create_task(_recheck(request, sock, token))
        try:
            async for data in sock.messages():
                await _handle(request, sock, token, apartment, device, data)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    finally:
        screens.detach(device, sock.send)
        await sock.close()
    return sock.ws


async def _recheck(request: web.Request, sock: PageSocket, token: str) -> None:
    """Cut the page off within :data:`RECHECK_S` of its token being revoked."""
    auth = request.app[AUTH]
    while True:
        await asyncio.sleep(RECHECK_S)
        try:
            await auth.token_principal(token)
        except AuthFailed as exc:
            await sock.refuse(exc.code, exc.message)
            return


async def _handle(
    request: web.Request,
    sock: PageSocket,
    token: str,
    apartment: Apartment,
    device_id: str,
    data: dict[str, Any],
) -> None:
    calls = request.app[CALLS]
    auth = request.app[AUTH]
    screens = request.app[SCREENS]
    clock = request.app[CLOCK]
    kind = data["type"]
    if kind == "signal":  # many small messages during call set-up: relayed, not re-authorised
        calls.relay_from_screen(str(data.get("call_id")), device_id, data.get("data"))
        return
    try:
        principal = await auth.token_principal(token)  # revocation checked per action
    except AuthFailed as exc:
        await sock.refuse(exc.code, exc.message)
        return
    device = screens.device(device_id)
    if device is None:
        return
    if kind == "help":
        press = str(data.get("press") or "")[:64]
        if not press:
            sock.send({"type": "error", "code": "bad_message", "message": "help needs press"})
            return
        screens.press_help(device_id, press)
    elif kind == "accept":
        call = calls.screen_call(device_id)  # this instance's or another's (its owner)
        if call is None or call.id != data.get("call_id") or call.state != "ringing":
            # over, or never the daemon's (a ring whose ack was lost): the page clears it
            sock.send({"type": "ended", "call_id": data.get("call_id"), "by": "gone"})
        else:
            device.accept_call()
    elif kind == "decline":
        device.decline_call()
    elif kind == "hangup":
        await calls.hangup_screen(device_id)  # only this screen's own call
    elif kind == "touch":
        device.touch()
    elif kind == "curtain":
        sock.send(await _curtain(request, principal, apartment, str(data.get("action"))))
    elif kind == "plan":
        items = await plan_of(request, apartment, clock.now())
        sock.send({"type": "plan", "items": items})
    else:
        sock.send({"type": "error", "code": "bad_message", "message": f"unknown type {kind!r}"})


async def _curtain(
    request: web.Request, principal: Principal, apartment: Apartment, action: str
) -> dict[str, Any]:
    """Open or close the apartment's curtains for the resident (audited as the screen)."""
    commands = request.app[COMMANDS]
    if action not in ("open", "close"):
        return {"type": "error", "code": "bad_message", "message": "curtain action open|close"}
    curtains = [d.id for d in apartment.devices if d.type is DeviceType.CURTAIN]
    outcomes: dict[str, str] = {}

    async def one(device: str) -> None:
        try:
            result = await commands.send(
                device, action, actor=principal.actor, reason="resident on the room screen"
            )
            outcomes[device] = result.outcome.value
        except CommandError as exc:
            outcomes[device] = exc.reason

    async with asyncio.TaskGroup() as tasks:
        for device in curtains:
            tasks.create_task(one(device))
    ok = bool(outcomes) and all(v == "ok" for v in outcomes.values())
    return {"type": "curtain", "action": action, "ok": ok, "outcomes": outcomes}


def register(app: web.Application) -> None:
    app.router.add_get("/api/screen/ws", screen_socket)
