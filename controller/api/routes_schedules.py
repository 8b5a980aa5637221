"""Schedules and remote one-off commands (issue 4).

Admin and staff read every schedule; they create and change schedules whose devices
are all in apartments they may act on (:func:`require_apartment`: admin anywhere,
staff in their units' wings). Every change is written to the activity log. The
engine (:mod:`scheduler.engine`) takes each change into account at once.

A schedule whose owner may no longer command its devices (disabled, a lost role or
wing) is answered with ``suspended`` (why); its firings are refused until an admin
takes it over (``POST /api/schedules/{id}/take-over``) or the owner has the rights again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.json_schema import SkipJsonSchema

from scheduler import (
    Schedule,
    ScheduleError,
    Target,
    parse_schedule,
    remote_command,
    resolve_target,
)
from scheduler.engine import LoadedSchedule
from scheduler.model import parse_hhmm
from scheduler.timing import wall_to_instant

from ..auth.principal import Principal
from ..store import ActivityRecord, StoreError
from .access import require_apartment, require_roles, requires
from .bodies import read_body
from .errors import ApiError
from .keys import CLOCK, SCHEDULES, SITE, STORE, TWINS
from .responses import json_response

WHO = ("admin", "staff")


class ThenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str
    args: dict[str, Any] = Field(default_factory=dict)


class RemoteCommandBody(BaseModel):
    """``POST /api/remote-commands``: one command at ``at``, optionally a follow-up."""

    model_config = ConfigDict(extra="forbid")
    #: ``"apartment:103"`` or ``{"kind": ..., "value": ...}``
    target: str | Target
    action: str
    args: dict[str, Any] = Field(default_factory=dict)
    #: ISO 8601 (without offset: site time) or "HH:MM" (its next occurrence)
    at: str
    then: ThenBody | None = None
    then_after_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    name: str = Field(default="", max_length=128)


def _bad_schedule(exc: ScheduleError) -> ApiError:
    details = [{"field": f, "problem": p} for f, p in exc.problems]
    return ApiError(400, "bad_schedule", "the schedule is not valid: see details", details)


class ScheduleBody(BaseModel):
    """``POST /api/schedules``, ``PUT /api/schedules/{id}``: a schedule
    (:class:`scheduler.model.Schedule`) without ``id`` and ``owner``, which the server
    sets (400 ``bad_body`` if sent); the rest is checked by :func:`parse_schedule`
    (400 ``bad_schedule``, unknown fields too)."""

    model_config = ConfigDict(extra="allow")
    id: SkipJsonSchema[None] = None
    owner: SkipJsonSchema[None] = None

    @field_validator("id", "owner", mode="before")
    @classmethod
    def _set_by_the_server(cls, _value: object, info: ValidationInfo) -> None:
        raise ValueError(f"{info.field_name} is set by the server")

    def definition(self) -> dict[str, Any]:
        """The schedule's fields as sent."""
        return dict(self.model_extra or {})


def _apartment_of(request: web.Request, schedule: Schedule) -> str | None:
    """The one apartment a schedule is about, for the activity log."""
    if schedule.target.kind == "apartment":
        return schedule.target.value
    if schedule.target.kind == "device":
        apartment = request.app[TWINS].apartment(schedule.target.value)
        return apartment.number if apartment else None
    return None


def require_target(request: web.Request, schedule: Schedule) -> Principal:
    """The caller, if admin or staff who may act on every apartment the schedule
    reaches (and, for a wing target, whose units include the wing); else 403."""
    principal = require_roles(request, *WHO)
    target = schedule.target
    if target.kind == "wing" and not principal.has_role("admin"):
        units = getattr(principal, "units", None)
        if units is not None and target.value not in units:
            raise ApiError(
                403,
                "forbidden",
                f"wing {target.value} is not one of your units",
                {"wing": target.value},
            )
    site = request.app[SITE]
    for number in sorted({d.apartment for d in resolve_target(target, site, schedule.action)}):
        require_apartment(request, number)
    return principal


async def _log(
    request: web.Request, principal: Principal, action: str, schedule: Schedule, **details: Any
) -> None:
    store = request.app[STORE]
    clock = request.app[CLOCK]
    await store.add_activity(
        ActivityRecord(
            ts=clock.now(),
            actor=principal.actor,
            action=action,
            subject=schedule.id,
            apartment=_apartment_of(request, schedule),
            reason=schedule.name or None,
            outcome="ok",
            details={"target": schedule.target.model_dump(), "action": schedule.action, **details},
        )
    )


async def schedules_json(request: web.Request, schedules: list[LoadedSchedule]) -> list[Any]:
    """The schedules as answered, each with ``suspended``: why its owner's rights
    refuse its firings now, or null."""
    suspended = await request.app[SCHEDULES].suspensions(schedules)
    return [schedule_json(request, s, suspended.get(s.record.id)) for s in schedules]


async def one_schedule_json(request: web.Request, loaded: LoadedSchedule) -> dict[str, Any]:
    [body] = await schedules_json(request, [loaded])
    return dict(body)


