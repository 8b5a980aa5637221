"""The motorised curtain: ``position`` 0-100 (0 = closed); acks when motion starts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..payloads import BaseState
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


class CurtainState(BaseState):
    position: int = Field(ge=0, le=100)
    target: int | None = Field(default=None, ge=0, le=100)
    motion: Literal["idle", "opening", "closing", "blocked"]


class PositionArgs(Args):
    position: int = Field(ge=0, le=100)


def _ha_state(state: CurtainState) -> dict[str, str]:
    moving = {"opening": "opening", "closing": "closing", "blocked": "stopped"}
    text = moving.get(state.motion) or ("closed" if state.position == 0 else "open")
    return {"state": text, "position": str(state.position)}


SPEC = DeviceTypeSpec(
    name="curtain",
    order=2,
    state_model=CurtainState,
    actions={
        "open": ActionSpec(sets={"position": 100}),
        "close": ActionSpec(sets={"position": 0}),
        "stop": ActionSpec(),
        "set_position": ActionSpec(PositionArgs, sets={"position": "{position}"}),
    },
    busy={"motion": ("opening", "closing")},
    events=frozenset({"obstacle", "calibrated"}),
    knobs={"obstruct": False, "move_by_hand": True},
    fields=(FieldSpec("position", "percent", quiet=("*",), ends=True),),
    controls=(
        ControlSpec("open"),
        ControlSpec("close"),
        ControlSpec("set_position", (InputSpec("position", "number", True, 0, 100, default=50),)),
    ),
    ha=(
        HaEntity(
            component="cover",
            entity="cover",
            name="Curtain",
            topics={
                "command_topic": "set",
                "state_topic": "state",
                "position_topic": "position",
                "set_position_topic": "set_position",
            },
            config={
                "device_class": "curtain",
                "payload_open": "OPEN",
                "payload_close": "CLOSE",
                "payload_stop": "STOP",
                "position_open": 100,
                "position_closed": 0,
                "state_open": "open",
                "state_opening": "opening",
                "state_closed": "closed",
                "state_closing": "closing",
                "state_stopped": "stopped",
                "optimistic": False,
            },
            states=_ha_state,
            commands={
                "set": ha_choice(
                    {"OPEN": ("open", {}), "CLOSE": ("close", {}), "STOP": ("stop", {})}
                ),
                "set_position": ha_percent("set_position", "position"),
            },
        ),
    ),
)
