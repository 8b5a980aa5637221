"""Whom an alarm goes to: the site file's escalation order per shift (pure rules)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from config.site import EXAMPLE_SITE, Site, SiteFileError, load_site, parse_site
from controller.alarms.escalation import Addressed, addressed, shift_at

SHIFTS = """
[[site.shifts]]
name = "dag"
start = "07:00"
end = "15:00"
escalation = ["anna", "bertil"]

[[site.shifts]]
name = "natt"
start = "21:30"
end = "07:00"
escalation = ["nils", "petra", "sara"]
"""


def site_with(shifts: str, tmp_path: Path) -> Site:
    text = EXAMPLE_SITE.read_text(encoding="utf-8")
    # the shifts belong to the [site] table: insert them before the first apartment
    head, sep, rest = text.partition("[[apartments]]")
    path = tmp_path / "site.toml"
    path.write_text(head + shifts + "\n" + sep + rest, encoding="utf-8")
    return load_site(path)


def local(site, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 3, hour, minute, tzinfo=site.zone)


def test_the_next_person_of_the_night_shift_then_everyone(tmp_path: Path) -> None:
    site = site_with(SHIFTS, tmp_path)
    night = local(site, 2, 10)
    assert [addressed(site, n, night) for n in range(5)] == [
        Addressed("natt", ("nils",), False),
        Addressed("natt", ("petra",), False),
        Addressed("natt", ("sara",), False),
        Addressed("natt", (), True),
        Addressed("natt", (), True),
    ]


def test_the_shift_is_the_one_on_duty_at_the_last_escalation(tmp_path: Path) -> None:
    site = site_with(SHIFTS, tmp_path)
    assert shift_at(site, local(site, 6, 59)).name == "natt"  # type: ignore[union-attr]
    assert shift_at(site, local(site, 7, 0)).name == "dag"  # type: ignore[union-attr]
    assert shift_at(site, local(site, 21, 30)).name == "natt"  # type: ignore[union-attr]
    # escalated once at 07:03: the day shift's second person
    assert addressed(site, 1, local(site, 7, 3)) == Addressed("dag", ("bertil",), False)


def test_no_shift_on_duty_means_everyone_at_once(tmp_path: Path) -> None:
    site = site_with(SHIFTS, tmp_path)
    assert addressed(site, 0, local(site, 18, 0)) == Addressed(None, (), True)
    plain = load_site(EXAMPLE_SITE)
    assert addressed(plain, 0, local(plain, 2, 0)) == Addressed(None, (), True)


@pytest.mark.parametrize(
    ("shifts", "problem"),
    [
        (
            '[[site.shifts]]\nname = "a"\nstart = "07:00"\nend = "15:00"\nescalation = ["x"]\n'
            '[[site.shifts]]\nname = "A"\nstart = "15:00"\nend = "22:00"\nescalation = ["y"]\n',
            "listed twice",
        ),
        (
            '[[site.shifts]]\nname = "a"\nstart = "07:00"\nend = "16:00"\nescalation = ["x"]\n'
            '[[site.shifts]]\nname = "b"\nstart = "15:00"\nend = "22:00"\nescalation = ["y"]\n',
            "overlaps another shift",
        ),
        (
            '[[site.shifts]]\nname = "a"\nstart = "07:00"\nend = "07:00"\nescalation = ["x"]\n',
            "start and end are the same time",
        ),
        (
            '[[site.shifts]]\nname = "a"\nstart = "07:00"\nend = "15:00"\nescalation = []\n',
            "escalation",
        ),
        (
            '[[site.shifts]]\nname = "a"\nstart = "7"\nend = "15:00"\nescalation = ["x"]\n',
            "start",
        ),
        (
            '[[site.shifts]]\nname = "a"\nstart = "07:00"\nend = "15:00"\n'
            'escalation = ["x", "x"]\n',
            "listed twice",
        ),
    ],
)
def test_bad_shifts_are_refused_with_the_reason(tmp_path: Path, shifts: str, problem: str) -> None:
    with pytest.raises(SiteFileError, match=problem):
        site_with(shifts, tmp_path)


def test_a_site_without_shifts_still_loads() -> None:
    data = {"site": {"slug": "x"}}
    assert parse_site(data).site.shifts == []
