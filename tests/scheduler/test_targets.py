"""Targets resolved against a site: scope, action filter, overrides, site checks."""

from __future__ import annotations

from typing import Any

import pytest

from config.site import EXAMPLE_SITE, Site, load_site, parse_site
from devices.contract import DeviceType
from scheduler import (
    DailyRule,
    ScheduleError,
    Target,
    TargetDevice,
    check_against_site,
    command_args,
    parse_schedule,
    plan,
    resolve_target,
)

LOCK, CURTAIN, SCREEN = DeviceType.LOCK, DeviceType.CURTAIN, DeviceType.SCREEN


@pytest.fixture(scope="module")
def site() -> Site:
    return parse_site(
        {
            "site": {"slug": "testhem", "latitude": 55.605, "longitude": 13.0038},
            "apartments": [
                {
                    "number": "101",
                    "floor": 1,
                    "wing": "A",
                    "devices": ["lock", "curtain", "screen"],
                },
                {"number": "102", "floor": 1, "wing": "A", "devices": ["lock", "curtain"]},
                {"number": "201", "floor": 2, "wing": "B", "devices": ["curtain", "screen"]},
                {
                    "number": "202",
                    "floor": 2,
                    "wing": "B",
                    "devices": [{"id": "door-202", "type": "lock"}],
                },
            ],
        }
    )


def sched(target: str, action: str, **extra: Any) -> Any:
    return parse_schedule(
        {
            "id": "s",
            "name": "test schedule",
            "target": target,
            "action": action,
            "owner": "o",
            "rule": {"kind": "daily", "time": "21:00"},
            **extra,
        }
    )


def ids(devices: list[TargetDevice]) -> list[str]:
    return [d.device_id for d in devices]


@pytest.mark.parametrize(
    ("target", "action", "expected"),
    [
        ("wing:A", "close", ["a101-curtain", "a102-curtain"]),
        ("wing:a", "close", ["a101-curtain", "a102-curtain"]),
        ("floor:2", "lock", ["door-202"]),
        ("apartment:101", "ping", ["a101-lock", "a101-curtain", "a101-screen"]),
        ("type:screen", "set_night_mode", ["a101-screen", "a201-screen"]),
        ("site", "unlock", ["a101-lock", "a102-lock", "door-202"]),
        ("device:a101-lock", "open", []),  # a lock cannot open like a curtain
        ("device:a101-lock", "unlock", ["a101-lock"]),
        ("wing:Z", "close", []),
    ],
)
def test_resolve_target(site: Site, target: str, action: str, expected: list[str]) -> None:
    assert ids(resolve_target(Target.model_validate(target), site, action)) == expected


def test_resolved_devices_carry_type_and_apartment(site: Site) -> None:
    devices = resolve_target(Target(kind="floor", value="1"), site, "close")
    assert devices == [("a101-curtain", CURTAIN, "101"), ("a102-curtain", CURTAIN, "102")]
    device_id, device_type, apartment = devices[0]
    assert (device_id, device_type, apartment) == ("a101-curtain", CURTAIN, "101")


def test_plan_applies_overrides(site: Site) -> None:
    s = sched("type:curtain", "close", overrides=[{"apartment": "101", "time": "23:00"}])
    groups = plan(s, site)
    assert [(g.apartment, g.rule, ids(g.devices)) for g in groups] == [
        (None, DailyRule(time="21:00"), ["a102-curtain", "a201-curtain"]),
        ("101", DailyRule(time="23:00"), ["a101-curtain"]),
    ]


def test_check_against_site(site: Site) -> None:
    assert ids(check_against_site(sched("wing:A", "close"), site)) == [
        "a101-curtain",
        "a102-curtain",
    ]
    with pytest.raises(ScheduleError, match="target: wing Z has no devices"):
        check_against_site(sched("wing:Z", "close"), site)
    with pytest.raises(ScheduleError, match=r"action: no device of device a101-lock \(lock\)"):
        check_against_site(sched("device:a101-lock", "open"), site)
    with pytest.raises(ScheduleError, match=r"overrides\[0\].apartment: apartment 201"):
        check_against_site(
            sched("wing:A", "close", overrides=[{"apartment": "201", "time": "23:00"}]), site
        )


def test_command_args(site: Site) -> None:
    s = sched("type:lock", "unlock", args={"relock_after_s": 1800})
    assert command_args(s, LOCK) == {"relock_after_s": 1800}
    msg = sched("type:screen", "show_message", args={"text": "Lunch", "from": "Kitchen"})
    assert command_args(msg, SCREEN) == {"text": "Lunch", "from": "Kitchen"}


def test_example_site_wing_curtains() -> None:
    site = load_site(EXAMPLE_SITE)
    devices = resolve_target(Target(kind="wing", value="A"), site, "close")
    assert devices
    assert all(d.device_type is CURTAIN for d in devices)
    assert {d.apartment for d in devices} == {
        a.number
        for a in site.apartments
        if a.wing == "A" and any(dev.type is CURTAIN for dev in a.devices)
    }
