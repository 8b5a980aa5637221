"""docs/mqtt-contract.md's device-type table is what the registry says now."""

from __future__ import annotations

from pathlib import Path

from devices.contract.doc import replace_section

DOC = Path(__file__).parents[2] / "docs" / "mqtt-contract.md"


def test_the_device_type_table_is_current() -> None:
    committed = DOC.read_text(encoding="utf-8")
    assert committed == replace_section(committed), (
        "docs/mqtt-contract.md is stale: run `tryggbo contract-doc --update docs/mqtt-contract.md`"
    )
