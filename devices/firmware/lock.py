"""Simulated door lock: signed commands, a ~0.5 s motor, the inside handle, fire.

- ``lock``/``unlock`` report ``locking``/``unlocking`` while the motor runs and ack
  when it stops: ``ok``, or ``failed``/``jammed`` (``faults.jam_probability``).
  Other refusals: ``door_open`` (cannot throw the bolt into an open door),
  ``battery_empty``, ``interrupted`` (the inside handle or fire took over).
- ``unlock`` with ``relock_after_s`` (or ``auto_relock_s`` when set) relocks by itself
  that long after the later of the unlock and the door's last closing, and never
  while the door is open or the fire alarm holds.
- The inside handle unlocks at once, whatever the state, and no command can block it.
- The site's fire alarm unlocks at once and refuses ``lock`` until it is back to
  ``normal``; then the lock stays unlocked until staff lock it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from typing import Any, Literal

from devices.contract import AckStatus, ContractError, DeviceType, FireSignal, decode

from .base import AfterAck, CommandFailed, Handler, MessageRoute, SimulatedDevice

log = logging.getLogger(__name__)

BATTERY_LOW = 15
Bolt = Literal["locked", "unlocked", "locking", "unlocking", "jammed"]


class SimulatedLock(SimulatedDevice):
    """A battery door lock with a motorised bolt and a door contact."""

    device_type = DeviceType.LOCK
    #: Seconds the motor takes to throw or withdraw the bolt (times ``faults.time_scale``).
    motor_s = 0.5

    def _setup(self) -> None:
        self._bolt: Bolt = "locked"
        self._door: Literal["open", "closed"] = "closed"
        self._battery = 100.0
        self._battery_low_sent = False
        self._drain_mark = self.clock.monotonic()
        self._auto_relock_s = 0
        self._fire = False
        self._motion = 0  # bumped by anything that takes the bolt over
        self._motor = asyncio.Lock()
        self._relock: asyncio.Task[Any] | None = None
        self._door_closed = asyncio.Event()
        self._door_closed.set()
        self._unlocked_at = 0.0
        self._door_closed_at = 0.0

    def _fields(self) -> dict[str, Any]:
        return {
            "lock": self._bolt,
            "door": self._door,
            "battery": self.battery,
            "auto_relock_s": self._auto_relock_s,
            "fire": self._fire,
        }

    def _handlers(self) -> Mapping[str, Handler]:
        return {
            **super()._handlers(),
            "lock": self._cmd_lock,
            "unlock": self._cmd_unlock,
            "set_auto_relock": self._cmd_set_auto_relock,
        }

    def _extra_routes(self) -> dict[str, MessageRoute]:
        return {self._topics.fire: self._on_fire_message}

    # ------------------------------------------------------------------ knobs

    @property
    def battery(self) -> int:
        return math.ceil(self._battery)

    def press_inside_handle(self) -> None:
        """The resident opens from inside: unlocked at once, nothing can block it."""
        self._motion += 1
        self._cancel_relock()
        self._set_unlocked()
        self._event("unlocked_from_inside")
        if self._auto_relock_s and not self._fire:
            self._start_relock(self._auto_relock_s)

    def open_door(self) -> None:
        """Someone opens the door (forced open while locked: also ``tamper``)."""
        if self._door == "open":
            return
        self._door = "open"
        self._door_closed.clear()
        self._report()
        self._event("door_opened")
        if self._bolt == "locked":
            self._event("tamper", reason="opened_while_locked")

    def close_door(self) -> None:
        if self._door == "closed":
            return
        self._door = "closed"
        self._door_closed_at = self._loop_time()
        self._door_closed.set()
        self._report()
        self._event("door_closed")

    def set_battery(self, percent: float) -> None:
        """A technician changes the batteries."""
        self._battery = max(0.0, min(100.0, percent))
        self._battery_low_sent = self.battery < BATTERY_LOW
        self._report()

    # ------------------------------------------------------------------ commands

    async def _cmd_lock(self, args: dict[str, Any]) -> AfterAck:
        if self._fire:
            raise CommandFailed(AckStatus.REJECTED, "fire_alarm")
        if self._door == "open":
            raise CommandFailed(AckStatus.REJECTED, "door_open")
        self._cancel_relock()
        await self._drive("locked")
        return None

    async def _cmd_unlock(self, args: dict[str, Any]) -> AfterAck:
        self._cancel_relock()
        await self._drive("unlocked")
        delay = args.get("relock_after_s") or self._auto_relock_s
        if delay and not self._fire:
            self._start_relock(delay)
        return None

    async def _cmd_set_auto_relock(self, args: dict[str, Any]) -> AfterAck:
        self._auto_relock_s = int(args["seconds"])
        self._report()
        return None

    # ------------------------------------------------------------------ mechanics

    async def _drive(self, target: Literal["locked", "unlocked"]) -> None:
        """Run the motor to ``target``; CommandFailed if it cannot get there."""
        async with self._motor:
            if self._bolt == target:
                return
            if target == "locked" and self._fire:
                raise CommandFailed(AckStatus.REJECTED, "fire_alarm")
            if self._battery <= 0:
                raise CommandFailed(AckStatus.FAILED, "battery_empty")
            self._motion += 1
            motion = self._motion
            self._bolt = "locking" if target == "locked" else "unlocking"
            self._report()
            await asyncio.sleep(self.motor_s * self.faults.time_scale)
            if motion != self._motion:
                raise CommandFailed(AckStatus.FAILED, "interrupted")
            if self.faults.jam_probability and self._rng.random() < self.faults.jam_probability:
                self._bolt = "jammed"
                self._report()
                self._event("jammed", target=target)
                raise CommandFailed(AckStatus.FAILED, "jammed")
            if target == "unlocked":
                self._set_unlocked()
            else:
                self._bolt = "locked"
                self._report()

    def _set_unlocked(self) -> None:
        self._bolt = "unlocked"
        self._unlocked_at = self._loop_time()
        self._report()

    def _start_relock(self, delay_s: float) -> None:
        self._cancel_relock()
        self._relock = self._spawn(self._relock_after(delay_s * self.faults.time_scale))

    def _cancel_relock(self) -> None:
        if self._relock is not None:
            self._relock.cancel()
            self._relock = None

    async def _relock_after(self, delay_s: float) -> None:
        """Lock once the door has been closed and ``delay_s`` has passed since the later
        of the unlock and the door's last closing."""
        while True:
            await self._door_closed.wait()
            remaining = max(self._unlocked_at, self._door_closed_at) + delay_s - self._loop_time()
            if remaining <= 0:
                break
            await asyncio.sleep(remaining)
        self._relock = None  # from here on a lock command must not cancel the motion
        if self._bolt != "unlocked" or self._fire:
            return
        try:
            await self._drive("locked")
        except CommandFailed as exc:
            log.warning("%s: relock failed: %s", self.device_id, exc.error)

    @staticmethod
    def _loop_time() -> float:
        """The event loop's clock (what ``asyncio.sleep`` measures relock delays in)."""
        return time.monotonic()

    # ------------------------------------------------------------------ fire, battery

    def _on_fire_message(self, payload: bytes, retained: bool) -> None:
        if not payload:
            return  # the retained signal was cleared
        try:
            signal = decode(FireSignal, payload)
        except ContractError as exc:
            log.warning("%s: bad fire signal ignored: %s", self.device_id, exc)
            return
        if signal.state == "alarm":
            self._motion += 1
            self._cancel_relock()
            before = self._bolt
            first = not self._fire
            self._fire = True
            self._set_unlocked()
            if first:
                log.warning("%s: fire alarm, unlocked", self.device_id)
                self._event("fire_unlocked", was=before)
        elif self._fire:
            self._fire = False
            self._report()

    def _tick(self) -> None:
        now = self.clock.monotonic()
        elapsed_min = max(0.0, now - self._drain_mark) / 60
        self._drain_mark = now
        drain = self.faults.battery_drain_per_min * elapsed_min
        if drain <= 0 or self._battery <= 0:
            return
        before = self.battery
        self._battery = max(0.0, self._battery - drain)
        if self.battery != before:
            self._report()
        if self.battery < BATTERY_LOW and not self._battery_low_sent:
            self._battery_low_sent = True
            self._event("battery_low", battery=self.battery)