def schedule_json(
    request: web.Request, loaded: LoadedSchedule, suspended: str | None
) -> dict[str, Any]:
    """A schedule with its next firings per rule group (fallback flags and reasons)."""
    engine = request.app[SCHEDULES]
    record, schedule = loaded.record, loaded.schedule
    groups = engine.upcoming(loaded)
    nexts = [g["firings"][0] for g in groups if g["firings"]]
    return {
        **record.definition,
        "id": record.id,
        "name": record.name,
        "owner": record.owner,
        "enabled": record.enabled,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "summary": (
            f"{schedule.action} {schedule.target.describe()}, {schedule.rule.describe()}"
            if schedule
            else None
        ),
        "devices": sum(len(g.devices) for g in loaded.groups),
        "next_firing": min(nexts, key=lambda f: f["at"]) if nexts else None,
        "upcoming": groups,
        "problem": loaded.problem,
        "suspended": suspended,
    }


def _loaded(request: web.Request) -> LoadedSchedule:
    schedule_id = request.match_info["schedule"]
    loaded = request.app[SCHEDULES].get(schedule_id)
    if loaded is None:
        raise ApiError(404, "unknown_schedule", f"no schedule {schedule_id!r}")
    return loaded


@contextmanager
def schedule_errors() -> Iterator[None]:
    """A bad schedule answers 400 ``bad_schedule`` (a store failure is the errors
    middleware's 503)."""
    try:
        yield
    except ScheduleError as exc:
        raise _bad_schedule(exc) from None


@requires(*WHO)
async def list_schedules(request: web.Request) -> web.Response:
    """``GET /api/schedules``: every schedule with its next firings, and the holds."""
    require_roles(request, *WHO)
    engine = request.app[SCHEDULES]
    await engine.start()
    holds = [
        {"device": h.device, "since": h.since.isoformat(), "actor": h.actor, "action": h.action}
        for h in engine.holds.all()
    ]
    body = {"schedules": await schedules_json(request, engine.all()), "holds": holds}
    return json_response(body)


@requires(*WHO)
async def get_schedule(request: web.Request) -> web.Response:
    """``GET /api/schedules/{id}``: one schedule and its last 20 firings."""
    require_roles(request, *WHO)
    engine = request.app[SCHEDULES]
    store = request.app[STORE]
    await engine.start()
    loaded = _loaded(request)
    firings = await store.firings(schedule_id=loaded.record.id, limit=20)
    body = await one_schedule_json(request, loaded)
    body["firings"] = [
        {
            "due_at": f.due_at.isoformat(),
            "fired_at": f.fired_at.isoformat(),
            "outcome": f.outcome,
            "devices": f.details.get("devices", {}),
        }
        for f in firings
    ]
    return json_response(body)


def _parse(data: dict[str, Any], schedule_id: str, owner: str) -> Schedule:
    with schedule_errors():
        return parse_schedule({**data, "id": schedule_id, "owner": owner})


@requires(*WHO)
async def create_schedule(request: web.Request) -> web.Response:
    """``POST /api/schedules``: body a schedule without id and owner → 201."""
    principal = require_roles(request, *WHO)
    engine = request.app[SCHEDULES]
    body = await read_body(request, ScheduleBody)
    schedule = _parse(body.definition(), f"sch-{uuid.uuid4().hex[:12]}", principal.actor)
    require_target(request, schedule)
    with schedule_errors():
        loaded = await engine.create(schedule)
        await _log(request, principal, "schedule_create", schedule, rule=schedule.rule.describe())
    return json_response(await one_schedule_json(request, loaded), status=201)


async def _changeable(request: web.Request) -> tuple[Principal, LoadedSchedule]:
    """The caller and the schedule of the path, if the caller may change it (its
    current target); else 403/404."""
    principal = require_roles(request, *WHO)
    await request.app[SCHEDULES].start()
    current = _loaded(request)
    if current.schedule is not None:
        require_target(request, current.schedule)
    return principal, current


@requires(*WHO)
async def replace_schedule(request: web.Request) -> web.Response:
    """``PUT /api/schedules/{id}``: a new definition (the owner stays)."""
    principal, current = await _changeable(request)
    engine = request.app[SCHEDULES]
    body = await read_body(request, ScheduleBody)
    schedule = _parse(body.definition(), current.record.id, current.record.owner)
    require_target(request, schedule)
    with schedule_errors():
        loaded = await engine.replace(schedule)
        if loaded is None:
            raise ApiError(404, "unknown_schedule", f"no schedule {schedule.id!r}")
        await _log(request, principal, "schedule_update", schedule, rule=schedule.rule.describe())
    return json_response(await one_schedule_json(request, loaded))


def _set_enabled(enabled: bool) -> Any:
    @requires(*WHO)
    async def handler(request: web.Request) -> web.Response:
        principal, current = await _changeable(request)
        engine = request.app[SCHEDULES]
        with schedule_errors():
            loaded = await engine.set_enabled(current.record.id, enabled)
            if loaded is None or loaded.schedule is None:
                raise ApiError(404, "unknown_schedule", f"no schedule {current.record.id!r}")
            action = "schedule_resume" if enabled else "schedule_pause"
            await _log(request, principal, action, loaded.schedule)
        return json_response(await one_schedule_json(request, loaded))

    handler.__name__ = "resume_schedule" if enabled else "pause_schedule"
    return handler


