"""Who may act on which alarm (controller/alarms/who_may.py), by role and wing."""

from __future__ import annotations

import pytest

from config.site import Site, load_site
from controller.alarms.who_may import actions_allowed, may_handle
from controller.auth.principal import Principal

SITE_FILE = "config/example-site.toml"


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(SITE_FILE)


def person(*roles: str, units: tuple[str, ...] = ()) -> Principal:
    return Principal(actor="p", user_id="u", roles=frozenset(roles), units=frozenset(units))


@pytest.mark.parametrize("kind", ["battery_low", "offline", "jammed", "unknown_state"])
def test_a_technician_handles_the_technical_alarms_anywhere(site: Site, kind: str) -> None:
    tech = person("technician")
    assert may_handle(tech, kind, "101", site)
    assert may_handle(tech, kind, "216", site)
    assert actions_allowed(tech, kind, "216", "open", site) == ["ack", "on_site", "close"]
    assert actions_allowed(tech, kind, "216", "acknowledged", site) == ["on_site", "close"]


@pytest.mark.parametrize("kind", ["help", "night_door", "fire", "left_bed"])
def test_a_technician_handles_no_residents_alarm(site: Site, kind: str) -> None:
    tech = person("technician")
    assert not may_handle(tech, kind, "101", site)
    assert not may_handle(tech, kind, None, site)
    assert actions_allowed(tech, kind, "101", "open", site) == []


def test_staff_handle_their_wings_and_site_wide_alarms(site: Site) -> None:
    anna = person("staff", units=("A", "B"))
    assert may_handle(anna, "help", "101", site)  # wing A
    assert may_handle(anna, "battery_low", "116", site)  # wing B
    assert not may_handle(anna, "help", "201", site)  # wing C
    assert not may_handle(anna, "offline", "216", site)  # wing D
    assert may_handle(anna, "fire", None, site)
    assert not may_handle(anna, "help", "999", site)  # no such apartment


def test_admin_handles_every_alarm_and_others_none(site: Site) -> None:
    assert may_handle(person("admin"), "help", "216", site)
    assert may_handle(person("admin"), "help", "999", site)
    for roles in (("relative",), ("screen",), ()):
        assert not may_handle(person(*roles), "battery_low", "101", site)


def test_closed_alarms_allow_nothing(site: Site) -> None:
    assert actions_allowed(person("admin"), "help", "101", "closed", site) == []
