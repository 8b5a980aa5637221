"""Each device type declared once: state model, actions with their args, events.

Firmware, controller twins, the API's validation and the UI's controls all derive
from :data:`DEVICE_TYPES`; adding a device type means adding one entry here.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ContractError
from .payloads import (
    BaseState,
    CurtainState,
    DeviceType,
    Instant,
    LockState,
    ScreenState,
)


class Args(BaseModel):
    """Base of every action's arguments: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class NoArgs(Args):
    pass


class UnlockArgs(Args):
    #: Relock by itself after this many seconds (None: stay unlocked).
    relock_after_s: int | None = Field(default=None, ge=1, le=3600)


class AutoRelockArgs(Args):
    seconds: int = Field(ge=0, le=3600)


class PositionArgs(Args):
    position: int = Field(ge=0, le=100)


class MessageArgs(Args):
    text: str = Field(min_length=1, max_length=500)
    sender: str = Field(default="", max_length=64, alias="from")
    until: Instant | None = None


class BrightnessArgs(Args):
    brightness: int = Field(ge=0, le=100)


class NightModeArgs(Args):
    on: bool


class RingArgs(Args):
    call_id: str = Field(min_length=1, max_length=64)
    caller: str = Field(min_length=1, max_length=64)


class FirmwareArgs(Args):
    version: str = Field(min_length=1, max_length=32)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=1, le=64 * 1024 * 1024)
    url: str | None = Field(default=None, max_length=512)


COMMON_ACTIONS: Mapping[str, type[Args]] = {
    "ping": NoArgs,
    "identify": NoArgs,
    "reboot": NoArgs,
    "update_firmware": FirmwareArgs,
}
COMMON_EVENTS = frozenset({"booted", "update_failed", "updated"})
#: Events that report danger (a help press, a door forced, a jammed lock, a door
#: unlocked by the fire signal): never rate-limited, never dropped for volume.
SAFETY_EVENTS = frozenset({"help_pressed", "tamper", "jammed", "fire_unlocked"})


@dataclass(frozen=True)
class DeviceTypeSpec:
    """Everything the contract says about one device type."""

    type: DeviceType
    state_model: builtins.type[BaseState]
    actions: Mapping[str, builtins.type[Args]]
    events: frozenset[str]
    #: Commands to this type must carry an HMAC signature with the device's key.
    signed: bool = False

    def args_model(self, action: str) -> builtins.type[Args]:
        """The args model of ``action``; :class:`ContractError` if the type lacks it."""
        try:
            return self.actions[action]
        except KeyError:
            raise ContractError(
                "unknown_action",
                f"a {self.type.value} has no action {action!r}; "
                f"it has {', '.join(sorted(self.actions))}",
            ) from None

    def validate_args(self, action: str, args: Mapping[str, Any] | None) -> dict[str, Any]:
        """Validate ``args`` for ``action``; return them as they go on the wire."""
        model = self.args_model(action)
        try:
            parsed = model.model_validate(dict(args or {}))
        except ValidationError as exc:
            raise ContractError("bad_args", _describe(exc)) from None
        return parsed.model_dump(mode="json", by_alias=True, exclude_none=True)


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "payload"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def _with_common(actions: Mapping[str, type[Args]]) -> Mapping[str, type[Args]]:
    return {**actions, **COMMON_ACTIONS}


DEVICE_TYPES: Mapping[DeviceType, DeviceTypeSpec] = {
    DeviceType.LOCK: DeviceTypeSpec(
        type=DeviceType.LOCK,
        state_model=LockState,
        actions=_with_common(
            {"lock": NoArgs, "unlock": UnlockArgs, "set_auto_relock": AutoRelockArgs}
        ),
        events=COMMON_EVENTS
        | {
            "door_opened",
            "door_closed",
            "unlocked_from_inside",
            "jammed",
            "battery_low",
            "tamper",
            "fire_unlocked",
        },
        signed=True,
    ),
    DeviceType.CURTAIN: DeviceTypeSpec(
        type=DeviceType.CURTAIN,
        state_model=CurtainState,
        actions=_with_common(
            {"open": NoArgs, "close": NoArgs, "stop": NoArgs, "set_position": PositionArgs}
        ),
        events=COMMON_EVENTS | {"obstacle", "calibrated"},
    ),
    DeviceType.SCREEN: DeviceTypeSpec(
        type=DeviceType.SCREEN,
        state_model=ScreenState,
        actions=_with_common(
            {
                "show_message": MessageArgs,
                "clear_message": NoArgs,
                "set_brightness": BrightnessArgs,
                "set_night_mode": NightModeArgs,
                "ring": RingArgs,
                "end_call": NoArgs,
            }
        ),
        events=COMMON_EVENTS | {"help_pressed", "call_accepted", "call_declined", "touched"},
    ),
}


def spec_for(device_type: DeviceType | str) -> DeviceTypeSpec:
    """The spec of a device type; :class:`ContractError` for an unknown type."""
    try:
        return DEVICE_TYPES[DeviceType(device_type)]
    except ValueError:
        raise ContractError("unknown_type", f"no device type {device_type!r}") from None
