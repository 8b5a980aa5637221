"""Relatives' video link: invitations and visiting hours (staff), and the relative's
own page (``/ui/call.html#t=<link token>``).

Staff: ``POST/GET /api/calls/invitations``, ``POST /api/calls/invitations/{id}/revoke``,
``GET/PUT /api/calls/visiting-hours/{apartment}``, ``GET /api/calls/active``.

Relative: ``GET /api/calls/invitation`` with header ``X-Invitation: <link token>`` and
the socket ``GET /api/calls/ws`` (first message ``{"type": "hello", "token": ...}``).
The link token is accepted by these two routes only: it is no API token, so every
other route answers 401 to it. Each request re-reads the invitation (revocation is
immediate).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import segno
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..auth.principal import Role
from ..calls.invitations import InvitationRefused
from ..calls.signalling import Call, CallRefused, RemoteCall
from ..calls.socket import PageSocket
from ..calls.visiting import VisitingHoursError
from ..store.calls_sql import InvitationRecord
from .access import principal_of, public, require_apartment, requires
from .bodies import read_body
from .errors import ApiError
from .keys import AUTH, CALLS, CLOCK, INVITATIONS, SITE, THROTTLED
from .queries import Query, read_query
from .responses import json_response

STAFF = (Role.ADMIN.value, Role.STAFF.value)
INVITATION_HEADER = "X-Invitation"


class InvitationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    apartment: str = Field(min_length=1, max_length=8)
    relative: str = Field(min_length=1, max_length=64)
    valid_days: float = Field(default=30, gt=0, le=90)


class HoursBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: None: back to the site file's hours
    windows: list[str] | None = Field(max_length=14)


class InvitationsQuery(Query):
    """``GET /api/calls/invitations?apartment=``: one apartment's (none: all the caller's)."""

    apartment: str | None = Field(default=None, max_length=8)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def invitation_json(record: InvitationRecord, now: datetime) -> dict[str, Any]:
    status = (
        "revoked" if record.revoked_at else ("expired" if now >= record.expires_at else "valid")
    )
    return {
        "id": record.id,
        "apartment": record.apartment,
        "resident": record.resident,
        "relative": record.relative,
        "created_by": record.created_by,
        "created_at": _iso(record.created_at),
        "expires_at": _iso(record.expires_at),
        "revoked_at": _iso(record.revoked_at),
        "revoked_by": record.revoked_by,
        "status": status,
    }


def _apartment(request: web.Request, number: str) -> Any:
    apartment = request.app[CALLS].apartment(number)
    if apartment is None:
        raise ApiError(404, "unknown_apartment", f"no apartment {number!r}")
    return apartment


@requires(*STAFF)
async def create_invitation(request: web.Request) -> web.Response:
    invitations = request.app[INVITATIONS]
    site = request.app[SITE]
    auth = request.app[AUTH]
    clock = request.app[CLOCK]
    body = await read_body(request, InvitationBody)
    apartment = _apartment(request, body.apartment)
    principal = require_apartment(request, apartment.number)
    token, record = await invitations.create(
        apartment=apartment.number,
        resident=apartment.resident,
        relative=body.relative,
        by=principal.actor,
        valid_days=body.valid_days,
    )
    base = site.site.public_url or f"{request.scheme}://{request.host}"
    link = f"{base.rstrip('/')}/ui/call.html#t={token}"
    qr = segno.make(link, error="m").svg_data_uri(scale=4, dark="#000", light="#fff")
    await auth.note(
        principal.actor,
        "invitation_created",
        subject=f"invitation {record.id}",
        apartment=apartment.number,
        details={"relative": body.relative, "expires_at": _iso(record.expires_at)},
    )
    return json_response(
        {**invitation_json(record, clock.now()), "link": link, "qr_data_uri": qr}, status=201
    )


@requires(*STAFF)
async def list_invitations(request: web.Request) -> web.Response:
    invitations = request.app[INVITATIONS]
    clock = request.app[CLOCK]
    calls = request.app[CALLS]
    number = read_query(request, InvitationsQuery).apartment
    if number is not None:
        require_apartment(request, _apartment(request, number).number)
    principal = principal_of(request)
    records = await invitations.store.list_invitations(number)
    now = clock.now()
    visible = [
        r
        for r in records
        if (a := calls.apartment(r.apartment)) is not None
        and (principal.has_role(Role.ADMIN) or principal.may_act_on(a))
    ]
    return json_response({"invitations": [invitation_json(r, now) for r in visible]})


@requires(*STAFF)
async def revoke_invitation(request: web.Request) -> web.Response:
    invitations = request.app[INVITATIONS]
    clock = request.app[CLOCK]
    calls = request.app[CALLS]
    auth = request.app[AUTH]
    invitation_id = request.match_info["invitation"]
    record = await invitations.store.get_invitation(invitation_id)
    if record is None:
        raise ApiError(404, "unknown_invitation", f"no invitation {invitation_id!r}")
    principal = require_apartment(request, record.apartment)
    revoked = await invitations.store.revoke_invitation(
        invitation_id, by=principal.actor, at=clock.now()
    )
    assert revoked is not None
    for call in [c for c in calls.calls.values() if c.invitation == invitation_id]:
        await calls.hangup(call.id, "revoked")
    for sock in list(calls.sockets.pop(invitation_id, ())):
        await sock.refuse("invitation_revoked", "this link has been withdrawn by staff")
    await auth.note(
        principal.actor,
        "invitation_revoked",
        subject=f"invitation {invitation_id}",
        apartment=record.apartment,
    )
    return json_response(invitation_json(revoked, clock.now()))


@requires(*STAFF)
async def get_hours(request: web.Request) -> web.Response:
    calls = request.app[CALLS]
    apartment = _apartment(request, request.match_info["apartment"])
    return json_response({"apartment": apartment.number, **await calls.visiting(apartment)})


@requires(*STAFF)
async def put_hours(request: web.Request) -> web.Response:
    calls = request.app[CALLS]
    auth = request.app[AUTH]
    apartment = _apartment(request, request.match_info["apartment"])
    principal = require_apartment(request, apartment.number)
    body = await read_body(request, HoursBody)
    try:
        await calls.set_windows(apartment, body.windows, principal.actor)
    except VisitingHoursError as exc:
        raise ApiError(400, "bad_visiting_hours", str(exc)) from None
    await auth.note(
        principal.actor,
        "visiting_hours_set",
        subject=f"apartment {apartment.number}",
        apartment=apartment.number,
        details={"windows": body.windows},
    )
    return json_response({"apartment": apartment.number, **await calls.visiting(apartment)})


@requires(Role.ADMIN.value, Role.STAFF.value)
async def active_calls(request: web.Request) -> web.Response:
    """Calls going on now, this instance's and other instances' (their last state
    heard): admin and staff (a technician sees no calls, privacy.py)."""
    calls = request.app[CALLS]
    going_on: list[Call | RemoteCall] = [*calls.calls.values(), *calls.remote.values()]
    return json_response(
        {
            "calls": [
                {"id": c.id, "apartment": c.apartment, "device": c.device, "state": c.state}
                for c in going_on
            ]
        }
    )


# ---------------------------------------------------------------------- the relative


async def _check(request: web.Request, token: str) -> InvitationRecord:
    invitations = request.app[INVITATIONS]
    throttled = request.app[THROTTLED]
    auth = request.app[AUTH]
    address, subject = request.remote or "", f"{request.method} {request.path}"
    try:
        return await invitations.check(token, address)
    except InvitationRefused as exc:
        if exc.code == "throttled":  # one row per address and window, with the count
            await throttled.count(subject, address, exc.message)
            raise
        await auth.note(
            "anonymous",
            "refused",
            subject=subject,
            reason=exc.message,
            outcome=exc.code,
            details={"address": address},
        )
        raise


async def _welcome(request: web.Request, record: InvitationRecord) -> dict[str, Any]:
    calls = request.app[CALLS]
    site = request.app[SITE]
    apartment = calls.apartment(record.apartment)
    assert apartment is not None
    return {
        "resident": record.resident,
        "relative": record.relative,
        "expires_at": _iso(record.expires_at),
        "timezone": site.site.timezone,
        "visiting": await calls.visiting(apartment),
        "ice_servers": site.site.ice_servers,
    }


@public  # authenticated by the invitation link token in X-Invitation, checked here
async def invitation_info(request: web.Request) -> web.Response:
    token = request.headers.get(INVITATION_HEADER, "")
    try:
        record = await _check(request, token)
    except InvitationRefused as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    return json_response(await _welcome(request, record))


@public  # the socket authenticates itself: the first message carries the link token
async def relative_socket(request: web.Request) -> web.WebSocketResponse:
    calls = request.app[CALLS]
    sock = PageSocket()
    token = await sock.open(request)
    if token is None:
        return sock.ws
    try:
        record = await _check(request, token)
    except InvitationRefused as exc:
        await sock.refuse(exc.code, exc.message)
        return sock.ws
    sock.send({"type": "welcome", **await _welcome(request, record)})
    call: Call | None = None
    calls.sockets.setdefault(record.id, set()).add(sock)
    try:
        async for data in sock.messages():
            kind = data["type"]
            if kind == "signal":
                if call is not None:
                    calls.relay(call.id, "relative", data.get("data"))
                continue
            try:
                record = await _check(request, token)  # revocation checked per action
            except InvitationRefused as exc:
                await sock.refuse(exc.code, exc.message)
                break
            if kind == "call":
                if call is not None and call.state != "ended":
                    sock.send({"type": "error", "code": "busy", "message": "already calling"})
                    continue
                try:
                    call = await calls.start(record, sock.send)
                except CallRefused as exc:
                    sock.send(exc.to_message())
                    continue
                sock.send({"type": "ringing", "call_id": call.id})
            elif kind == "hangup" and call is not None:
                await calls.hangup(call.id, "relative")
            else:
                sock.send({"type": "error", "code": "bad_message", "message": f"unknown {kind!r}"})
    finally:
        calls.sockets.get(record.id, set()).discard(sock)
        if call is not None:
            await calls.hangup(call.id, "relative_left")
        await sock.close()
    return sock.ws


def register(app: web.Application) -> None:
    app.router.add_post("/api/calls/invitations", create_invitation)
    app.router.add_get("/api/calls/invitations", list_invitations)
    app.router.add_post("/api/calls/invitations/{invitation}/revoke", revoke_invitation)
    app.router.add_get("/api/calls/visiting-hours/{apartment}", get_hours)
    app.router.add_put("/api/calls/visiting-hours/{apartment}", put_hours)
    app.router.add_get("/api/calls/active", active_calls)
    app.router.add_get("/api/calls/invitation", invitation_info)
    app.router.add_get("/api/calls/ws", relative_socket)
