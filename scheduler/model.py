"""Schedules as validated data: targets, rules, overrides, missed-run policy.

A :class:`Schedule` says *what* (``action`` with ``args`` from the device contract),
*to which devices* (:class:`Target`), *when* (a :data:`Rule`) and *whose* (``owner``).
All times of day are wall-clock times in the site's time zone; see
:mod:`scheduler.timing` for how they become instants (DST, polar days).

Per-apartment overrides replace the rule's time of day for one apartment and keep
its days: a daily or weekdays rule keeps its days with the new time; a sun rule
becomes a fixed daily time for that apartment (no sun, no fallback: the resident asked
for a clock time); a cron rule with one minute and one hour (``30 7 * * 1-5``) gets
that minute and hour. A ``once`` rule or a multi-time cron takes no override.

Missed runs (the controller was down): of the firings in one catch-up window only the
latest counts; it runs if it is on time, or, with ``missed_policy="run_latest"``, if
it is at most ``grace_minutes`` late. ``"skip"`` drops late firings. Nothing runs more
than ``grace_minutes`` late. See :func:`scheduler.expand.catch_up`.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from cronsim import CronSim, CronSimError
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from devices.contract import DEVICE_TYPES, ContractError, DeviceType, check_device, spec_for

_HHMM = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
APARTMENT_PATTERN = r"^[0-9A-Za-z-]{1,8}$"
_APARTMENT = re.compile(APARTMENT_PATTERN)


def parse_hhmm(value: Any) -> Any:
    """A time of day from "HH:MM" (or a ``time``); ``ValueError`` otherwise."""
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    if not isinstance(value, str) or not (m := _HHMM.match(value.strip())):
        raise ValueError(f"time must be HH:MM between 00:00 and 23:59, got {value!r}")
    return time(int(m.group(1)), int(m.group(2)))


TimeOfDay = time  # rule classes have a field named ``time``

#: A wall-clock time of day, written "HH:MM".
LocalTime = Annotated[
    time,
    BeforeValidator(parse_hhmm),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
]


def _parse_weekday(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower()[:3] in WEEKDAY_NAMES:
        return WEEKDAY_NAMES.index(value.strip().lower()[:3])
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    raise ValueError(f"weekday must be mon..sun or 0..6 (0 = Monday), got {value!r}")


#: A weekday, Monday = 0 (as Python and the firmware's fallback entries); "mon".."sun".
Weekday = Annotated[
    int,
    BeforeValidator(_parse_weekday),
    PlainSerializer(lambda d: WEEKDAY_NAMES[d], return_type=str),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScheduleError(ValueError):
    """A schedule that does not validate; ``problems`` is ``[(field path, message)]``."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("schedule is invalid:\n" + "\n".join(f"{p}: {m}" for p, m in problems))

    @classmethod
    def from_validation(cls, exc: ValidationError) -> ScheduleError:
        problems = []
        for err in exc.errors():
            path = ""
            for part in err["loc"]:
                path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
            problems.append((path or "schedule", err["msg"].removeprefix("Value error, ")))
        return cls(problems)


# -- targets -------------------------------------------------------------------------------

TargetKind = Literal["device", "apartment", "wing", "floor", "type", "site"]


