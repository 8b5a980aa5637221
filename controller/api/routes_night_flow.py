"""The night flow's steps beside take / on site / close (routes_alarms.py): unlock
from an alarm (with an automatic relock), what becomes of an unlocked door before its
alarm is closed, and a comment added after the alarm was taken in one tap.

- ``POST /api/alarms/{id}/unlock`` unlocks the alarm's apartment door with the alarm's
  suggested reason (or the one given); with ``relock_minutes`` the controller locks it
  again that many minutes later: a one-off schedule (scheduler/commands.py) owned by
  the caller, stored, so it survives a restart, and audited as every command is.
- ``POST /api/alarms/{id}/door`` records the decision "Lås dörren?": ``lock`` now,
  ``relock`` in N minutes, or ``leave_unlocked`` with a reason.
- ``POST /api/alarms/{id}/comment`` sets the taken alarm's comment (``ack_comment``).
- Closing an alarm whose door is unlocked is refused (409 ``door_unlocked``) until
  one of these was decided for it (:func:`require_door_decided`).

Each is audited: the commands in the audit, the decision in the activity log
(``alarm_door``, ``alarm_relock``, ``alarm_comment``) and in the alarm's ``details.door`` /
``details.relock``.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from scheduler.commands import remote_command
from scheduler.model import ScheduleError

from ..alarms.model import DEVICE_KINDS, AlarmState
from ..alarms.who_may import alarm_json_for, may_handle
from ..auth.principal import Principal
from ..command_bus import CommandError, CommandResult, Outcome
from ..store import ActivityRecord, StoreError
from ..store.alarm_records import AlarmConflict, AlarmNotFound, AlarmRecord
from .access import principal_of, require_command, require_roles, requires
from .bodies import read_body
from .errors import ApiError
from .keys import ALARMS, CLOCK, COMMANDS, SCHEDULES, SITE, TWINS
from .responses import json_response
from .routes_devices import OUTCOME_STATUS

log = logging.getLogger(__name__)

ACTORS = ("admin", "staff")
#: The longest automatic relock a nurse can choose.
RELOCK_MAX_MINUTES = 240
#: Lock states that count as "the door is not locked".
NOT_LOCKED = frozenset({"unlocked", "unlocking"})


class UnlockFromAlarm(BaseModel):
    """``POST /api/alarms/{id}/unlock``."""

    model_config = ConfigDict(extra="forbid")
    #: one of the site's unlock reasons (default: the alarm's suggested reason)
    reason: str | None = Field(default=None, min_length=1, max_length=200)
    relock_minutes: int | None = Field(default=None, ge=1, le=RELOCK_MAX_MINUTES)


class DoorDecision(BaseModel):
    """``POST /api/alarms/{id}/door``: "Lås dörren?"."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["lock", "relock", "leave_unlocked"]
    reason: str | None = Field(default=None, max_length=200)
    minutes: int | None = Field(default=None, ge=1, le=RELOCK_MAX_MINUTES)

    @model_validator(mode="after")
    def _complete(self) -> DoorDecision:
        if self.action == "leave_unlocked" and not (self.reason or "").strip():
            raise ValueError("leaving the door unlocked needs a reason")
        if self.action == "relock" and self.minutes is None:
            raise ValueError("a relock needs minutes")
        if self.action != "relock" and self.minutes is not None:
            raise ValueError("minutes go with relock only")
        return self


class CommentRequest(BaseModel):
    """``POST /api/alarms/{id}/comment``."""

    model_config = ConfigDict(extra="forbid")
    comment: str = Field(min_length=1, max_length=500)


def _alarm_id(request: web.Request) -> int:
    try:
        return int(request.match_info["alarm"])
    except ValueError:
        raise ApiError(404, "unknown_alarm", "no such alarm") from None


async def _active_alarm(request: web.Request) -> AlarmRecord:
    alarm = await request.app[ALARMS].get(_alarm_id(request))
    if alarm is None:
        raise ApiError(404, "unknown_alarm", f"no alarm {request.match_info['alarm']}")
    if not alarm.active:
        raise ApiError(
            409,
            "alarm_state",
            f"alarm {alarm.id} is {alarm.state}",
            {"alarm": alarm_json_for(principal_of(request), alarm, request.app[SITE])},
        )
    return alarm


def door_of(request: web.Request, alarm: AlarmRecord) -> str:
    """The lock of the alarm's apartment; 409 ``no_lock`` if it has none."""
    site = request.app[SITE]
    apartment = next((a for a in site.apartments if a.number == alarm.apartment), None)
    lock = next((d.id for d in apartment.devices if d.type == "lock"), None) if apartment else None
    if lock is None:
        raise ApiError(409, "no_lock", f"alarm {alarm.id} has no apartment door to lock")
    return lock


