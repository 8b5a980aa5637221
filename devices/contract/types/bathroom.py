"""The bathroom presence sensor of digital night supervision (no camera): whether
someone is in the bathroom. A stay past the declared minutes that began at night (a
fall?) raises ``long_bathroom_stay``, only for a resident with a recorded
night-supervision basis in force (it is monitoring)."""

from __future__ import annotations

from ..payloads import BaseState, Instant
from ..type_spec import DeviceTypeSpec, FieldSpec, HaEntity, StateAlarm


class BathroomState(BaseState):
    present: bool
    #: When ``present`` last changed (the device's clock).
    since: Instant | None = None


SPEC = DeviceTypeSpec(
    name="bathroom",
    order=5,
    state_model=BathroomState,
    actions={},
    events=frozenset({"entered", "left"}),
    knobs={"enter": False, "leave": False},
    fields=(FieldSpec("present", "bool", quiet=("true", "false")),),
    alarms=(
        StateAlarm(
            kind="long_bathroom_stay",
            active=lambda state: state.present,
            since=lambda state: state.since,
            minutes=30,
            night_only=True,
            needs_supervision=True,
        ),
    ),
    ha=(
        HaEntity(
            component="binary_sensor",
            entity="presence",
            name="Bathroom occupied",
            topics={"state_topic": "state"},
            config={"device_class": "presence", "payload_on": "ON", "payload_off": "OFF"},
            states=lambda state: {"state": "ON" if state.present else "OFF"},
        ),
    ),
)