@requires("admin")
async def take_over_schedule(request: web.Request) -> web.Response:
    """``POST /api/schedules/{id}/take-over``: the calling admin becomes the owner (a
    suspended schedule runs again, with the admin's rights)."""
    principal = require_roles(request, "admin")
    engine = request.app[SCHEDULES]
    await engine.start()
    current = _loaded(request)
    with schedule_errors():
        loaded = await engine.take_over(current.record.id, principal.actor)
        if loaded is None or loaded.schedule is None:
            raise ApiError(404, "unknown_schedule", f"no schedule {current.record.id!r}")
        await _log(
            request,
            principal,
            "schedule_take_over",
            loaded.schedule,
            previous_owner=current.record.owner,
        )
    return json_response(await one_schedule_json(request, loaded))


@requires(*WHO)
async def delete_schedule(request: web.Request) -> web.Response:
    """``DELETE /api/schedules/{id}`` → ``{"deleted": id}``."""
    principal, current = await _changeable(request)
    engine = request.app[SCHEDULES]
    with schedule_errors():
        if not await engine.delete(current.record.id):
            raise ApiError(404, "unknown_schedule", f"no schedule {current.record.id!r}")
        if current.schedule is not None:
            await _log(request, principal, "schedule_delete", current.schedule)
    return json_response({"deleted": current.record.id})


def _instant(request: web.Request, text: str) -> datetime:
    """``at`` of a remote command as an aware instant (must be in the future)."""
    clock = request.app[CLOCK]
    site = request.app[SITE]
    now = clock.now()
    zone = site.zone
    try:
        clock_time = parse_hhmm(text)
    except ValueError:
        clock_time = None
    if clock_time is not None:
        local = now.astimezone(zone)
        wall = local.replace(
            hour=clock_time.hour, minute=clock_time.minute, second=0, microsecond=0, tzinfo=None
        )
        when = wall_to_instant(wall, zone)[0]
        if when <= now:
            when = wall_to_instant(wall + timedelta(days=1), zone)[0]
        return when
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ApiError(
            400, "bad_body", "at must be HH:MM or ISO 8601", [{"field": "at", "problem": text}]
        ) from None
    when = parsed if parsed.tzinfo is not None else wall_to_instant(parsed, zone)[0]
    if when <= now:
        raise ApiError(
            400,
            "bad_body",
            "at is not in the future: send the command directly instead",
            [{"field": "at", "problem": "in the past"}],
        )
    return when


@requires(*WHO)
async def create_remote_command(request: web.Request) -> web.Response:
    """``POST /api/remote-commands``: "unlock 103 at 14:00, relock after 30 minutes"."""
    principal = require_roles(request, *WHO)
    site = request.app[SITE]
    engine = request.app[SCHEDULES]
    body = await read_body(request, RemoteCommandBody)
    if (body.then is None) != (body.then_after_minutes is None):
        raise ApiError(400, "bad_body", "then and then_after_minutes go together")
    at = _instant(request, body.at)
    target = body.target if isinstance(body.target, str) else body.target.describe()
    with schedule_errors():
        schedules = remote_command(
            id=f"rc-{uuid.uuid4().hex[:12]}",
            target=body.target,
            action=body.action,
            args=body.args,
            at=at,
            owner=principal.actor,
            tz=site.zone,
            # an unlock's name is its reason: never made up (400 without one)
            name=body.name or ("" if body.action == "unlock" else f"{body.action} {target}"),
            then=(body.then.action, body.then.args) if body.then else None,
            then_after=timedelta(minutes=body.then_after_minutes or 0) if body.then else None,
        )
    for schedule in schedules:
        require_target(request, schedule)
    created = []
    try:
        for schedule in schedules:
            created.append(await engine.create(schedule))
            await _log(request, principal, "remote_command", schedule, at=at.isoformat())
    except (ScheduleError, StoreError):
        with schedule_errors():
            for done in created:  # all or nothing
                await engine.delete(done.record.id)
            raise
    return json_response({"schedules": await schedules_json(request, created)}, status=201)


def register(app: web.Application) -> None:
    app.router.add_get("/api/schedules", list_schedules)
    app.router.add_post("/api/schedules", create_schedule)
    app.router.add_get("/api/schedules/{schedule}", get_schedule)
    app.router.add_put("/api/schedules/{schedule}", replace_schedule)
    app.router.add_delete("/api/schedules/{schedule}", delete_schedule)
    app.router.add_post("/api/schedules/{schedule}/pause", _set_enabled(False))
    app.router.add_post("/api/schedules/{schedule}/resume", _set_enabled(True))
    app.router.add_post("/api/schedules/{schedule}/take-over", take_over_schedule)
    app.router.add_post("/api/remote-commands", create_remote_command)