def door_unlocked(request: web.Request, device: str) -> bool:
    """Whether the lock last reported itself not locked."""
    twin = request.app[TWINS].get(device)
    reported = twin.reported if twin is not None else None
    return getattr(reported, "lock", None) in NOT_LOCKED


def _relock_pending(request: web.Request, relock: object) -> bool:
    """Whether a relock (``details.relock`` or a door decision's) is still to run."""
    if not isinstance(relock, dict):
        return False
    loaded = request.app[SCHEDULES].get(str(relock.get("schedule")))
    return loaded is not None and loaded.next_at is not None


def _door_settled(request: web.Request, alarm: AlarmRecord) -> bool:
    """Whether what was decided still covers an unlocked door: left unlocked with a
    reason, or a relock still to run. A "lock" that was done does not cover a door
    unlocked again since: that is asked again."""
    door = alarm.details.get("door")
    if isinstance(door, dict):
        if door.get("action") == "leave_unlocked":
            return True
        if door.get("action") == "relock" and _relock_pending(request, door.get("relock")):
            return True
    return _relock_pending(request, alarm.details.get("relock"))


async def require_door_decided(request: web.Request, alarm: AlarmRecord) -> None:
    """Before an alarm is closed: if its door is unlocked, a decision about it must be
    recorded (or a relock pending); else 409 ``door_unlocked``."""
    if alarm.apartment is None or alarm.state == AlarmState.CLOSED or alarm.kind in DEVICE_KINDS:
        return  # (a technician closing a battery alarm decides nothing about the door)
    site = request.app[SITE]
    apartment = next((a for a in site.apartments if a.number == alarm.apartment), None)
    if apartment is None or not any(d.type == "lock" for d in apartment.devices):
        return
    device = door_of(request, alarm)
    if not door_unlocked(request, device):
        return
    if _door_settled(request, alarm):
        return
    raise ApiError(
        409,
        "door_unlocked",
        f"the door of {alarm.apartment} is unlocked: lock it, relock it later, "
        "or leave it unlocked with a reason before closing the alarm",
        {"device": device, "apartment": alarm.apartment},
    )


async def _send(
    request: web.Request, device: str, action: str, principal: Principal, reason: str | None
) -> CommandResult:
    try:
        return await request.app[COMMANDS].send(
            device, action, actor=principal.actor, reason=reason
        )
    except CommandError as exc:
        raise ApiError(400, exc.reason, str(exc)) from None
    except StoreError as exc:
        raise ApiError(
            503, "store_unavailable", f"command refused: its audit record cannot be written ({exc})"
        ) from None


async def _schedule_relock(
    request: web.Request, alarm: AlarmRecord, device: str, minutes: int, principal: Principal
) -> dict[str, Any]:
    """A one-off ``lock`` of ``device`` in ``minutes``, owned by the caller."""
    now = request.app[CLOCK].now()
    at = now + timedelta(minutes=minutes)
    try:
        (schedule,) = remote_command(
            id=f"relock-{alarm.id}-{uuid.uuid4().hex[:8]}",
            target=f"device:{device}",
            action="lock",
            at=at,
            owner=principal.actor,
            tz=request.app[SITE].zone,
            # the schedule's name is the relock's audited reason, read by staff: Swedish
            name=f"Lås igen efter larm {alarm.id}",
            # a late relock is better than none (as a remote command's follow-up)
            grace_minutes=24 * 60,
        )
        await request.app[SCHEDULES].create(schedule)
    except ScheduleError as exc:
        raise ApiError(400, "bad_schedule", str(exc)) from None
    return {"schedule": schedule.id, "device": device, "at": at.isoformat(), "minutes": minutes}


async def _note(
    request: web.Request,
    alarm: AlarmRecord,
    principal: Principal,
    action: str,
    details: dict[str, Any],
    reason: str | None,
    comment: str | None = None,
) -> AlarmRecord:
    assert alarm.id is not None
    activity = ActivityRecord(
        ts=request.app[CLOCK].now(),
        actor=principal.actor,
        action=action,
        subject=str(alarm.id),
        apartment=alarm.apartment,
        reason=reason,
        outcome="ok",
        details={"kind": alarm.kind, **(next(iter(details.values())) if details else {})},
    )
    try:
        return await request.app[ALARMS].note(alarm.id, details, activity, comment=comment)
    except AlarmNotFound:
        raise ApiError(404, "unknown_alarm", f"no alarm {alarm.id}") from None
    except AlarmConflict as exc:
        raise ApiError(
            409,
            "alarm_state",
            f"alarm {alarm.id} is {exc.current.state}",
            {"alarm": alarm_json_for(principal_of(request), exc.current, request.app[SITE])},
        ) from None


