"""The shape of a device type's declaration (one module per type in ``types/``).

A :class:`DeviceTypeSpec` says everything the rest of Tryggbo derives from: the state
model, the actions with their args and flags, the events, the simulator's knobs, the
fields and controls the dashboard draws, the alarms the type's state can raise, how
Home Assistant sees it, and the translation keys of its labels (the texts are in
``ui/labels/{type}.toml``, Swedish and English).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ContractError
from .payloads import BaseState, DeviceType


class Args(BaseModel):
    """Base of every action's arguments: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class NoArgs(Args):
    pass


class FirmwareArgs(Args):
    version: str = Field(min_length=1, max_length=32)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=1, le=64 * 1024 * 1024)
    url: str | None = Field(default=None, max_length=512)


@dataclass(frozen=True)
class ActionSpec:
    """One action of a type: its args and what the controller may do with it."""

    args: builtins.type[Args] = NoArgs
    #: Keeps the device working (ping, reboot...): technicians may send it anywhere.
    maintenance: bool = False
    #: The device may run it itself from its fallback routines (controller away).
    fallback: bool = True
    #: A staff command with this action holds the device against its schedules.
    held: bool = True
    #: The state the action leaves the device in, field by field (``"{arg}"``: that
    #: argument's value): the overview shows a device not as it was last told (moved
    #: by hand, stuck) as an exception.
    sets: Mapping[str, Any] = field(default_factory=dict)


#: Actions every type has, for keeping devices working (not for residents).
COMMON_ACTIONS: Mapping[str, ActionSpec] = {
    "ping": ActionSpec(maintenance=True, fallback=False, held=False),
    "identify": ActionSpec(maintenance=True, fallback=False, held=False),
    "reboot": ActionSpec(maintenance=True, fallback=False, held=False),
    "update_firmware": ActionSpec(FirmwareArgs, maintenance=True, fallback=False, held=False),
}
COMMON_EVENTS = frozenset({"booted", "update_failed", "updated"})
#: Knobs every simulated device has (a technician's control panel, tests).
COMMON_KNOBS: Mapping[str, bool] = {"go_offline": False, "come_online": False, "reboot": False}


@dataclass(frozen=True)
class FieldSpec:
    """A state field the dashboard shows. ``enum``/``bool``: each value's label is the
    key ``{name}_{value}`` (``true``/``false`` for a bool; an empty text hides it);
    ``percent``: ``N %`` (with ``ends``: ``{name}_0``, ``{name}_100`` and
    ``{name}_pct`` with ``{n}`` between); ``text``: the value (or ``text`` inside an
    object) as is.

    The overview draws the normal state quietly and only exceptions stand out:
    ``quiet`` are the values that are normal (``"*"``: every value); a percent with
    ``low`` stands out below the site's ``battery_low_percent``."""

    name: str
    kind: Literal["enum", "bool", "percent", "text"]
    values: tuple[str, ...] = ()
    quiet: tuple[str, ...] = ()
    low: bool = False
    ends: bool = False

    def value_keys(self) -> list[str]:
        if self.kind == "percent":
            return [f"{self.name}_0", f"{self.name}_100", f"{self.name}_pct"] if self.ends else []
        values = ("true", "false") if self.kind == "bool" else self.values
        return [f"{self.name}_{value}" for value in values]


@dataclass(frozen=True)
class InputSpec:
    """An input of a control: one argument of the action (label key ``arg_{arg}``).
    ``sender`` is not shown: the signed-in person's name is sent."""

    arg: str
    kind: Literal["number", "text", "datetime", "sender"]
    required: bool = False
    minimum: int | None = None
    maximum: int | None = None
    default: int | str | None = None
    max_length: int | None = None


@dataclass(frozen=True)
class ControlSpec:
    """A dashboard control that sends ``action`` (label key ``action_{action}``)."""

    action: str
    inputs: tuple[InputSpec, ...] = ()
    danger: bool = False
    #: Ask for one of the site's reasons first (the command bus refuses it without).
    ask_reason: bool = False


@dataclass(frozen=True)
class StateAlarm:
    """An alarm the type's state raises once ``active`` has held for ``minutes``
    (label key ``alarm_{kind}``). ``since`` is when the device says the condition
    began; ``night_only``: only if it began inside the site's night window;
    ``needs_supervision``: only for an apartment with a recorded night-supervision
    basis in force (it is monitoring)."""

    kind: str
    active: Callable[[Any], bool]
    since: Callable[[Any], datetime | None]
    minutes: int
    night_only: bool = False
    needs_supervision: bool = False
    suggested_reason: str | None = None


