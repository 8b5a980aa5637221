"""The dashboard's texts for each device type, Swedish and English: one file per type,
``ui/labels/{type}.toml`` with a ``[sv]`` and an ``[en]`` table, holding the keys its
contract module declares (:meth:`~devices.contract.DeviceTypeSpec.label_keys`)."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import ui
from devices.contract import DEVICE_TYPES, DeviceTypeSpec

LABELS_DIR = Path(ui.__file__).parent / "labels"
LANGUAGES = ("sv", "en")


@cache
def labels_of(device_type: str) -> dict[str, dict[str, str]]:
    """``{language: {key: text}}`` of a type (empty tables for a missing file)."""
    path = LABELS_DIR / f"{device_type}.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return {lang: {str(k): str(v) for k, v in data.get(lang, {}).items()} for lang in LANGUAGES}


def missing_labels(spec: DeviceTypeSpec) -> list[str]:
    """``lang:key`` of every declared key a language lacks (and keys nobody declared)."""
    declared = set(spec.label_keys())
    problems = []
    for lang, texts in labels_of(spec.name).items():
        problems += [f"{lang}:{key} missing" for key in sorted(declared - set(texts))]
        problems += [f"{lang}:{key} not declared" for key in sorted(set(texts) - declared)]
    return problems


def describe(spec: DeviceTypeSpec) -> dict[str, Any]:
    """A device type as ``GET /api/device-types`` shows it."""
    return {
        "type": spec.name,
        "signed": spec.signed,
        "actions": {
            name: {
                "args": action.args.model_json_schema(by_alias=True),
                "maintenance": action.maintenance,
                "fallback": action.fallback,
                "held": action.held,
                "sets": dict(action.sets),
            }
            for name, action in spec.actions.items()
        },
        "busy": {name: list(values) for name, values in spec.busy.items()},
        "events": sorted(spec.events),
        "fields": [
            {
                "name": f.name,
                "kind": f.kind,
                "values": list(f.values),
                "quiet": list(f.quiet),
                "low": f.low,
                "ends": f.ends,
            }
            for f in spec.fields
        ],
        "controls": [
            {
                "action": c.action,
                "danger": c.danger,
                "ask_reason": c.ask_reason,
                "inputs": [
                    {
                        "arg": i.arg,
                        "kind": i.kind,
                        "required": i.required,
                        "min": i.minimum,
                        "max": i.maximum,
                        "default": i.default,
                        "max_length": i.max_length,
                    }
                    for i in c.inputs
                ],
            }
            for c in spec.controls
        ],
        "alarms": [
            {
                "kind": a.kind,
                "minutes": a.minutes,
                "night_only": a.night_only,
                "needs_supervision": a.needs_supervision,
            }
            for a in spec.alarms
        ],
        "home_assistant": [{"component": e.component, "entity": e.entity} for e in spec.ha],
        "labels": labels_of(spec.name),
    }


def describe_all() -> list[dict[str, Any]]:
    """Every registered type, in the registry's order."""
    return [describe(spec) for spec in DEVICE_TYPES.values()]
