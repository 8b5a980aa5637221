"""Which pushed alarms a caller's WebSocket gets, by role."""

from __future__ import annotations

from dataclasses import dataclass

from controller.api.privacy import may_see_alarm


@dataclass
class Caller:
    roles: frozenset[str]


def test_alarm_pushes_by_role() -> None:
    assert may_see_alarm(Caller(frozenset({"staff"})), "help")
    assert may_see_alarm(Caller(frozenset({"admin"})), "night_door")
    tech = Caller(frozenset({"technician"}))
    assert may_see_alarm(tech, "offline")
    assert may_see_alarm(tech, "battery_low")
    assert not may_see_alarm(tech, "help")
    assert not may_see_alarm(tech, "fire")
    assert not may_see_alarm(Caller(frozenset({"relative"})), "help")
    assert not may_see_alarm(Caller(frozenset({"screen"})), "offline")
    assert may_see_alarm(object(), "help")  # no roles known: the access layer decides
