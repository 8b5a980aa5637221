"""Simulated bathroom presence sensor (radar, no camera).

State ``present`` and ``since`` (when it last changed, the device's clock). Knobs:
:meth:`SimulatedBathroomSensor.enter` (event ``entered``) and
:meth:`SimulatedBathroomSensor.leave` (event ``left``). No actions of its own.
"""

from __future__ import annotations

from typing import Any

from devices.contract import DeviceType

from .base import SimulatedDevice


class SimulatedBathroomSensor(SimulatedDevice):
    """A presence sensor; the bathroom starts empty."""

    device_type = DeviceType("bathroom")

    def _setup(self) -> None:
        self._present = False
        self._since = self.clock.now()

    def _fields(self) -> dict[str, Any]:
        return {"present": self._present, "since": self._since}

    def enter(self) -> None:
        """Someone goes into the bathroom."""
        self._change(True, "entered")

    def leave(self) -> None:
        """The bathroom is empty again."""
        self._change(False, "left")

    def _change(self, present: bool, event: str) -> None:
        if present == self._present:
            return
        self._present, self._since = present, self.clock.now()
        self._report()
        self._event(event)
