"""Fault knobs of a simulated device, changeable while it runs (tests, demos, technicians)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Faults(BaseModel):
    """What goes wrong with a simulated device; every assignment is validated.

    ``device.faults.jam_probability = 1.0`` makes the next lock motion jam.
    """

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    #: Chance that a lock motion ends ``jammed`` (0..1).
    jam_probability: float = Field(default=0.0, ge=0.0, le=1.0)
    #: Execute commands but never send their acks (the controller sees a timeout).
    drop_acks: bool = False
    #: Hold every ack this long after the command finished.
    ack_delay_s: float = Field(default=0.0, ge=0.0, le=3600.0)
    #: Battery percent lost per minute of the device's clock (locks).
    battery_drain_per_min: float = Field(default=0.0, ge=0.0, le=100.0)
    #: Reported signal strength (dBm).
    rssi: int = Field(default=-58, ge=-127, le=0)
    #: Multiplies every simulated duration (lock motor, curtain steps, relock timers);
    #: 0.1 runs the mechanics ten times faster. Heartbeats are not scaled.
    time_scale: float = Field(default=1.0, gt=0.0, le=100.0)
