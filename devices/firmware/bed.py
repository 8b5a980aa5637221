"""Simulated bed-exit sensor (a pressure mat under the mattress, no camera).

State ``occupied`` and ``since`` (when it last changed, the device's clock). The
resident's knobs: :meth:`SimulatedBedSensor.get_up` (event ``left_bed``) and
:meth:`SimulatedBedSensor.lie_down` (event ``back_in_bed``). It has no actions of its
own; the common ones (ping, identify, reboot, update_firmware) come from the base.
"""

from __future__ import annotations

from typing import Any

from devices.contract import DeviceType

from .base import SimulatedDevice


class SimulatedBedSensor(SimulatedDevice):
    """A bed-exit sensor; the resident starts in bed."""

    device_type = DeviceType("bed")

    def _setup(self) -> None:
        self._occupied = True
        self._since = self.clock.now()

    def _fields(self) -> dict[str, Any]:
        return {"occupied": self._occupied, "since": self._since}

    def get_up(self) -> None:
        """The resident leaves the bed."""
        self._change(False, "left_bed")

    def lie_down(self) -> None:
        """The resident is back in bed."""
        self._change(True, "back_in_bed")

    def _change(self, occupied: bool, event: str) -> None:
        if occupied == self._occupied:
            return
        self._occupied, self._since = occupied, self.clock.now()
        self._report()
        self._event(event)
