"""Schedule validation: clear errors naming the field; overrides; one-off commands."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scheduler import (
    CronRule,
    DailyRule,
    Schedule,
    ScheduleError,
    SunRule,
    Target,
    WeekdaysRule,
    parse_schedule,
    remote_command,
)

STHLM = ZoneInfo("Europe/Stockholm")
BASE: dict[str, Any] = {
    "id": "curtains-evening",
    "name": "Curtains close in the evening",
    "target": {"kind": "type", "value": "curtain"},
    "action": "close",
    "rule": {"kind": "daily", "time": "21:00"},
    "owner": "staff:anna",
}


def bad(**changes: Any) -> ScheduleError:
    with pytest.raises(ScheduleError) as info:
        parse_schedule({**BASE, **changes})
    return info.value


def test_valid_schedule_round_trips_through_json() -> None:
    sched = parse_schedule(
        {
            **BASE,
            "rule": {"kind": "weekdays", "time": "8:05", "weekdays": ["Monday", 2, "fri", 2]},
            "exceptions": ["2026-12-25", "2026-12-24", "2026-12-25"],
            "overrides": [{"apartment": "101", "time": "23:00"}],
            "active_from": "2026-01-01",
        }
    )
    assert isinstance(sched.rule, WeekdaysRule)
    assert sched.rule.time == time(8, 5)
    assert sched.rule.weekdays == (0, 2, 4)
    assert sched.exceptions == [date(2026, 12, 24), date(2026, 12, 25)]
    dumped = sched.model_dump(mode="json")
    assert dumped["rule"] == {
        "kind": "weekdays",
        "time": "08:05",
        "weekdays": ["mon", "wed", "fri"],
    }
    assert dumped["overrides"] == [{"apartment": "101", "time": "23:00"}]
    assert Schedule.model_validate(dumped) == sched
    assert sched.missed_policy == "run_latest"
    assert sched.grace_minutes == 60


def test_bad_time_names_the_field() -> None:
    err = bad(rule={"kind": "daily", "time": "25:00"})
    assert err.problems == [
        ("rule.daily.time", "time must be HH:MM between 00:00 and 23:59, got '25:00'")
    ]
    assert "rule.daily.time" in str(err)
    assert bad(rule={"kind": "daily", "time": "8.00"}).problems[0][0] == "rule.daily.time"


def test_unknown_action_for_the_type() -> None:
    err = bad(action="unlock")
    assert err.problems[0][0] == "action"
    assert "a curtain has no action 'unlock'" in err.problems[0][1]


def test_unknown_action_for_any_type() -> None:
    err = bad(target="wing:A", action="fly")
    assert err.problems[0][0] == "action"
    assert "no device type has action 'fly'" in err.problems[0][1]


def test_an_unlock_needs_a_name_its_reason() -> None:
    err = bad(target="wing:A", action="unlock", name="  ")
    assert err.problems == [("name", "an unlock needs a name: the reason of each unlock")]


def test_action_of_some_type_is_fine_for_a_wing() -> None:
    sched = parse_schedule({**BASE, "target": "wing:A", "action": "unlock"})
    assert [t.value for t in sched.device_types()] == ["lock"]


def test_bad_args() -> None:
    err = bad(action="set_position", args={"position": 300})
    assert err.problems[0][0] == "args"
    assert "position" in err.problems[0][1]
    assert bad(args={"speed": 3}).problems[0][0] == "args"


def test_sun_rule_without_fallback() -> None:
    err = bad(rule={"kind": "sun", "event": "sunset", "offset_minutes": 15})
    assert err.problems[0][0] == "rule.sun"
    assert "fallback is required" in err.problems[0][1]


def test_sun_rule_bad_offset_and_event() -> None:
    err = bad(rule={"kind": "sun", "event": "noon", "offset_minutes": 999, "fallback": "22:00"})
    fields = {p for p, _ in err.problems}
    assert fields == {"rule.sun.event", "rule.sun.offset_minutes"}


@pytest.mark.parametrize(
    ("expr", "needle"),
    [
        ("hello world", "5 fields"),
        ("* * * *", "5 fields"),
        ("0 0 * * * *", "5 fields"),
        ("61 * * * *", "Bad minute"),
        ("0 25 * * *", "Bad hour"),
        ("0 0 31 2 *", "Bad day-of-month"),
        ("0 0 * 13 *", "Bad month"),
        ("a b c d e", "bad cron"),
        ("@daily", "5 fields"),
    ],
)
def test_cron_garbage(expr: str, needle: str) -> None:
    err = bad(rule={"kind": "cron", "expr": expr})
    assert err.problems[0][0] == "rule.cron.expr"
    assert needle in err.problems[0][1]


def test_unknown_rule_kind_and_missing_fields() -> None:
    assert bad(rule={"kind": "hourly"}).problems[0][0] == "rule"
    fields = {p for p, _ in bad(owner="", id="no spaces").problems}
    assert fields == {"owner", "id"}


def test_weekdays_errors() -> None:
    assert bad(rule={"kind": "weekdays", "time": "08:00", "weekdays": []}).problems == [
        ("rule.weekdays.weekdays", "choose at least one weekday")
    ]
    err = bad(rule={"kind": "weekdays", "time": "08:00", "weekdays": ["funday", 7]})
    assert [p for p, _ in err.problems] == [
        "rule.weekdays.weekdays[0]",
        "rule.weekdays.weekdays[1]",
    ]


@pytest.mark.parametrize(
    ("target", "field"),
    [
        ({"kind": "type", "value": "toaster"}, "target.value"),
        ({"kind": "floor", "value": "x"}, "target.value"),
        ({"kind": "floor", "value": "120"}, "target.value"),
        ({"kind": "device", "value": "Bad Id"}, "target.value"),
        ({"kind": "apartment", "value": ""}, "target.value"),
        ({"kind": "site", "value": "everything"}, "target.value"),
        ({"kind": "building", "value": "1"}, "target.kind"),
    ],
)
def test_bad_targets(target: dict[str, str], field: str) -> None:
    assert bad(target=target).problems[0][0] == field


def test_target_shorthand() -> None:
    assert Target.model_validate("wing:A") == Target(kind="wing", value="A")
    assert Target.model_validate("site") == Target(kind="site", value="")
    assert Target.model_validate("floor:02").value == "2"


def test_active_range_order() -> None:
    err = bad(active_from="2026-05-01", active_until="2026-04-01")
    assert err.problems[0][0] == "active_until"


def test_overrides() -> None:
    sched = parse_schedule(
        {
            **BASE,
            "rule": {"kind": "sun", "event": "sunset", "offset_minutes": 15, "fallback": "21:30"},
            "overrides": [{"apartment": "101", "time": "23:00"}],
        }
    )
    assert sched.rule_for("101") == DailyRule(time="23:00")
    assert sched.rule_for("102") == sched.rule == sched.rule_for(None)
    cron = parse_schedule(
        {
            **BASE,
            "rule": {"kind": "cron", "expr": "30 7 * * 1-5"},
            "overrides": [{"apartment": "101", "time": "09:05"}],
        }
    )
    assert cron.rule_for("101") == CronRule(expr="5 9 * * 1-5")


def test_override_errors() -> None:
    once = {"kind": "once", "at": "2026-06-01T14:00"}
    assert (
        "once rule"
        in bad(rule=once, overrides=[{"apartment": "101", "time": "1:00"}]).problems[0][1]
    )
    err = bad(
        rule={"kind": "cron", "expr": "*/5 7 * * *"},
        overrides=[{"apartment": "101", "time": "23:00"}],
    )
    assert err.problems[0][0] == "overrides"
    assert "more than one time" in err.problems[0][1]
    twice = [{"apartment": "101", "time": "23:00"}, {"apartment": "101", "time": "22:00"}]
    assert "two overrides" in bad(overrides=twice).problems[0][1]
    err = bad(target="apartment:102", overrides=[{"apartment": "101", "time": "23:00"}])
    assert "not targeted" in err.problems[0][1]
    err = bad(overrides=[{"apartment": "101", "time": "24:00"}])
    assert err.problems[0][0] == "overrides[0].time"


def test_describe() -> None:
    assert DailyRule(time="08:00").describe() == "daily at 08:00"
    assert SunRule(event="sunset", offset_minutes=15, fallback="22:00").describe() == (
        "sunset +15 min (at 22:00 on days without a sunset)"
    )
    assert WeekdaysRule(time="07:00", weekdays=[5, 6]).describe() == "sat, sun at 07:00"


def test_remote_unlock_then_relock() -> None:
    main, follow = remote_command(
        id="remote-103",
        target="apartment:103",
        action="unlock",
        at=datetime(2026, 6, 1, 14, 0),
        owner="staff:anna",
        tz=STHLM,
        name="physiotherapist",
        then=("lock", None),
        then_after=timedelta(minutes=30),
    )
    assert main.rule.kind == "once"
    assert main.action == "unlock"
    assert main.missed_policy == "run_latest"
    assert main.grace_minutes == 15
    assert follow.action == "lock"
    assert follow.id == "remote-103-then"
    assert follow.rule.kind == "once"
    assert follow.rule.at == datetime(2026, 6, 1, 12, 30, tzinfo=UTC)  # 14:30 CEST
    assert follow.grace_minutes == 24 * 60


def test_remote_follow_up_across_spring_gap_is_real_minutes() -> None:
    _, follow = remote_command(
        id="r",
        target="apartment:103",
        action="unlock",
        at=datetime(2026, 3, 29, 1, 50),
        owner="o",
        tz=STHLM,
        name="late visit",
        then=("lock", {}),
        then_after=timedelta(minutes=30),
    )
    assert follow.rule.kind == "once"
    assert follow.rule.at == datetime(2026, 3, 29, 1, 20, tzinfo=UTC)  # 03:20 CEST


def test_remote_command_errors() -> None:
    with pytest.raises(ScheduleError, match="then_after"):
        remote_command(
            id="r",
            target="apartment:103",
            action="unlock",
            at=datetime(2026, 6, 1, 14),
            owner="o",
            tz=STHLM,
            name="physiotherapist",
            then=("lock", None),
        )
    with pytest.raises(ScheduleError, match="action"):
        remote_command(
            id="r",
            target="type:curtain",
            action="unlock",
            at=datetime(2026, 6, 1, 14),
            owner="o",
            tz=STHLM,
        )
