"""Simulated motorised curtain.

``position`` 0..100 (0 = closed, dark). The motor moves about 10 % a second, in
steps of 5 % every 0.5 s (times ``faults.time_scale``), and the state is published
at every step, so the controller sees the curtain travel.

**Ack timing:** ``open``, ``close`` and ``set_position`` ack ``ok`` as soon as the
motion has *started*: the ack's state shows the new ``target`` and ``motion``
(``opening``/``closing``); a full travel takes ~10 s, and its progress and end
(``motion: idle`` at the target) are in the ``state`` reports. ``stop`` halts where
the curtain is (``target`` null). :meth:`SimulatedCurtain.obstruct` stops it as
``blocked`` with an ``obstacle`` event; the next command moves it again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Literal

from devices.contract import DeviceType

from .base import AfterAck, Handler, SimulatedDevice

STEP = 5
STEP_S = 0.5
Motion = Literal["idle", "opening", "closing", "blocked"]


class SimulatedCurtain(SimulatedDevice):
    """A curtain motor with a position encoder and an obstacle sensor."""

    device_type = DeviceType.CURTAIN

    def _setup(self) -> None:
        self._position = 0
        self._target: int | None = None
        self._motion: Motion = "idle"
        self._run = 0  # bumped by anything that takes over the motor

    def _fields(self) -> dict[str, Any]:
        return {"position": self._position, "target": self._target, "motion": self._motion}

    def _handlers(self) -> Mapping[str, Handler]:
        return {
            **super()._handlers(),
            "open": self._cmd_open,
            "close": self._cmd_close,
            "stop": self._cmd_stop,
            "set_position": self._cmd_set_position,
        }

    # ------------------------------------------------------------------ knobs

    def obstruct(self) -> None:
        """Something is in the way: stop where it is, ``blocked``, event ``obstacle``."""
        self._run += 1
        self._motion = "blocked"
        self._report()
        self._event("obstacle", position=self._position)

    def move_by_hand(self, position: int) -> None:
        """Someone pulls the curtain to ``position`` (0..100) by hand."""
        self._run += 1
        self._position = max(0, min(100, int(position)))
        self._target = None
        self._motion = "idle"
        self._report()

    # ------------------------------------------------------------------ commands

    async def _cmd_open(self, args: dict[str, Any]) -> AfterAck:
        self._start(100)
        return None

    async def _cmd_close(self, args: dict[str, Any]) -> AfterAck:
        self._start(0)
        return None

    async def _cmd_set_position(self, args: dict[str, Any]) -> AfterAck:
        self._start(int(args["position"]))
        return None

    async def _cmd_stop(self, args: dict[str, Any]) -> AfterAck:
        self._run += 1
        self._target = None
        self._motion = "idle"
        self._report()
        return None

    # ------------------------------------------------------------------ motor

    def _start(self, target: int) -> None:
        """Set the target and start moving (the ack follows right after)."""
        self._run += 1
        self._target = target
        if target == self._position:
            self._motion = "idle"
        else:
            self._motion = "opening" if target > self._position else "closing"
            self._spawn(self._travel(self._run))
        self._report()

    async def _travel(self, run: int) -> None:
        while True:
            await asyncio.sleep(STEP_S * self.faults.time_scale)
            if run != self._run or self._target is None:
                return
            gap = self._target - self._position
            self._position += max(-STEP, min(STEP, gap))
            if self._position == self._target:
                self._motion = "idle"
            self._report()
            if self._motion == "idle":
                return
