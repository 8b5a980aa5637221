"""The one admission rule for an incoming MQTT message that could become an action.

Every receiver that turns a message into an action asks :class:`MessageAdmission`
first: the devices' command gate (simulated firmware and serial bridge,
``devices/firmware/commands.py``) and the Home Assistant bridge
(``controller/ha_bridge/bridge.py``). Refused, whatever the message asks for:

- ``retained_command``: delivered with the retain flag. The broker replays a retained
  message to every new subscription, so on every reconnect and restart: acting on it
  would repeat an old action each time (an unlock on every restart).
- ``empty``: no payload (what clearing a retained message sends); nothing to do.
- ``too_large``: over :data:`~devices.contract.payloads.MAX_PAYLOAD_BYTES`.

What the message asks for (decode, signature, permission, expiry) is each receiver's
own check after this. A message published with retain while a receiver is subscribed
reaches it without the flag (MQTT 3.1.1) and is admitted like any other: it is that
moment's command; only its replays are refused.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from .payloads import MAX_PAYLOAD_BYTES

log = logging.getLogger(__name__)

RETAINED, EMPTY, TOO_LARGE = "retained_command", "empty", "too_large"
#: a receiver logs each reason at most this often (the rest are counted)
LOG_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a message is not acted on (``reason`` is one of the codes above)."""

    reason: str
    detail: str


def refusal_of(payload: bytes, retained: bool) -> Refusal | None:
    """The rule itself: why ``payload`` may not become an action, or None."""
    if retained:
        return Refusal(RETAINED, "a retained message is never executed")
    if not payload:
        return Refusal(EMPTY, "empty payload")
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Refusal(TOO_LARGE, f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    return None


class MessageAdmission:
    """One receiver's use of :func:`refusal_of`: counts refusals by reason and logs
    each reason at most once per :data:`LOG_INTERVAL_S` (``empty`` at debug level:
    clearing a retained message is routine)."""

    def __init__(self, receiver: str) -> None:
        self.receiver = receiver
        self.counts: dict[str, int] = {}
        self._last_log: dict[str, float] = {}

    def check(self, payload: bytes, retained: bool, topic: str = "") -> Refusal | None:
        """None if the message may go on to the receiver's own checks."""
        refusal = refusal_of(payload, retained)
        if refusal is None:
            return None
        count = self.counts[refusal.reason] = self.counts.get(refusal.reason, 0) + 1
        now, last = time.monotonic(), self._last_log.get(refusal.reason)
        if last is None or now - last >= LOG_INTERVAL_S:
            self._last_log[refusal.reason] = now
            log.log(
                logging.DEBUG if refusal.reason == EMPTY else logging.WARNING,
                "%s: message on %s refused (%s): %s [%d so far]",
                self.receiver,
                topic or "its command topic",
                refusal.reason,
                refusal.detail,
                count,
            )
        return refusal
