"""Recent events and the audit log."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web
from pydantic import Field

from .access import principal_of, requires
from .errors import ApiError
from .keys import EVENTS, SITE, STORE
from .privacy import PRIVATE_READERS, event_for
from .queries import Limit, Query, RowId, SiteTime, read_query
from .responses import json_response


class EventsQuery(Query):
    """``GET /api/events``: newest first."""

    limit: Limit = 100
    #: older than this event (paging back)
    before_id: RowId | None = None
    device: str | None = Field(default=None, max_length=64)


class SetAsideQuery(Query):
    """``GET /api/events/set-aside``."""

    limit: Limit = 100


class AuditQuery(Query):
    """``GET /api/audit``: commands, newest first."""

    limit: Limit = 100
    device: str | None = Field(default=None, max_length=64)
    command_id: str | None = Field(default=None, max_length=64)
    actor: str | None = Field(default=None, max_length=128)
    apartment: str | None = Field(default=None, max_length=8)
    since: SiteTime | None = None
    until: SiteTime | None = None


def apartment_devices(request: web.Request, number: str | None) -> list[str] | None:
    """The device ids of apartment ``number`` (None: no filter); 400 if unknown."""
    if number is None:
        return None
    site = request.app[SITE]
    apartment = next((a for a in site.apartments if a.number == number), None)
    if apartment is None:
        raise ApiError(
            400,
            "bad_query",
            f"no apartment {number!r} on this site",
            [{"field": "apartment", "problem": "no such apartment on this site"}],
        )
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
    query = read_query(request, EventsQuery)
    events = await store.recent_events(
        limit=query.limit, device=query.device, before_id=query.before_id
    )
    principal = principal_of(request)
    shown = [e for e in (event_for(principal, _jsonable(r)) for r in events) if e is not None]
    return json_response({"events": shown})


@requires("admin")
async def set_aside_events(request: web.Request) -> web.Response:
    """``GET /api/events/set-aside?limit=``: events the store refused (a value the
    database cannot hold), each with the reason; the rest were written past them."""
    store = request.app[STORE]
    events = request.app[EVENTS]
    rows = await store.set_aside_events(limit=read_query(request, SetAsideQuery).limit)
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
    query = read_query(request, AuditQuery)
    rows = await store.audit(
        limit=query.limit,
        device=query.device,
        command_id=query.command_id,
        actor=query.actor,
        devices=apartment_devices(request, query.apartment),
        since=query.since,
        until=query.until,
    )
    return json_response({"audit": [_jsonable(r) for r in rows]})


def register(app: web.Application) -> None:
    app.router.add_get("/api/events", recent_events)
    app.router.add_get("/api/events/set-aside", set_aside_events)
    app.router.add_get("/api/audit", audit_log)
