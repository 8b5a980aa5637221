"""The door lock: signed commands, a motorised bolt, a door contact, the fire hold."""

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
    ha_choice,
)

BOLT = ("locked", "unlocked", "locking", "unlocking", "jammed")


class LockState(BaseState):
    lock: Literal["locked", "unlocked", "locking", "unlocking", "jammed"]
    door: Literal["open", "closed"]
    battery: int = Field(ge=0, le=100)
    auto_relock_s: int = Field(default=0, ge=0, le=3600)
    #: True while the site's fire alarm holds the lock open (no lock command is taken).
    fire: bool = False


class UnlockArgs(Args):
    #: Relock by itself after this many seconds (None: stay unlocked).
    relock_after_s: int | None = Field(default=None, ge=1, le=3600)


class AutoRelockArgs(Args):
    seconds: int = Field(ge=0, le=3600)


def _ha_state(state: LockState) -> dict[str, str]:
    return {"state": state.lock.upper()}


SPEC = DeviceTypeSpec(
    name="lock",
    order=1,
    state_model=LockState,
    actions={
        # fallback routines only ever lock: a door is never unlocked without the controller
        "lock": ActionSpec(),
        "unlock": ActionSpec(UnlockArgs, fallback=False),
        "set_auto_relock": ActionSpec(AutoRelockArgs, fallback=False),
    },
    events=frozenset(
        {
            "door_opened",
            "door_closed",
            "unlocked_from_inside",
            "jammed",
            "battery_low",
            "tamper",
            "fire_unlocked",
        }
    ),
    safety_events=frozenset({"tamper", "jammed", "fire_unlocked"}),
    signed=True,
    knobs={
        "press_inside_handle": False,
        "open_door": False,
        "close_door": False,
        "set_battery": True,
    },
    fields=(
        FieldSpec("lock", "enum", BOLT, quiet=("locked",)),
        FieldSpec("door", "enum", ("open", "closed"), quiet=("closed",)),
        FieldSpec("battery", "percent", low=True),
        FieldSpec("fire", "bool", quiet=("false",)),
    ),
    controls=(ControlSpec("unlock", danger=True, ask_reason=True), ControlSpec("lock")),
    ha=(
        HaEntity(
            component="lock",
            entity="lock",
            name="Door lock",
            topics={"command_topic": "set", "state_topic": "state"},
            config={
                "payload_lock": "LOCK",
                "payload_unlock": "UNLOCK",
                **{f"state_{bolt}": bolt.upper() for bolt in BOLT},
                "optimistic": False,
            },
            states=_ha_state,
            commands={"set": ha_choice({"LOCK": ("lock", {}), "UNLOCK": ("unlock", {})})},
        ),
    ),
)
