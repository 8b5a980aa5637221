"""The bed-exit sensor of digital night supervision (no camera): whether the resident
is in bed. Leaving it at night and not being back within the declared minutes raises
``left_bed``, only for a resident with a recorded night-supervision basis in force."""

from __future__ import annotations

from ..payloads import BaseState, Instant
from ..type_spec import DeviceTypeSpec, FieldSpec, HaEntity, StateAlarm


class BedState(BaseState):
    occupied: bool
    #: When ``occupied`` last changed (the device's clock).
    since: Instant | None = None


SPEC = DeviceTypeSpec(
    name="bed",
    order=4,
    state_model=BedState,
    actions={},
    events=frozenset({"left_bed", "back_in_bed"}),
    knobs={"get_up": False, "lie_down": False},
    fields=(FieldSpec("occupied", "bool", quiet=("true", "false")),),
    alarms=(
        StateAlarm(
            kind="left_bed",
            active=lambda state: not state.occupied,
            since=lambda state: state.since,
            minutes=20,
            night_only=True,
            needs_supervision=True,
        ),
    ),
    ha=(
        HaEntity(
            component="binary_sensor",
            entity="occupancy",
            name="In bed",
            topics={"state_topic": "state"},
            config={"device_class": "occupancy", "payload_on": "ON", "payload_off": "OFF"},
            states=lambda state: {"state": "ON" if state.occupied else "OFF"},
        ),
    ),
)
