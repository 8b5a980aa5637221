"""Simulated room screen on the resident's wall: messages, calls, the help button.

Every action takes effect at once and is acked at once. A message with ``until``
disappears by itself when the device's clock passes it. Resident knobs
(:meth:`press_help`, :meth:`accept_call`, :meth:`decline_call`, :meth:`touch`) stand
for the resident's finger on the touch screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from devices.contract import AckStatus, DeviceType, ScreenMessage

from .base import AfterAck, CommandFailed, Handler, SimulatedDevice


class SimulatedScreen(SimulatedDevice):
    """A wall-mounted touch screen with a call function."""

    device_type = DeviceType.SCREEN

    def _setup(self) -> None:
        self._power: Literal["on", "standby"] = "on"
        self._brightness = 80
        self._night_mode = False
        self._message: ScreenMessage | None = None
        self._call: Literal["idle", "ringing", "active"] = "idle"
        self._call_id: str | None = None

    def _fields(self) -> dict[str, Any]:
        return {
            "power": self._power,
            "brightness": self._brightness,
            "night_mode": self._night_mode,
            "message": self._message.model_dump(mode="json", by_alias=True)
            if self._message
            else None,
            "call": self._call,
            "call_id": self._call_id,
        }

    def _handlers(self) -> Mapping[str, Handler]:
        return {
            **super()._handlers(),
            "show_message": self._cmd_show_message,
            "clear_message": self._cmd_clear_message,
            "set_brightness": self._cmd_set_brightness,
            "set_night_mode": self._cmd_set_night_mode,
            "ring": self._cmd_ring,
            "end_call": self._cmd_end_call,
        }

    # ------------------------------------------------------------------ resident knobs

    def press_help(self) -> None:
        """The resident presses the call-staff button."""
        self._wake()
        self._event("help_pressed")

    def accept_call(self) -> None:
        """The resident answers the ringing call (nothing happens if none rings)."""
        if self._call != "ringing":
            return
        self._call = "active"
        self._report()
        self._event("call_accepted", call_id=self._call_id)

    def decline_call(self) -> None:
        """The resident declines the ringing call."""
        if self._call != "ringing":
            return
        call_id = self._call_id
        self._call, self._call_id = "idle", None
        self._report()
        self._event("call_declined", call_id=call_id)

    def touch(self) -> None:
        """A touch anywhere: wakes the screen, event ``touched``."""
        self._wake()
        self._event("touched")

    def standby(self) -> None:
        """The screen dims to standby (as after a while untouched)."""
        if self._power != "standby":
            self._power = "standby"
            self._report()

    def _wake(self) -> None:
        if self._power != "on":
            self._power = "on"
            self._report()

    # ------------------------------------------------------------------ commands

    async def _cmd_show_message(self, args: dict[str, Any]) -> AfterAck:
        self._message = ScreenMessage.model_validate(args)
        self._power = "on"
        self._report()
        return None

    async def _cmd_clear_message(self, args: dict[str, Any]) -> AfterAck:
        self._message = None
        self._report()
        return None

    async def _cmd_set_brightness(self, args: dict[str, Any]) -> AfterAck:
        self._brightness = int(args["brightness"])
        self._report()
        return None

    async def _cmd_set_night_mode(self, args: dict[str, Any]) -> AfterAck:
        self._night_mode = bool(args["on"])
        self._report()
        return None

    async def _cmd_ring(self, args: dict[str, Any]) -> AfterAck:
        if self._call != "idle" and self._call_id != args["call_id"]:
            raise CommandFailed(AckStatus.REJECTED, "busy")
        if self._call == "idle":
            self._call, self._call_id = "ringing", args["call_id"]
        self._power = "on"
        self._report()
        return None

    async def _cmd_end_call(self, args: dict[str, Any]) -> AfterAck:
        self._call, self._call_id = "idle", None
        self._report()
        return None

    # ------------------------------------------------------------------ time

    def _tick(self) -> None:
        message = self._message
        if message is not None and message.until is not None and self.clock.now() >= message.until:
            self._message = None
            self._report()
