"""Models kept by the thousand share their field-name sets (issue 18: memory)."""

from __future__ import annotations

import dataclasses
import tomllib

import pytest

from config.site import EXAMPLE_SITE, Site, SiteFileError, load_site, parse_site
from devices.contract import LockState
from devices.contract.field_sets import shared_field_set


def test_the_sites_entries_keep_no_dict_and_read_as_validated() -> None:
    site = load_site(EXAMPLE_SITE)
    plain = Site.model_validate(tomllib.loads(EXAMPLE_SITE.read_text(encoding="utf-8")))
    entries = [dev for _apt, dev in site.devices()]
    assert len(entries) > 2
    # the apartments and devices are slots dataclasses: no per-instance dict to keep
    for kept in (*entries, *site.apartments):
        assert not hasattr(kept, "__dict__"), kept
    assert site == plain
    assert site.model_dump() == plain.model_dump()


def test_the_sites_entries_are_validated_as_before() -> None:
    data = tomllib.loads(EXAMPLE_SITE.read_text(encoding="utf-8"))
    data["apartments"][0]["devices"] = [{"id": "a101-lock", "type": "lock", "colour": "red"}]
    with pytest.raises(SiteFileError, match=r"apartments\[0\]\.devices\[0\]\.colour"):
        parse_site(data)
    data["apartments"][0]["devices"] = ["lock"]
    data["apartments"][0]["number"] = "no spaces"
    with pytest.raises(SiteFileError, match=r"apartments\[0\]\.number"):
        parse_site(data)
    entry = next(dev for _apt, dev in load_site(EXAMPLE_SITE).devices())
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.model = "other"  # type: ignore[misc]


def test_a_copy_with_changes_leaves_the_shared_set_alone() -> None:
    states = [
        shared_field_set(
            LockState.model_validate(
                {
                    "seq": n,
                    "lock": "locked",
                    "door": "closed",
                    "battery": 90,
                    "ts": "2026-12-04T03:00:00Z",
                }
            )
        )
        for n in (1, 2)
    ]
    assert states[0].model_fields_set is states[1].model_fields_set
    before = set(states[0].model_fields_set)
    changed = states[0].model_copy(update={"uptime_s": 5})
    assert "uptime_s" in changed.model_fields_set
    assert states[1].model_fields_set == before