@requires(*ACTORS)
async def unlock_from_alarm(request: web.Request) -> web.Response:
    """``POST /api/alarms/{id}/unlock``: body ``{"reason"?, "relock_minutes"?}``."""
    require_roles(request, *ACTORS)
    body = await read_body(request, UnlockFromAlarm)
    alarm = await _active_alarm(request)
    device = door_of(request, alarm)
    principal = require_command(request, device, "unlock")
    if body.relock_minutes is not None:
        require_command(request, device, "lock")
    reason = body.reason or alarm.details.get("suggested_reason")
    if not reason:
        raise ApiError(400, "bad_reason", "an unlock needs a reason", [{"field": "reason"}])
    result = await _send(request, device, "unlock", principal, reason)
    relock = None
    relock_error = None
    if result.outcome is Outcome.OK and body.relock_minutes is not None:
        # the door is open now: a relock that cannot be stored is said, not raised (the
        # answer must still tell the nurse the door is unlocked)
        try:
            relock = await _schedule_relock(request, alarm, device, body.relock_minutes, principal)
            alarm = await _note(
                request, alarm, principal, "alarm_relock", {"relock": relock}, reason
            )
        except ApiError as exc:
            relock_error = exc.code
        except StoreError:
            relock_error = "store_unavailable"
        if relock_error is not None:
            log.error(
                "alarm %s: door %s unlocked, relock NOT scheduled: %s",
                alarm.id,
                device,
                relock_error,
            )
    return json_response(
        {
            "command": result.to_dict(),
            "relock": relock,
            "relock_error": relock_error,
            "alarm": alarm_json_for(principal_of(request), alarm, request.app[SITE]),
        },
        status=OUTCOME_STATUS[result.outcome],
    )


@requires(*ACTORS)
async def decide_door(request: web.Request) -> web.Response:
    """``POST /api/alarms/{id}/door``: ``{"action": "lock" | "relock" | "leave_unlocked",
    "minutes"?, "reason"?}``."""
    require_roles(request, *ACTORS)
    body = await read_body(request, DoorDecision)
    alarm = await _active_alarm(request)
    device = door_of(request, alarm)
    principal = require_command(request, device, "lock")
    now = request.app[CLOCK].now()
    decision: dict[str, Any] = {"action": body.action, "by": principal.actor, "at": now.isoformat()}
    command = None
    if body.action == "lock":
        result = await _send(request, device, "lock", principal, f"alarm {alarm.id}")
        command = result.to_dict()
        if result.outcome is not Outcome.OK:
            raise ApiError(
                409,
                "door_not_locked",
                f"the door of {alarm.apartment} did not lock: {result.outcome.value}",
                {"command": command},
            )
    elif body.action == "relock":
        assert body.minutes is not None
        decision["relock"] = await _schedule_relock(request, alarm, device, body.minutes, principal)
    else:
        decision["reason"] = (body.reason or "").strip()
    alarm = await _note(request, alarm, principal, "alarm_door", {"door": decision}, body.reason)
    return json_response(
        {
            "alarm": alarm_json_for(principal_of(request), alarm, request.app[SITE]),
            "command": command,
        }
    )


@requires(*ACTORS)
async def comment_alarm(request: web.Request) -> web.Response:
    """``POST /api/alarms/{id}/comment``: ``{"comment"}`` on a taken alarm (the
    comment is optional when taking it: "Ta larmet" is one tap)."""
    require_roles(request, *ACTORS)
    body = await read_body(request, CommentRequest)
    alarm = await _active_alarm(request)
    principal = _may_handle(request, alarm)
    text = body.comment.strip()
    if not text:
        raise ApiError(400, "bad_body", "the comment is empty", [{"field": "comment"}])
    alarm = await _note(request, alarm, principal, "alarm_comment", {}, text, comment=text)
    return json_response(alarm_json_for(principal_of(request), alarm, request.app[SITE]))


def _may_handle(request: web.Request, alarm: AlarmRecord) -> Principal:
    """The caller, if they may act on this alarm (controller/alarms/who_may.py)."""
    principal = principal_of(request)
    if not may_handle(principal, alarm.kind, alarm.apartment, request.app[SITE]):
        raise ApiError(
            403,
            "forbidden",
            f"you may not act on this {alarm.kind} alarm",
            {"refusal": "alarm", "kind": alarm.kind, "apartment": alarm.apartment},
        )
    return principal


def register(app: web.Application) -> None:
    app.router.add_post("/api/alarms/{alarm}/unlock", unlock_from_alarm)
    app.router.add_post("/api/alarms/{alarm}/door", decide_door)
    app.router.add_post("/api/alarms/{alarm}/comment", comment_alarm)