class Target(Strict):
    """Which devices a schedule acts on. ``"wing:A"`` is short for kind=wing, value=A."""

    kind: TargetKind
    value: str = ""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            kind, _, value = data.partition(":")
            return {"kind": kind.strip(), "value": value.strip()}
        return data

    @field_validator("value")
    @classmethod
    def _check_value(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        value = value.strip()
        if kind == "site":
            if value not in ("", "*"):
                raise ValueError("a site target takes no value (or '*')")
            return ""
        if not value:
            raise ValueError(f"a {kind} target needs a value")
        if kind == "device":
            try:
                check_device(value)
            except ContractError as exc:
                raise ValueError(exc.message) from None
        elif kind == "apartment" and not _APARTMENT.match(value):
            raise ValueError(f"apartment must match {APARTMENT_PATTERN}, got {value!r}")
        elif kind == "wing" and len(value) > 32:
            raise ValueError("wing is at most 32 characters")
        elif kind == "floor":
            try:
                floor = int(value)
            except ValueError:
                raise ValueError(f"floor must be a whole number, got {value!r}") from None
            if not -5 <= floor <= 99:
                raise ValueError(f"floor must be between -5 and 99, got {floor}")
            return str(floor)
        elif kind == "type":
            try:
                return DeviceType(value).value
            except ValueError:
                known = ", ".join(t.value for t in DeviceType)
                raise ValueError(f"no device type {value!r}; types are {known}") from None
        return value

    def describe(self) -> str:
        return "the whole site" if self.kind == "site" else f"{self.kind} {self.value}"


# -- rules ---------------------------------------------------------------------------------


class OnceRule(Strict):
    """Once, at ``at``: an aware datetime, or a naive one read as site-local wall time."""

    kind: Literal["once"] = "once"
    at: datetime

    def describe(self) -> str:
        zone = f" {self.at.tzname()}" if self.at.tzinfo is not None else ""
        return f"once at {self.at:%Y-%m-%d %H:%M}{zone}"

    def with_time(self, at: TimeOfDay) -> Rule:
        raise ValueError("a once rule takes no per-apartment override; add a second schedule")


class DailyRule(Strict):
    """Every day at ``time``."""

    kind: Literal["daily"] = "daily"
    time: LocalTime

    def describe(self) -> str:
        return f"daily at {self.time:%H:%M}"

    def with_time(self, at: TimeOfDay) -> Rule:
        return DailyRule(time=at)


class WeekdaysRule(Strict):
    """On the chosen weekdays at ``time``."""

    kind: Literal["weekdays"] = "weekdays"
    time: LocalTime
    weekdays: tuple[Weekday, ...]

    @field_validator("weekdays")
    @classmethod
    def _sorted_unique(cls, days: tuple[int, ...]) -> tuple[int, ...]:
        if not days:
            raise ValueError("choose at least one weekday")
        return tuple(sorted(set(days)))

    def describe(self) -> str:
        return f"{', '.join(WEEKDAY_NAMES[d] for d in self.weekdays)} at {self.time:%H:%M}"

    def with_time(self, at: TimeOfDay) -> Rule:
        return WeekdaysRule(time=at, weekdays=self.weekdays)


class CronRule(Strict):
    """A 5-field cron expression (minute hour day-of-month month day-of-week; Sunday = 0)."""

    kind: Literal["cron"] = "cron"
    expr: str

    @field_validator("expr")
    @classmethod
    def _check_expr(cls, expr: str) -> str:
        expr = " ".join(expr.split())
        if len(expr.split(" ")) != 5:
            raise ValueError(
                f"cron expression must have 5 fields (minute hour day month weekday), got {expr!r}"
            )
        try:
            CronSim(expr, datetime(2000, 1, 1))
        except (CronSimError, ValueError, IndexError) as exc:
            raise ValueError(f"bad cron expression {expr!r}: {exc or 'cannot parse'}") from None
        return expr

    def describe(self) -> str:
        return f"cron {self.expr!r}"

    def with_time(self, at: TimeOfDay) -> Rule:
        minute, hour, *rest = self.expr.split(" ")
        if not (minute.isdigit() and hour.isdigit()):
            raise ValueError(
                f"cron {self.expr!r} has more than one time of day; "
                "an override needs one fixed minute and hour"
            )
        return CronRule(expr=" ".join([str(at.minute), str(at.hour), *rest]))


class SunRule(Strict):
    """At sunrise or sunset plus ``offset_minutes``; at ``fallback`` on days without one."""

    kind: Literal["sun"] = "sun"
    event: Literal["sunrise", "sunset"]
    offset_minutes: int = Field(default=0, ge=-360, le=360)
    fallback: LocalTime

    @model_validator(mode="before")
    @classmethod
    def _need_fallback(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("fallback") in (None, ""):
            raise ValueError(
                "fallback is required: a sun rule needs a fallback time HH:MM for days when "
                "the sun does not rise or set (north of the Arctic Circle)"
            )
        return data

    def describe(self) -> str:
        off = f" {self.offset_minutes:+d} min" if self.offset_minutes else ""
        return f"{self.event}{off} (at {self.fallback:%H:%M} on days without a {self.event})"

    def with_time(self, at: TimeOfDay) -> Rule:
        return DailyRule(time=at)


Rule = Annotated[
    OnceRule | DailyRule | WeekdaysRule | CronRule | SunRule, Field(discriminator="kind")
]


# -- schedules -----------------------------------------------------------------------------


class Override(Strict):
    """One apartment's own time of day for this schedule."""

    apartment: Annotated[str, Field(pattern=APARTMENT_PATTERN)]
    time: LocalTime


MissedPolicy = Literal["run_latest", "skip"]


def _types_with(action: str) -> list[DeviceType]:
    return [t for t, spec in DEVICE_TYPES.items() if action in spec.actions]


class Schedule(Strict):
    """A validated schedule. Build with :func:`parse_schedule` for a readable error."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
    name: str = Field(default="", max_length=128)
    target: Target
    action: Annotated[str, Field(pattern=r"^[a-z][a-z_]{0,31}$")]
    args: dict[str, Any] = Field(default_factory=dict)
    rule: Rule
    owner: str = Field(min_length=1, max_length=64)
    enabled: bool = True
    active_from: date | None = None
    active_until: date | None = None
    exceptions: list[date] = Field(default_factory=list, max_length=1000)
    overrides: list[Override] = Field(default_factory=list, max_length=1000)
    missed_policy: MissedPolicy = "run_latest"
    grace_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)

    @field_validator("action")
    @classmethod
    def _known_action(cls, action: str, info: ValidationInfo) -> str:
        target: Target | None = info.data.get("target")
        if target is None:
            return action
        if target.kind == "type":
            try:
                spec_for(target.value).args_model(action)
            except ContractError as exc:
                raise ValueError(exc.message) from None
        elif not _types_with(action):
            known = sorted({a for spec in DEVICE_TYPES.values() for a in spec.actions})
            raise ValueError(f"no device type has action {action!r}; actions: {', '.join(known)}")
        return action

    @field_validator("args")
    @classmethod
    def _valid_args(cls, args: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        target: Target | None = info.data.get("target")
        action: str | None = info.data.get("action")
        if target is None or action is None:
            return args
        types = [DeviceType(target.value)] if target.kind == "type" else _types_with(action)
        problems = []
        for device_type in types:
            try:
                spec_for(device_type).validate_args(action, args)
                return args
            except ContractError as exc:
                problems.append(f"for {device_type.value}: {exc.message}")
        raise ValueError(f"bad args for {action!r}: " + "; ".join(problems))

    @field_validator("active_until")
    @classmethod
    def _range_order(cls, until: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("active_from")
        if until is not None and start is not None and until < start:
            raise ValueError(f"active_until {until} is before active_from {start}")
        return until

    @field_validator("exceptions")
    @classmethod
    def _sorted_exceptions(cls, days: list[date]) -> list[date]:
        return sorted(set(days))

    @field_validator("overrides")
    @classmethod
    def _check_overrides(cls, overrides: list[Override], info: ValidationInfo) -> list[Override]:
        rule: Rule | None = info.data.get("rule")
        target: Target | None = info.data.get("target")
        seen: set[str] = set()
        for ov in overrides:
            if ov.apartment in seen:
                raise ValueError(f"apartment {ov.apartment} has two overrides")
            seen.add(ov.apartment)
            if target is not None and target.kind == "apartment" and ov.apartment != target.value:
                raise ValueError(
                    f"apartment {ov.apartment} is not targeted (target: apartment {target.value})"
                )
            if rule is not None:
                rule.with_time(ov.time)  # raises ValueError when the rule takes none
        return overrides

    def is_exception(self, day: date) -> bool:
        """Whether ``day`` is one of the exception dates (kept sorted, so a bisect)."""
        i = bisect_left(self.exceptions, day)
        return i < len(self.exceptions) and self.exceptions[i] == day

    def rule_for(self, apartment: str | None) -> Rule:
        """The rule that applies to ``apartment`` (its override, else the schedule's rule)."""
        if apartment is not None:
            for ov in self.overrides:
                if ov.apartment == apartment:
                    return self.rule.with_time(ov.time)
        return self.rule

    def device_types(self) -> list[DeviceType]:
        """The device types this schedule's action can go to."""
        if self.target.kind == "type":
            return [DeviceType(self.target.value)]
        return _types_with(self.action)


def parse_schedule(data: Mapping[str, Any] | Schedule) -> Schedule:
    """Validate a schedule; :class:`ScheduleError` names each bad field. An unlock
    schedule needs a name: it is the reason audited with each of its unlocks."""
    if isinstance(data, Schedule):
        return data
    try:
        schedule = Schedule.model_validate(dict(data))
    except ValidationError as exc:
        raise ScheduleError.from_validation(exc) from None
    if schedule.action == "unlock" and not schedule.name.strip():
        raise ScheduleError([("name", "an unlock needs a name: the reason of each unlock")])
    return schedule
