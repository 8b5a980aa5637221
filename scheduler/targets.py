"""Which devices a schedule acts on, against a site, and with which rule each.

A target names a scope (one device, an apartment, a wing, a floor, a device type, the
whole site); the action narrows it to the devices whose type has that action (a
``close`` on wing A goes to wing A's curtains only). Per-apartment overrides split the
devices into groups that share one rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from config.site import Apartment, DeviceEntry, Site
from devices.contract import ContractError, DeviceType, spec_for

from .model import Rule, Schedule, ScheduleError, Target


class TargetDevice(NamedTuple):
    """One device a schedule's action goes to."""

    device_id: str
    device_type: DeviceType
    apartment: str


@dataclass(frozen=True)
class RuleGroup:
    """Devices that fire together: the schedule's rule, or one apartment's override."""

    rule: Rule
    devices: list[TargetDevice] = field(default_factory=list)
    apartment: str | None = None  #: set for an override group


def in_scope(target: Target, apartment: Apartment, device: DeviceEntry) -> bool:
    """Whether ``device`` (in ``apartment``) is inside the target's scope, any type."""
    kind, value = target.kind, target.value
    if kind == "site":
        return True
    if kind == "device":
        return device.id == value
    if kind == "apartment":
        return apartment.number.casefold() == value.casefold()
    if kind == "wing":
        return apartment.wing.casefold() == value.casefold()
    if kind == "floor":
        return apartment.floor == int(value)
    return device.type.value == value  # kind == "type"


def resolve_target(target: Target, site: Site, action: str) -> list[TargetDevice]:
    """The devices in the target's scope whose type has ``action``, in site-file order."""
    return [
        TargetDevice(dev.id, dev.type, apt.number)
        for apt, dev in site.devices()
        if in_scope(target, apt, dev) and action in spec_for(dev.type).actions
    ]


def check_against_site(schedule: Schedule, site: Site) -> list[TargetDevice]:
    """Check the schedule fits ``site``; return its devices or raise :class:`ScheduleError`.

    Errors: a scope with no device at all (unknown device, apartment, wing, floor), no
    device in scope that has the action, args that a targeted type refuses, an override
    for an apartment the schedule does not reach.
    """
    target = schedule.target
    scope = [(a, d) for a, d in site.devices() if in_scope(target, a, d)]
    if not scope:
        raise ScheduleError([("target", f"{target.describe()} has no devices on this site")])
    devices = resolve_target(target, site, schedule.action)
    if not devices:
        types = ", ".join(sorted({d.type.value for _, d in scope}))
        raise ScheduleError(
            [("action", f"no device of {target.describe()} ({types}) has {schedule.action!r}")]
        )
    problems = []
    for device_type in sorted({d.device_type for d in devices}):
        try:
            spec_for(device_type).validate_args(schedule.action, schedule.args)
        except ContractError as exc:
            problems.append(("args", f"for {device_type.value}: {exc.message}"))
    reached = {d.apartment for d in devices}
    for i, ov in enumerate(schedule.overrides):
        if ov.apartment not in reached:
            problems.append(
                (f"overrides[{i}].apartment", f"apartment {ov.apartment} is not targeted")
            )
    if problems:
        raise ScheduleError(problems)
    return devices


def plan(schedule: Schedule, site: Site) -> list[RuleGroup]:
    """The schedule's devices grouped by the rule that applies to them.

    The first group has the schedule's own rule (it may be empty when every targeted
    apartment has an override); then one group per override apartment, in override order.
    """
    devices = resolve_target(schedule.target, site, schedule.action)
    overridden = {ov.apartment for ov in schedule.overrides}
    groups = [RuleGroup(schedule.rule, [d for d in devices if d.apartment not in overridden])]
    for ov in schedule.overrides:
        mine = [d for d in devices if d.apartment == ov.apartment]
        if mine:
            groups.append(RuleGroup(schedule.rule_for(ov.apartment), mine, ov.apartment))
    return groups


def command_args(schedule: Schedule, device_type: DeviceType) -> dict[str, Any]:
    """The schedule's args for one device type, as they go on the wire."""
    return spec_for(device_type).validate_args(schedule.action, schedule.args)
