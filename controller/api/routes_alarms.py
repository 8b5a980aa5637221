"""Alarms: list, read, and the night flow's one-tap actions (take, on site, close).

Admin and staff see every alarm (a nurse should see a colleague's unanswered alarm);
a technician sees device alarms only (offline, battery_low, jammed, unknown_state).
Who may act on which is :mod:`controller.alarms.who_may` (staff in their wings and
site-wide, technicians the technical alarms); each alarm answered carries ``may``, the
actions the caller may take on it now, so the page draws only those buttons.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..alarms.who_may import alarm_json_for, may_handle
from ..auth.principal import Principal
from ..store import ActivityRecord, StoreError
from ..store.alarm_records import AlarmConflict, AlarmNotFound, AlarmRecord
from .access import principal_of, require_roles, requires
from .bodies import read_body
from .errors import ApiError
from .keys import ALARMS, CLOCK, SITE, STORE
from .privacy import alarm_kinds_for, may_see_alarm
from .queries import Limit, Query, RowId, SiteTime, read_query
from .responses import json_response
from .routes_night_flow import require_door_decided

log = logging.getLogger(__name__)

READERS = ("admin", "staff", "technician")


class AckRequest(BaseModel):
    """``POST /api/alarms/{id}/ack``: take the alarm."""

    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(default=None, max_length=500)


class OnSiteRequest(BaseModel):
    """``POST /api/alarms/{id}/on_site``."""

    model_config = ConfigDict(extra="forbid")


class CloseRequest(BaseModel):
    """``POST /api/alarms/{id}/close``: a note is required."""

    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=2000)


BODIES: dict[str, type[BaseModel]] = {
    "ack": AckRequest,
    "on_site": OnSiteRequest,
    "close": CloseRequest,
}


class AlarmsQuery(Query):
    """``GET /api/alarms``: which alarms, newest first."""

    state: Literal["active", "closed", "all"] = "active"
    limit: Limit = 100
    apartment: str | None = Field(default=None, max_length=8)
    #: raised at or after this time
    since: SiteTime | None = None
    #: older than this alarm (paging back)
    before_id: RowId | None = None


def _alarm_id(request: web.Request) -> int:
    try:
        return int(request.match_info["alarm"])
    except ValueError:
        raise ApiError(404, "unknown_alarm", "no such alarm") from None


@requires(*READERS)
async def list_alarms(request: web.Request) -> web.Response:
    """``GET /api/alarms?state=active|closed|all&limit=&apartment=&since=&before_id=``."""
    require_roles(request, *READERS)
    store = request.app[STORE]
    query = read_query(request, AlarmsQuery)
    alarms = await store.alarms(
        limit=query.limit,
        state=None if query.state == "all" else query.state,
        apartment=query.apartment,
        since=query.since,
        kinds=alarm_kinds_for(principal_of(request)),
        before_id=query.before_id,
    )
    principal = principal_of(request)
    return json_response({"alarms": [alarm_for(principal, request.app, a) for a in alarms]})


def alarm_for(principal: Principal, app: web.Application, alarm: AlarmRecord) -> dict[str, Any]:
    """The alarm's JSON with ``may``: the actions ``principal`` may take on it now."""
    return alarm_json_for(principal, alarm, app[SITE])


async def _visible_alarm(request: web.Request) -> AlarmRecord:
    alarm = await request.app[ALARMS].get(_alarm_id(request))
    if alarm is None:
        raise ApiError(404, "unknown_alarm", f"no alarm {request.match_info['alarm']}")
    if not may_see_alarm(principal_of(request), alarm.kind):
        raise ApiError(403, "forbidden", "technicians see device alarms only")
    return alarm


@requires(*READERS)
async def get_alarm(request: web.Request) -> web.Response:
    """``GET /api/alarms/{id}``."""
    require_roles(request, *READERS)
    alarm = await _visible_alarm(request)
    return json_response(alarm_for(principal_of(request), request.app, alarm))


def _action(action: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    @requires(*READERS)
    async def handler(request: web.Request) -> web.Response:
        principal = require_roles(request, *READERS)
        site = request.app[SITE]
        alarms = request.app[ALARMS]
        body = await read_body(request, BODIES[action])
        alarm = await _visible_alarm(request)
        if not may_handle(principal, alarm.kind, alarm.apartment, site):
            raise ApiError(
                403,
                "forbidden",
                f"you may not act on this {alarm.kind} alarm"
                + (f" in apartment {alarm.apartment}" if alarm.apartment else ""),
                {"refusal": "alarm", "kind": alarm.kind, "apartment": alarm.apartment},
            )
        if action == "close":  # "Lås dörren?" first (routes_night_flow.py)
            await require_door_decided(request, alarm)
        text = getattr(body, "comment", None) or getattr(body, "note", None)
        assert alarm.id is not None
        try:
            done = await alarms.act(alarm.id, action, actor=principal.actor, text=text)
        except AlarmNotFound:
            raise ApiError(404, "unknown_alarm", f"no alarm {alarm.id}") from None
        except AlarmConflict as exc:
            await _log_conflict(request, exc.current, action, text)
            raise ApiError(
                409,
                "alarm_state",
                _conflict_message(exc.current, action),
                {"alarm": alarm_for(principal, request.app, exc.current)},
            ) from None
        except StoreError as exc:
            raise ApiError(503, "store_unavailable", f"not recorded: {exc}") from None
        return json_response(alarm_for(principal, request.app, done))

    handler.__name__ = f"alarm_{action}"
    return handler


def _conflict_message(current: AlarmRecord, action: str) -> str:
    if current.state == "closed":
        return f"alarm {current.id} was already closed by {current.closed_by}"
    if current.state == "on_site":
        return f"alarm {current.id}: {current.on_site_by} is already on site"
    if current.state == "acknowledged":
        return f"alarm {current.id} was already taken by {current.acked_by}"
    return f"alarm {current.id} is {current.state}: cannot {action} it"


async def _log_conflict(
    request: web.Request, current: AlarmRecord, action: str, text: str | None
) -> None:
    """Best effort: who tried to act on an alarm someone else had already handled."""
    store = request.app[STORE]
    clock = request.app[CLOCK]
    try:
        await store.add_activity(
            ActivityRecord(
                ts=clock.now(),
                actor=principal_of(request).actor,
                action=f"alarm_{action}",
                subject=str(current.id),
                apartment=current.apartment,
                reason=text,
                outcome="conflict",
                details={"state": current.state},
            )
        )
    except StoreError as exc:
        log.warning("alarm conflict on %s not logged: %s", current.id, exc)


def register(app: web.Application) -> None:
    app.router.add_get("/api/alarms", list_alarms)
    app.router.add_get("/api/alarms/{alarm}", get_alarm)
    for action in BODIES:
        app.router.add_post(f"/api/alarms/{{alarm}}/{action}", _action(action))
