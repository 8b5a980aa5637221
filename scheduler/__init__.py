"""Schedules (issue 4): models, rule timing (DST- and polar-safe), targets.

Pure logic, no I/O and no wall clock: callers pass instants from a
:class:`devices.clock.Clock`. See :mod:`scheduler.timing` for the DST and polar rules.
"""

from .commands import remote_command
from .expand import Place, catch_up, due_between, next_due, upcoming
from .model import (
    CronRule,
    DailyRule,
    OnceRule,
    Override,
    Rule,
    Schedule,
    ScheduleError,
    SunRule,
    Target,
    WeekdaysRule,
    parse_schedule,
)
from .targets import (
    RuleGroup,
    TargetDevice,
    check_against_site,
    command_args,
    plan,
    resolve_target,
)
from .timing import Firing, fires_between, next_fire, sun_event, wall_to_instant

__all__ = [
    "CronRule",
    "DailyRule",
    "Firing",
    "OnceRule",
    "Override",
    "Place",
    "Rule",
    "RuleGroup",
    "Schedule",
    "ScheduleError",
    "SunRule",
    "Target",
    "TargetDevice",
    "WeekdaysRule",
    "catch_up",
    "check_against_site",
    "command_args",
    "due_between",
    "fires_between",
    "next_due",
    "next_fire",
    "parse_schedule",
    "plan",
    "remote_command",
    "resolve_target",
    "sun_event",
    "upcoming",
    "wall_to_instant",
]