#: Home Assistant command parser: the MQTT payload to ``(action, args)``; ValueError
#: for a payload that means nothing.
HaCommand = Callable[[str], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class HaEntity:
    """One Home Assistant entity of a device of this type (MQTT discovery).

    Its topics are ``tryggbo-ha/{site}/{device}/{entity}/{leaf}``: ``topics`` maps a
    discovery key (``state_topic``...) to its leaf; ``commands`` parses what Home
    Assistant sends on a leaf; ``states`` gives ``{leaf: payload}`` for a state."""

    component: str
    entity: str
    name: str
    topics: Mapping[str, str]
    config: Mapping[str, Any]
    states: Callable[[Any], Mapping[str, str]]
    commands: Mapping[str, HaCommand] = field(default_factory=dict)


def ha_choice(choices: Mapping[str, tuple[str, dict[str, Any]]]) -> HaCommand:
    """A command parser for fixed payloads (``{"LOCK": ("lock", {})}``)."""

    def parse(text: str) -> tuple[str, dict[str, Any]]:
        if text not in choices:
            raise ValueError(f"{text[:40]!r} is not one of {', '.join(choices)}")
        action, args = choices[text]
        return action, dict(args)

    return parse


def ha_percent(action: str, arg: str) -> HaCommand:
    """A command parser for a number 0-100 sent as ``{arg: n}`` of ``action``."""

    def parse(text: str) -> tuple[str, dict[str, Any]]:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{text[:40]!r} is not a number") from None
        if not 0 <= value <= 100 or value != value:
            raise ValueError(f"{text[:40]!r} is not between 0 and 100")
        return action, {arg: round(value)}

    return parse


@dataclass(frozen=True)
class DeviceTypeSpec:
    """Everything the contract says about one device type."""

    name: str
    state_model: builtins.type[BaseState]
    #: The type's own actions (the common ones are added by :meth:`registered`).
    actions: Mapping[str, ActionSpec]
    #: The type's own events (the common ones are added).
    events: frozenset[str]
    #: Events that report danger: never rate-limited, never dropped for volume.
    safety_events: frozenset[str] = frozenset()
    #: Commands to this type must carry an HMAC signature with the device's key.
    signed: bool = False
    #: Simulator knobs (method of the firmware) -> whether it takes ``{"value": N}``.
    knobs: Mapping[str, bool] = field(default_factory=dict)
    fields: tuple[FieldSpec, ...] = ()
    controls: tuple[ControlSpec, ...] = ()
    alarms: tuple[StateAlarm, ...] = ()
    ha: tuple[HaEntity, ...] = ()
    #: Where the type is listed (dashboard cells, tables); then by name.
    order: int = 100
    #: State values meaning the device is still carrying out a command (``sets`` is
    #: compared only when none holds), e.g. a curtain's motion opening or closing.
    busy: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def type(self) -> DeviceType:
        return DeviceType(self.name)

    def registered(self) -> DeviceTypeSpec:
        """This spec with the common actions, events and knobs added."""
        return replace(
            self,
            actions={**self.actions, **COMMON_ACTIONS},
            events=self.events | COMMON_EVENTS,
            knobs={**self.knobs, **COMMON_KNOBS},
        )

    def label_keys(self) -> list[str]:
        """Every translation key the type's labels file must have (sv and en)."""
        keys = ["label"]
        # every action staff or a schedule may give it (the schedules page lists them)
        keys += [f"action_{n}" for n, a in self.actions.items() if a.held and not a.maintenance]
        for f in self.fields:
            keys += [f"field_{f.name}", *f.value_keys()]
        for control in self.controls:
            keys.append(f"action_{control.action}")
            keys += [f"arg_{i.arg}" for i in control.inputs if i.kind != "sender"]
        keys += [f"alarm_{alarm.kind}" for alarm in self.alarms]
        # its own events as the apartment page lists them (the common ones: ui/static/i18n.js)
        keys += [f"event_{e}" for e in sorted(self.events - COMMON_EVENTS)]
        return list(dict.fromkeys(keys))

    def args_model(self, action: str) -> builtins.type[Args]:
        """The args model of ``action``; :class:`ContractError` if the type lacks it."""
        try:
            return self.actions[action].args
        except KeyError:
            raise ContractError(
                "unknown_action",
                f"a {self.name} has no action {action!r}; it has {', '.join(sorted(self.actions))}",
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
