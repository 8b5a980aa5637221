"""Pydantic models of every payload in the contract (v1).

Times are RFC 3339 with offset; they are normalised to UTC and sent as ``...Z``.
Models of what a device *reports* ignore unknown fields (newer firmware may add some);
models of what the controller *orders* (commands) forbid them.
"""

from __future__ import annotations

import math
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
)
from pydantic_core import core_schema

MAX_PAYLOAD_BYTES = 16 * 1024
CONTRACT_VERSION = 1


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


#: An aware instant, normalised to UTC.
Instant = Annotated[AwareDatetime, AfterValidator(_to_utc)]


def _finite(value: Any) -> Any:
    """``value`` unchanged if no float in it is infinite (``1e999`` parses to inf)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("a number is out of range (not finite)")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return value


#: Free-form content a receiver keeps (event details, args, an ack's state): any value
#: but a non-finite number, which no JSON text, column or peer can carry.
FiniteValue = Annotated[Any, AfterValidator(_finite)]

CommandId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
ActionName = Annotated[str, Field(pattern=r"^[a-z][a-z_]{0,31}$")]
EventType = Annotated[str, Field(pattern=r"^[a-z][a-z_]{0,31}$")]


class _Registered(type):
    """Iterating :class:`DeviceType` gives every registered type."""

    def __iter__(cls) -> Iterator[DeviceType]:
        from .device_types import DEVICE_TYPES

        return iter(list(DEVICE_TYPES))


#: Each registered device type's name as a plain ``str`` (:attr:`DeviceType.value`).
_PLAIN: dict[str, str] = {}


class DeviceType(str, metaclass=_Registered):
    """The name of a registered device type (one module in ``devices/contract/types/``).

    ``DeviceType("lock")`` is the one instance of that name (``is`` compares), a
    ``ValueError`` for a name no module registers. ``LOCK``, ``CURTAIN`` and ``SCREEN``
    name the types the controller has hand-written behaviour for (fire, calls)."""

    _known: ClassVar[dict[str, DeviceType]] = {}
    LOCK: ClassVar[DeviceType]
    CURTAIN: ClassVar[DeviceType]
    SCREEN: ClassVar[DeviceType]

    def __new__(cls, value: object) -> DeviceType:
        if isinstance(value, DeviceType):
            return value
        from .device_types import DEVICE_TYPES  # noqa: F401  (registers every type)

        try:
            return cls._known[str(value)]
        except KeyError:
            known = ", ".join(cls._known)
            raise ValueError(f"{value!r} is not a device type (one of {known})") from None

    @classmethod
    def register(cls, name: str) -> DeviceType:
        """The instance of ``name`` (called once per type module by the registry)."""
        if name not in cls._known:
            cls._known[name] = str.__new__(cls, name)
            _PLAIN[cls._known[name]] = sys.intern(name)
        return cls._known[name]

    @property
    def value(self) -> str:
        """The name as a plain ``str``: one string per type (a copy per call was kept
        by the thousand, e.g. the metrics' device -> type map)."""
        return _PLAIN[self]

    def __repr__(self) -> str:
        return f"DeviceType({self.value!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (DeviceType, (self.value,))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_after_validator_function(
            cls,
            core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(str.__str__),
        )


class Availability(StrEnum):
    """Payload of ``availability`` (plain text, not JSON)."""

    ONLINE = "online"
    OFFLINE = "offline"


class Reported(BaseModel):
    """Base of payloads a device publishes: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Ordered(BaseModel):
    """Base of payloads the controller publishes: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- meta


class Meta(Reported):
    type: DeviceType
    model: str = Field(min_length=1, max_length=64)
    firmware: str = Field(min_length=1, max_length=32)
    room: str | None = Field(default=None, max_length=32)
    capabilities: list[str] = Field(default_factory=list, max_length=32)
    #: Seconds between heartbeats; the controller marks the device stale after 2.5 of them.
    heartbeat_s: int = Field(default=60, ge=1, le=3600)


# -------------------------------------------------------------------------- state


class BaseState(Reported):
    #: Increases with every report within one boot.
    seq: int = Field(ge=0)
    ts: Instant
    #: Random id of this boot, so a restarted counter is not mistaken for an old report.
    boot: str = Field(default="", max_length=32)
    firmware: str = Field(default="", max_length=32)
    uptime_s: int = Field(default=0, ge=0)
    rssi: int | None = Field(default=None, ge=-127, le=0)


#: Any device type's state (each type's model extends it).
AnyState = BaseState

# ----------------------------------------------------------------------- commands


class Command(Ordered):
    """A command on ``.../cmd``. Never retained; executed at most once per ``id``."""

    id: CommandId
    action: ActionName
    args: dict[str, FiniteValue] = Field(default_factory=dict)
    actor: str = Field(min_length=1, max_length=128)
    issued_at: Instant
    expires_at: Instant
    sig: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    def expired(self, now: datetime) -> bool:
        """True when ``now`` is past the command's expiry."""
        return now >= self.expires_at


def new_command(
    action: str,
    args: dict[str, Any],
    actor: str,
    now: datetime,
    ttl: timedelta = timedelta(seconds=30),
    command_id: str | None = None,
) -> Command:
    """A fresh, unsigned command issued at ``now`` (millisecond precision)."""
    issued = now.astimezone(UTC).replace(microsecond=now.microsecond // 1000 * 1000)
    return Command(
        id=command_id or uuid.uuid4().hex,
        action=action,
        args=args,
        actor=actor,
        issued_at=issued,
        expires_at=issued + ttl,
    )


class AckStatus(StrEnum):
    OK = "ok"
    REJECTED = "rejected"
    FAILED = "failed"


class Ack(Reported):
    """A device's answer to one command id, on ``.../ack``."""

    id: CommandId
    status: AckStatus
    error: str | None = Field(default=None, max_length=64)
    state: dict[str, FiniteValue] | None = None


# ------------------------------------------------------------------------ events


class Event(BaseModel):
    """Something that happened on a device, on ``.../event``; extra fields allowed."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, FiniteValue] = Field(init=False)

    type: EventType
    ts: Instant
    seq: int = Field(ge=0)

    def details(self) -> dict[str, Any]:
        """The event's extra fields (everything but type, ts and seq)."""
        return dict(self.model_extra or {})


class HelpConfirmed(BaseModel):
    """The controller to one screen, on ``.../confirm``: the help press ``press_id`` is
    stored as (part of) alarm ``alarm_id``; the screen stops repeating that press."""

    model_config = ConfigDict(frozen=True)

    press_id: str = Field(min_length=1, max_length=64)
    alarm_id: int | None = None
    alarm_state: str | None = Field(default=None, max_length=32)
    ts: Instant


# ------------------------------------------------------------------------- site


class FireSignal(Ordered):
    """Payload of ``tryggbo/{site}/fire`` (retained)."""

    state: Literal["alarm", "normal"]
    ts: Instant


# --------------------------------------------------------------- fallback schedule


class FallbackEntry(Ordered):
    """One daily routine the firmware runs itself while the controller is away."""

    at: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4, 5, 6]
    )
    action: ActionName
    args: dict[str, FiniteValue] = Field(default_factory=dict)


class DeviceSchedule(Ordered):
    """Payload of ``.../schedule`` (retained): the device's own fallback routines."""

    version: int = Field(ge=0)
    tz: str = Field(default="Europe/Stockholm", max_length=64)
    entries: list[FallbackEntry] = Field(default_factory=list, max_length=64)
