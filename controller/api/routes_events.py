"""Recent events and the audit log."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .access import principal_of, requires
from .errors import ApiError
from .keys import EVENTS, SITE, STORE
from .privacy import PRIVATE_READERS, event_for
from .responses import json_response


def int_query(request: web.Request, name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "bad_query", f"{name} must be an integer") from None
    if not lo <= value <= hi:
        raise ApiError(400, "bad_query", f"{name} must be between {lo} and {hi}")
    return value


def time_query(request: web.Request, name: str) -> datetime | None:
    """An ISO 8601 time (or date) from the query; without a zone it is site time."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.replace(" ", "+"))
    except ValueError:
        raise ApiError(
            400, "bad_query", f"{name} must be an ISO 8601 time, e.g. 2026-12-01T08:00+01:00"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=request.app[SITE].zone)
    return value.astimezone(UTC)


def apartment_devices(request: web.Request, number: str | None) -> list[str] | None:
    """The device ids of apartment ``number`` (None: no filter); 400 if unknown."""
    if number is None:
        return None
    site = request.app[SITE]
    apartment = next((a for a in site.apartments if a.number == number), None)
    if apartment is None:
        raise ApiError(400, "bad_query", f"no apartment {number!r} on this site")
    return [d.id for d in apartment.devices]


def _jsonable(record: Any) -> dict[str, Any]:
    out = asdict(record)
    for key, value in out.items():
        if hasattr(value, "isoformat"):
            out[key] = value.isoformat()
    return out


@requires("admin", "staff", "technician")
async def recent_events(request: web.Request) -> web.Response:
    store = request.app[STORE]
    limit = int_query(request, "limit", 100, 1, 1000)
    before = int_query(request, "before_id", None, 1, 2**62)
    device = request.query.get("device")
    events = await store.recent_events(limit=limit or 100, device=device, before_id=before)
    principal = principal_of(request)
    shown = [e for e in (event_for(principal, _jsonable(r)) for r in events) if e is not None]
    return json_response({"events": shown})


@requires("admin")
async def set_aside_events(request: web.Request) -> web.Response:
    """``GET /api/events/set-aside?limit=``: events the store refused (a value the
    database cannot hold), each with the reason; the rest were written past them."""
    store = request.app[STORE]
    events = request.app[EVENTS]
    limit = int_query(request, "limit", 100, 1, 1000)
    rows = await store.set_aside_events(limit=limit or 100)
    out = [
        {
            "id": row.id,
            "set_aside_at": row.set_aside_at.isoformat(),
            "reason": row.reason,
            "ts": row.event.ts.isoformat(),
            "device": row.event.device,
            "type": row.event.type,
            "key": row.event.key,
            "details_json": row.event.details.get("raw"),
        }
        for row in rows
    ]
    return json_response({"set_aside": out, "count": events.set_aside})


@requires(*PRIVATE_READERS)
async def audit_log(request: web.Request) -> web.Response:
    """``GET /api/audit?limit=&device=&command_id=&actor=&apartment=&since=&until=``."""
    store = request.app[STORE]
    limit = int_query(request, "limit", 100, 1, 1000)
    rows = await store.audit(
        limit=limit or 100,
        device=request.query.get("device"),
        command_id=request.query.get("command_id"),
        actor=request.query.get("actor"),
        devices=apartment_devices(request, request.query.get("apartment")),
        since=time_query(request, "since"),
        until=time_query(request, "until"),
    )
    return json_response({"audit": [_jsonable(r) for r in rows]})


def register(app: web.Application) -> None:
    app.router.add_get("/api/events", recent_events)
    app.router.add_get("/api/events/set-aside", set_aside_events)
    app.router.add_get("/api/audit", audit_log)
