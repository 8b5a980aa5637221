"""Remote one-off commands: "unlock 103 at 14:00, relock after 30 minutes"."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any

from .model import MissedPolicy, Schedule, ScheduleError, Target, parse_schedule
from .timing import wall_to_instant


def remote_command(
    *,
    id: str,
    target: Target | str,
    action: str,
    at: datetime,
    owner: str,
    tz: tzinfo,
    args: Mapping[str, Any] | None = None,
    name: str = "",
    then: tuple[str, Mapping[str, Any] | None] | None = None,
    then_after: timedelta | None = None,
    missed_policy: MissedPolicy = "run_latest",
    grace_minutes: int = 15,
) -> list[Schedule]:
    """A one-off command at ``at`` and, with ``then``, a follow-up ``then_after`` later.

    "Unlock 103 at 14:00, relock after 30 minutes" is
    ``remote_command(target="apartment:103", action="unlock", at=..., then=("lock", None),
    then_after=timedelta(minutes=30), ...)``. The follow-up is pinned to the real instant
    (the main command's instant + ``then_after``, in UTC), so a DST change in between
    does not stretch it. By default the main command may run up to 15 minutes late (an
    unlock hours late is worse than none); the follow-up runs late for up to a day (a
    late relock is better than none).
    """
    when = at if at.tzinfo is not None else wall_to_instant(at, tz)[0]
    main = parse_schedule(
        {
            "id": id,
            "name": name,
            "target": target,
            "action": action,
            "args": dict(args or {}),
            "rule": {"kind": "once", "at": at},
            "owner": owner,
            "missed_policy": missed_policy,
            "grace_minutes": grace_minutes,
        }
    )
    if then is None:
        return [main]
    if then_after is None or then_after <= timedelta(0):
        raise ScheduleError([("then_after", "a follow-up needs a positive delay")])
    follow_action, follow_args = then
    follow = parse_schedule(
        {
            "id": f"{id}-then"[:64],
            "name": f"{name} (follow-up)".strip(),
            "target": target,
            "action": follow_action,
            "args": dict(follow_args or {}),
            "rule": {"kind": "once", "at": when + then_after},
            "owner": owner,
            "missed_policy": "run_latest",
            "grace_minutes": 24 * 60,
        }
    )
    return [main, follow]
