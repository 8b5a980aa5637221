"""Every message the in-process event bus carries: one frozen dataclass (slots) each.

Publishers build them from what they hold (a twin, a stored event, a command's
outcome, an alarm record); subscribers select them by type
(``bus.subscribe(TwinChanged, DeviceEvent)``) and read typed fields. No publisher
builds the JSON of the API: what a message looks like on the WebSocket is decided at
the edge, in one place (:mod:`controller.api.live_messages`). A schedule's firing
travels as the scheduler's own :class:`scheduler.firings.FiringReport`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from devices.contract import AnyState, DeviceType
from scheduler.firings import FiringReport

from .receipts import Receipt
from .store.alarm_records import AlarmRecord
from .twins import Reachability, Twin

if TYPE_CHECKING:
    from .command_bus import CommandResult, Outcome


@dataclass(frozen=True, slots=True)
class TwinChanged:
    """A twin as it was when it changed (a snapshot: the twin itself changes on). The
    whole twin: of several of one device, the last says what the earlier ones did."""

    id: str
    type: DeviceType
    apartment: str
    reachability: Reachability
    reported: AnyState | None
    desired: Mapping[str, Any]
    last_seen: datetime | None
    firmware: str | None
    model: str | None
    #: the WebSocket JSON, made once for all clients (controller.api.live_messages)
    json: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def reachable(self) -> bool:
        """False when the device was known to be offline or stale."""
        return self.reachability not in (Reachability.OFFLINE, Reachability.STALE)

    @classmethod
    def of(cls, twin: Twin) -> TwinChanged:
        """The snapshot of ``twin`` now (no copying: its parts are replaced, not changed)."""
        return cls(
            twin.id,
            twin.type,
            twin.apartment,
            twin.reachability,
            twin.reported,
            twin.desired,
            twin.last_seen,
            twin.firmware,
            twin.meta.model if twin.meta else None,
        )


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """A device's event (or the controller's about a device: offline, stale...), as
    stored; ``key`` (``seq@device ts``) for a device's own; ``again``: a delivery of
    one already stored (a repeated help press), not stored again."""

    ts: datetime
    device: str
    type: str
    details: dict[str, Any]
    key: str | None = None
    again: bool = False
    #: the broker message it came from, for a subscriber that makes it durable
    receipt: Receipt | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class FireChanged:
    """The site's fire panel changed state (``alarm`` or ``normal``)."""

    state: str
    ts: datetime
    receipt: Receipt | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class CommandResolved:
    """What became of a command, once its resolved audit line is committed."""

    command_id: str
    device: str
    action: str
    outcome: Outcome
    error: str | None
    state: dict[str, Any] | None
    elapsed_ms: float
    actor: str
    reason: str | None
    ts: datetime
    #: the instance that sent the command when another one did (controller/live_relay.py)
    origin: str | None = None

    @classmethod
    def of(
        cls, result: CommandResult, *, actor: str, reason: str | None, ts: datetime
    ) -> CommandResolved:
        return cls(
            result.command_id,
            result.device,
            result.action,
            result.outcome,
            result.error,
            result.state,
            result.elapsed_ms,
            actor,
            reason,
            ts,
        )


@dataclass(frozen=True, slots=True)
class AlarmChanged:
    """An alarm as stored after a change (``raised``, ``repeated``, ``escalated``,
    ``acked``...); ``stored`` False: raised while the store fails (``id`` None)."""

    alarm: AlarmRecord
    change: str
    stored: bool = True

    @property
    def escalated(self) -> bool:
        return self.change == "escalated"


@dataclass(frozen=True, slots=True)
class CallChanged:
    """A relative's video call changed state (``ringing``, ``active``, ``ended``)."""

    call_id: str
    apartment: str
    device: str
    state: str


@dataclass(frozen=True, slots=True)
class CallScreenMessage:
    """A message of a call for the pages of ``device``, from the instance that owns the
    call to whichever instance holds the screen's pages (controller/calls/)."""

    device: str
    message: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallOwnerMessage:
    """What a screen's page did about a call (``kind``: ``signal``, ``accepted``,
    ``declined``, ``hangup``), for the instance that owns the call."""

    call_id: str
    device: str
    kind: str
    data: Any = None


@dataclass(frozen=True, slots=True)
class MessageDropped:
    """A device message the controller refused (``reason``: the contract's)."""

    reason: str
    topic: str


#: What the bus carries.
BusMessage = (
    TwinChanged
    | DeviceEvent
    | FireChanged
    | CommandResolved
    | AlarmChanged
    | CallChanged
    | CallScreenMessage
    | CallOwnerMessage
    | MessageDropped
    | FiringReport
)
