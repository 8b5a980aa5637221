"""A resident's day plan: staff-entered entries ("Sjukgymnast 10.00") beside the
apartment's scheduled routines. The room screen shows today's (:mod:`.routes_screen`).

Admin and staff read and change the plans of the apartments they may act on
(:func:`require_apartment`); every change is in the activity log. A store failure is
the errors middleware's 503 ``store_unavailable``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from scheduler.model import parse_hhmm

from ..store.plan_sql import PlanEntryRecord
from .access import require_apartment, requires
from .bodies import read_body
from .errors import ApiError
from .keys import AUTH, CLOCK, SITE, STORE
from .queries import Query, read_query
from .responses import json_response

WHO = ("admin", "staff")


class PlanEntryBody(BaseModel):
    """``POST /api/apartments/{apartment}/plan``: ``day`` defaults to today (site time);
    ``at`` is "HH:MM" or absent ("during the day")."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=120)
    at: str | None = None
    day: date | None = None


class PlanQuery(Query):
    """``GET /api/apartments/{apartment}/plan?day=YYYY-MM-DD`` (none: today)."""

    day: date | None = None


def entry_json(entry: PlanEntryRecord) -> dict[str, Any]:
    return {
        "id": entry.id,
        "apartment": entry.apartment,
        "day": entry.day.isoformat(),
        "at": entry.at,
        "text": entry.text,
        "created_by": entry.created_by,
        "created_at": entry.created_at.isoformat(),
    }


def _apartment_number(request: web.Request) -> str:
    number = request.match_info["apartment"]
    if not any(a.number == number for a in request.app[SITE].apartments):
        raise ApiError(404, "unknown_apartment", f"no apartment {number!r}")
    return number


def _today(request: web.Request) -> date:
    clock = request.app[CLOCK]
    site = request.app[SITE]
    return clock.now().astimezone(site.zone).date()


@requires(*WHO)
async def get_plan(request: web.Request) -> web.Response:
    """``GET /api/apartments/{apartment}/plan?day=YYYY-MM-DD`` (default today)."""
    number = _apartment_number(request)
    require_apartment(request, number)
    day = read_query(request, PlanQuery).day or _today(request)
    entries = await request.app[STORE].plan_entries(number, day)
    return json_response({"day": day.isoformat(), "entries": [entry_json(e) for e in entries]})


@requires(*WHO)
async def add_entry(request: web.Request) -> web.Response:
    """``POST /api/apartments/{apartment}/plan`` → 201 with the entry."""
    number = _apartment_number(request)
    principal = require_apartment(request, number)
    body = await read_body(request, PlanEntryBody)
    at = None
    if body.at:
        try:
            at = parse_hhmm(body.at).strftime("%H:%M")
        except ValueError as exc:
            raise ApiError(400, "bad_body", str(exc), [{"field": "at"}]) from None
    day = body.day or _today(request)
    if day < _today(request):
        raise ApiError(400, "bad_body", "the day has passed", [{"field": "day"}])
    clock = request.app[CLOCK]
    store = request.app[STORE]
    auth = request.app[AUTH]
    entry = PlanEntryRecord(
        apartment=number,
        day=day,
        at=at,
        text=body.text.strip(),
        created_by=principal.actor,
        created_at=clock.now(),
    )
    entry = await store.add_plan_entry(entry)
    await auth.note(
        principal.actor,
        "plan_entry_added",
        subject=f"plan entry {entry.id}",
        apartment=number,
        details={"day": day.isoformat(), "at": at, "text": entry.text},
    )
    return json_response(entry_json(entry), status=201)


@requires(*WHO)
async def delete_entry(request: web.Request) -> web.Response:
    """``DELETE /api/apartments/{apartment}/plan/{entry}`` → ``{"deleted": id}``."""
    number = _apartment_number(request)
    principal = require_apartment(request, number)
    store = request.app[STORE]
    auth = request.app[AUTH]
    try:
        entry_id = int(request.match_info["entry"])
    except ValueError:
        raise ApiError(404, "unknown_entry", "no such plan entry") from None
    deleted = await store.delete_plan_entry(entry_id, number)
    if deleted is None:
        raise ApiError(404, "unknown_entry", f"no plan entry {entry_id} in {number}")
    await auth.note(
        principal.actor,
        "plan_entry_deleted",
        subject=f"plan entry {entry_id}",
        apartment=number,
        details={"day": deleted.day.isoformat(), "at": deleted.at, "text": deleted.text},
    )
    return json_response({"deleted": entry_id})


def register(app: web.Application) -> None:
    app.router.add_get("/api/apartments/{apartment}/plan", get_plan)
    app.router.add_post("/api/apartments/{apartment}/plan", add_entry)
    app.router.add_delete("/api/apartments/{apartment}/plan/{entry}", delete_entry)
