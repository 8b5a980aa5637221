"""The room screen: messages, brightness, night mode, calls and the help button."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from ..payloads import BaseState, Instant, Reported
from ..type_spec import (
    ActionSpec,
    Args,
    ControlSpec,
    DeviceTypeSpec,
    FieldSpec,
    HaEntity,
    InputSpec,
    ha_choice,
    ha_percent,
)


class ScreenMessage(Reported):
    text: str = Field(min_length=1, max_length=500)
    sender: str = Field(default="", max_length=64, alias="from")
    until: Instant | None = None

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class ScreenState(BaseState):
    power: Literal["on", "standby"]
    brightness: int = Field(ge=0, le=100)
    night_mode: bool
    message: ScreenMessage | None = None
    call: Literal["idle", "ringing", "active"]
    call_id: str | None = Field(default=None, max_length=64)


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


SPEC = DeviceTypeSpec(
    name="screen",
    order=3,
    state_model=ScreenState,
    actions={
        "show_message": ActionSpec(MessageArgs),
        "clear_message": ActionSpec(),
        "set_brightness": ActionSpec(BrightnessArgs),
        "set_night_mode": ActionSpec(NightModeArgs),
        # a call's ring and hang-up: no routine sets them, so no staff hold either
        "ring": ActionSpec(RingArgs, fallback=False, held=False),
        "end_call": ActionSpec(fallback=False, held=False),
    },
    events=frozenset({"help_pressed", "call_accepted", "call_declined", "touched"}),
    safety_events=frozenset({"help_pressed"}),
    knobs={
        "press_help": False,
        "accept_call": False,
        "decline_call": False,
        "touch": False,
        "standby": False,
    },
    fields=(
        FieldSpec("power", "enum", ("on", "standby"), quiet=("on", "standby")),
        FieldSpec("message", "text", quiet=("*",)),
        FieldSpec("call", "enum", ("idle", "ringing", "active"), quiet=("idle",)),
    ),
    controls=(
        ControlSpec(
            "show_message",
            (
                InputSpec("text", "text", required=True, max_length=500),
                InputSpec("until", "datetime"),
                InputSpec("from", "sender"),
            ),
        ),
        ControlSpec("clear_message"),
    ),
    ha=(
        HaEntity(
            component="number",
            entity="brightness",
            name="Screen brightness",
            topics={"command_topic": "set", "state_topic": "state"},
            config={"min": 0, "max": 100, "step": 1, "mode": "slider", "unit_of_measurement": "%"},
            states=lambda state: {"state": str(state.brightness)},
            commands={"set": ha_percent("set_brightness", "brightness")},
        ),
        HaEntity(
            component="switch",
            entity="night_mode",
            name="Screen night mode",
            topics={"command_topic": "set", "state_topic": "state"},
            config={"payload_on": "ON", "payload_off": "OFF", "state_on": "ON", "state_off": "OFF"},
            states=lambda state: {"state": "ON" if state.night_mode else "OFF"},
            commands={
                "set": ha_choice(
                    {
                        "ON": ("set_night_mode", {"on": True}),
                        "OFF": ("set_night_mode", {"on": False}),
                    }
                )
            },
        ),
    ),
)
