"""The registry of device types: every module of ``devices/contract/types/`` is one
type (its ``SPEC``). Firmware, twins, the API, the CLI, the Home Assistant bridge, the
dashboard and the docs' table all derive from :data:`DEVICE_TYPES`; adding a device
type means adding its module (plus its firmware and its labels)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping

from . import types
from .errors import ContractError
from .payloads import DeviceType
from .type_spec import COMMON_ACTIONS, COMMON_EVENTS, Args, DeviceTypeSpec


def _discover() -> dict[DeviceType, DeviceTypeSpec]:
    specs: list[DeviceTypeSpec] = []
    for module_info in pkgutil.iter_modules(types.__path__):
        spec = importlib.import_module(f"{types.__name__}.{module_info.name}").SPEC
        if not isinstance(spec, DeviceTypeSpec) or spec.name != module_info.name:
            raise TypeError(f"types/{module_info.name}.py must declare SPEC for its name")
        specs.append(spec)
    specs.sort(key=lambda s: (s.order, s.name))
    return {DeviceType.register(s.name): s.registered() for s in specs}


DEVICE_TYPES: Mapping[DeviceType, DeviceTypeSpec] = _discover()
DeviceType.LOCK, DeviceType.CURTAIN, DeviceType.SCREEN = (
    DeviceType(m.SPEC.name) for m in (types.lock, types.curtain, types.screen)
)
#: Events that report danger (a help press, a door forced, a jammed lock, a door
#: unlocked by the fire signal): never rate-limited, never dropped for volume.
SAFETY_EVENTS = frozenset(e for spec in DEVICE_TYPES.values() for e in spec.safety_events)
#: Actions that keep a device working: a technician may send them to any device.
MAINTENANCE_ACTIONS = frozenset(
    name for spec in DEVICE_TYPES.values() for name, a in spec.actions.items() if a.maintenance
)
#: Actions a staff command with does not hold its device against its schedules.
UNHELD_ACTIONS = frozenset(
    name for spec in DEVICE_TYPES.values() for name, a in spec.actions.items() if not a.held
)


def spec_for(device_type: DeviceType | str) -> DeviceTypeSpec:
    """The spec of a device type; :class:`ContractError` for an unknown type."""
    try:
        return DEVICE_TYPES[DeviceType(device_type)]
    except ValueError:
        raise ContractError("unknown_type", f"no device type {device_type!r}") from None


__all__ = [
    "COMMON_ACTIONS",
    "COMMON_EVENTS",
    "DEVICE_TYPES",
    "MAINTENANCE_ACTIONS",
    "SAFETY_EVENTS",
    "UNHELD_ACTIONS",
    "Args",
    "DeviceTypeSpec",
    "spec_for",
]
