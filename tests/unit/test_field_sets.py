"""Models kept by the thousand share their field-name sets (issue 18: memory)."""

from __future__ import annotations

import tomllib

from config.site import EXAMPLE_SITE, Site, load_site


def test_the_sites_models_share_their_field_name_sets_and_read_as_validated() -> None:
    site = load_site(EXAMPLE_SITE)
    plain = Site.model_validate(tomllib.loads(EXAMPLE_SITE.read_text(encoding="utf-8")))
    entries = [dev for _apt, dev in site.devices()]
    assert len(entries) > 2
    assert all(e.model_fields_set is entries[0].model_fields_set for e in entries)
    alike = [
        a for a in site.apartments if a.model_fields_set == site.apartments[1].model_fields_set
    ]
    assert len(alike) > 1
    assert all(a.model_fields_set is alike[0].model_fields_set for a in alike)
    assert site == plain
    assert site.model_dump(exclude_unset=True) == plain.model_dump(exclude_unset=True)


def test_a_copy_with_changes_leaves_the_shared_set_alone() -> None:
    site = load_site(EXAMPLE_SITE)
    entry = next(dev for _apt, dev in site.devices())
    before = set(entry.model_fields_set)
    changed = entry.model_copy(update={"model": "other"})
    assert "model" in changed.model_fields_set
    assert entry.model_fields_set == before
