"""Alarm rules with fixed instants: the night window in Europe/Stockholm (across
midnight, both DST nights), the recorded night-supervision basis, thresholds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config.site import Site, parse_site
from controller.alarms.model import AlarmKind
from controller.alarms.rules import (
    UNKNOWN_STATE_AFTER,
    from_condition,
    from_event,
    from_fire,
    in_night_window,
    twin_conditions,
)
from controller.bus_messages import DeviceEvent, FireChanged
from controller.twins import TwinRegistry
from devices.contract import Availability, LockState

AT = datetime(2026, 11, 26, 21, 30, tzinfo=UTC)  # 22:30 in Stockholm (CET)


def make_site(night_window: str = "22:00-06:00", **info: Any) -> Site:
    def apt(number: str, supervision: dict[str, str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"number": number, "wing": "A", "resident": f"R{number}"}
        out["devices"] = ["lock", "curtain", "screen"]
        if supervision:
            out["night_supervision"] = supervision
        return out

    return parse_site(
        {
            "site": {"slug": "solgarden", "night_window": night_window, **info},
            "apartments": [
                apt("101", {"basis": "consent", "decided": "2026-01-01", "review": "2027-03-01"}),
                apt("102"),
                apt("103", {"basis": "decision", "decided": "2025-01-01", "review": "2026-06-30"}),
                apt("104", {"basis": "consent", "decided": "2026-12-01", "review": "2027-06-01"}),
            ],
        }
    )


SITE = make_site()


def event(device: str, type_: str, **details: Any) -> DeviceEvent:
    return DeviceEvent(AT, device, type_, details)


def door_opened(device: str = "a101-lock", ts: datetime = AT) -> DeviceEvent:
    return DeviceEvent(ts, device, "door_opened", {})


@pytest.mark.parametrize(
    ("instant", "inside"),
    [
        (datetime(2026, 11, 26, 20, 59, tzinfo=UTC), False),  # 21:59 CET
        (datetime(2026, 11, 26, 21, 0, tzinfo=UTC), True),  # 22:00: start included
        (datetime(2026, 11, 26, 23, 30, tzinfo=UTC), True),  # 00:30 next day
        (datetime(2026, 11, 27, 4, 59, tzinfo=UTC), True),  # 05:59
        (datetime(2026, 11, 27, 5, 0, tzinfo=UTC), False),  # 06:00: end excluded
        (datetime(2026, 11, 27, 11, 0, tzinfo=UTC), False),  # noon
        # spring forward, 29 March 2026: 02:00 CET -> 03:00 CEST
        (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), True),  # 01:30 CET
        (datetime(2026, 3, 29, 3, 30, tzinfo=UTC), True),  # 05:30 CEST
        (datetime(2026, 3, 29, 4, 0, tzinfo=UTC), False),  # 06:00 CEST (05:00 if CET)
        # fall back, 25 October 2026: 03:00 CEST -> 02:00 CET
        (datetime(2026, 10, 24, 19, 59, tzinfo=UTC), False),  # 21:59 CEST
        (datetime(2026, 10, 24, 20, 0, tzinfo=UTC), True),  # 22:00 CEST
        (datetime(2026, 10, 25, 4, 30, tzinfo=UTC), True),  # 05:30 CET (06:30 if CEST)
        (datetime(2026, 10, 25, 5, 0, tzinfo=UTC), False),  # 06:00 CET
    ],
)
def test_night_window_is_local_wall_time_across_midnight_and_dst(
    instant: datetime, inside: bool
) -> None:
    assert in_night_window(instant, SITE) is inside


def test_window_not_crossing_midnight_and_equal_ends() -> None:
    early = make_site("01:00-05:00")
    assert in_night_window(datetime(2026, 11, 27, 1, 0, tzinfo=UTC), early)  # 02:00
    assert not in_night_window(datetime(2026, 11, 26, 23, 30, tzinfo=UTC), early)  # 00:30
    whole_day = make_site("00:00-00:00")
    assert in_night_window(datetime(2026, 11, 27, 11, 0, tzinfo=UTC), whole_day)


def test_night_door_for_a_supervised_apartment_at_night() -> None:
    alarm = from_event(door_opened(), SITE, AT)
    assert alarm is not None
    assert (alarm.kind, alarm.apartment, alarm.device) == (AlarmKind.NIGHT_DOOR, "101", "a101-lock")
    assert alarm.suggested_reason == "emergency"
    assert alarm.details["supervision"]["basis"] == "consent"
    assert alarm.details["review_overdue"] is False


def test_night_door_on_the_dst_night_uses_local_time() -> None:
    assert from_event(door_opened(), SITE, datetime(2026, 3, 29, 3, 30, tzinfo=UTC))
    assert from_event(door_opened(), SITE, datetime(2026, 3, 29, 4, 0, tzinfo=UTC)) is None


def test_no_night_door_by_day_or_without_recorded_basis() -> None:
    noon = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
    assert from_event(door_opened(), SITE, noon) is None
    assert from_event(door_opened("a102-lock"), SITE, AT) is None  # nothing recorded
    assert from_event(door_opened("a104-lock"), SITE, AT) is None  # decided for 1 Dec


def test_overdue_review_still_raises_flagged() -> None:
    alarm = from_event(door_opened("a103-lock"), SITE, AT)
    assert alarm is not None
    assert alarm.details["review_overdue"] is True
    assert alarm.details["supervision"]["review"] == "2026-06-30"
    # the review day itself is not overdue (local date: 22:30 on 30 June)
    on_the_day = datetime(2026, 6, 30, 20, 30, tzinfo=UTC)
    assert from_event(door_opened("a103-lock"), SITE, on_the_day).details["review_overdue"] is False


def test_help_jammed_battery_events() -> None:
    help_ = from_event(event("a102-screen", "help_pressed"), SITE, AT)
    assert help_ is not None
    assert (help_.kind, help_.apartment, help_.suggested_reason) == (
        AlarmKind.HELP,
        "102",
        "emergency",
    )
    jammed = from_event(event("a102-lock", "jammed", target="locked"), SITE, AT)
    assert jammed is not None
    assert (jammed.kind, jammed.suggested_reason) == (AlarmKind.JAMMED, "technician")
    battery = from_event(event("a102-lock", "battery_low", battery=14), SITE, AT)
    assert battery is not None
    assert (battery.kind, battery.details["battery"]) == (AlarmKind.BATTERY_LOW, 14)
    for other in ("door_closed", "touched", "booted"):
        assert from_event(event("a102-lock", other), SITE, AT) is None
    assert from_event(event("a999-lock", "jammed"), SITE, AT) is None
    assert from_event(event("a102-lock", "help_pressed"), SITE, AT) is None


def test_suggested_reason_only_from_the_sites_list() -> None:
    site = make_site(unlock_reasons=["care visit"])
    alarm = from_event(door_opened(), site, AT)
    assert alarm is not None
    assert alarm.suggested_reason is None


def test_fire() -> None:
    alarm = from_fire(FireChanged("alarm", AT), SITE)
    assert alarm is not None
    assert (alarm.kind, alarm.apartment, alarm.device) == (AlarmKind.FIRE, None, None)
    assert alarm.suggested_reason == "emergency"
    assert from_fire(FireChanged("normal", AT), SITE) is None


def _lock_state(lock: str = "locked", battery: int = 80) -> LockState:
    return LockState(seq=1, ts=AT, boot="b", lock=lock, door="closed", battery=battery)


def test_offline_from_changed_at_after_the_sites_minutes() -> None:
    reg = TwinRegistry(SITE)
    twin = reg.get("a101-curtain")
    reg.apply_availability(twin, Availability.ONLINE, AT)
    assert twin_conditions(twin, SITE) == []
    reg.apply_availability(twin, Availability.OFFLINE, AT)
    [cond] = twin_conditions(twin, SITE)
    assert cond.kind is AlarmKind.OFFLINE
    first_seen = AT + timedelta(minutes=3)  # when the service noticed: irrelevant here
    assert not cond.due(first_seen, AT + timedelta(minutes=9, seconds=59))
    assert cond.due(first_seen, AT + timedelta(minutes=10))
    alarm = from_condition(cond, twin, SITE)
    assert (alarm.apartment, alarm.device, alarm.suggested_reason) == (
        "101",
        "a101-curtain",
        "technician",
    )


def test_never_reported_counts_from_first_seen() -> None:
    twin = TwinRegistry(SITE).get("a101-screen")
    [cond] = twin_conditions(twin, SITE)
    assert (cond.kind, cond.since, cond.details["reason"]) == (
        AlarmKind.OFFLINE,
        None,
        "never_reported",
    )
    assert not cond.due(AT, AT + timedelta(minutes=9))
    assert cond.due(AT, AT + timedelta(minutes=10))


def test_lock_online_without_state_or_stuck_motor_is_unknown_after_a_minute() -> None:
    reg = TwinRegistry(SITE)
    twin = reg.get("a101-lock")
    reg.apply_availability(twin, Availability.ONLINE, AT)
    [cond] = twin_conditions(twin, SITE)
    assert cond.kind is AlarmKind.UNKNOWN_STATE
    assert not cond.due(AT, AT + UNKNOWN_STATE_AFTER - timedelta(seconds=1))
    assert cond.due(AT, AT + UNKNOWN_STATE_AFTER)
    reg.apply_state(twin, _lock_state("locking"), AT)
    assert [c.kind for c in twin_conditions(twin, SITE)] == [AlarmKind.UNKNOWN_STATE]
    reg.apply_state(twin, _lock_state("locked").model_copy(update={"seq": 2}), AT)
    assert twin_conditions(twin, SITE) == []


def test_jammed_and_battery_thresholds_from_state() -> None:
    reg = TwinRegistry(SITE)
    twin = reg.get("a101-lock")
    reg.apply_state(twin, _lock_state("jammed", battery=15), AT)
    assert [c.kind for c in twin_conditions(twin, SITE)] == [AlarmKind.JAMMED]
    reg.apply_state(twin, _lock_state("locked", battery=14).model_copy(update={"seq": 2}), AT)
    [cond] = twin_conditions(twin, SITE)
    assert cond.kind is AlarmKind.BATTERY_LOW
    assert cond.details == {"battery": 14, "threshold": 15}
    assert cond.due(AT, AT)
