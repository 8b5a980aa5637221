"""Simulated room screen on the resident's wall: messages, calls, the help button.

Every action takes effect at once and is acked at once. A message with ``until``
disappears by itself when the device's clock passes it. Resident knobs
(:meth:`press_help`, :meth:`accept_call`, :meth:`decline_call`, :meth:`touch`) stand
for the resident's finger on the touch screen.

A help press is repeated (the same event: same ``seq``, ``ts`` and ``press_id``, which
the controller stores once) every :data:`HELP_REPEAT_S` until the controller confirms
it on the screen's ``confirm`` topic, which it does once the alarm is stored. So a
press survives a controller that crashed after the broker took it, a dead member of a
shared subscription, and anything else between the button and the store.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Literal

from devices.contract import (
    AckStatus,
    Channel,
    ContractError,
    DeviceType,
    Event,
    HelpConfirmed,
    ScreenMessage,
    decode,
    encode,
)

from .base import AfterAck, CommandFailed, Handler, MessageRoute, SimulatedDevice
from .link import Outgoing

log = logging.getLogger(__name__)

#: seconds between repeats of a help press the controller has not confirmed
HELP_REPEAT_S = 2.0


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
        #: unconfirmed help presses: press id -> (the event as sent, monotonic time sent)
        self.help_pending: dict[str, tuple[Outgoing, float]] = {}
        #: called with each confirmation of a help press of this screen
        self.on_help_confirmed: Callable[[HelpConfirmed], None] = lambda confirmed: None

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

    def press_help(self, press_id: str | None = None) -> str:
        """The resident presses the call-staff button; returns the press id. Pressing
        again with the id of an unconfirmed press changes nothing (it is repeated)."""
        self._wake()
        press_id = press_id or uuid.uuid4().hex[:16]
        if press_id not in self.help_pending:
            event = Event(
                type="help_pressed", ts=self.clock.now(), seq=self._next_seq(), press_id=press_id
            )
            out = Outgoing(self.topic(Channel.EVENT), encode(event), needs_controller=True)
            self.help_pending[press_id] = (out, self.clock.monotonic())
            self.link.send(out)
        return press_id

    def _extra_routes(self) -> dict[str, MessageRoute]:
        return {**super()._extra_routes(), self.topic(Channel.CONFIRM): self._on_confirm}

    def _on_confirm(self, payload: bytes, retain: bool) -> None:
        try:
            confirmed = decode(HelpConfirmed, payload)
        except ContractError as exc:
            log.warning("%s: bad confirmation dropped: %s", self.device_id, exc)
            return
        if self.help_pending.pop(confirmed.press_id, None) is not None:
            log.info("%s: help press %s confirmed", self.device_id, confirmed.press_id)
        self.on_help_confirmed(confirmed)

    def _repeat_help(self) -> None:
        """Send again each help press not confirmed within :data:`HELP_REPEAT_S`."""
        if not self.help_pending or not self.link.controller_online:
            return
        now = self.clock.monotonic()
        for press_id, (out, sent) in list(self.help_pending.items()):
            if now - sent >= HELP_REPEAT_S:
                log.warning("%s: help press %s not confirmed: sent again", self.device_id, press_id)
                self.help_pending[press_id] = (out, now)
                self.link.send(out)

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
        self._repeat_help()
        message = self._message
        if message is not None and message.until is not None and self.clock.now() >= message.until:
            self._message = None
            self._report()
