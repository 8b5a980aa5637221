"""What the scheduler needs of the rest of the system, declared here and implemented there.

The scheduler owns its ports (the consumer declares the small interface it needs): the
store of schedules, firing claims and holds (:class:`ScheduleStore`, its records and
the error it expects, :class:`ScheduleStoreError`), where a firing's report goes
(:class:`FiringSink`) and the command outcomes it learns staff holds from
(:class:`CommandFeed` of :class:`ResolvedCommand`). ``controller.store`` implements the
store (its ``StoreError`` is a :class:`ScheduleStoreError`), ``controller.event_bus``
the other two; nothing here imports ``controller``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .firings import FiringReport

#: Outcome of a claimed firing whose commands are not all answered yet.
CLAIMED = "claimed"


class ScheduleStoreError(RuntimeError):
    """The store could not do what was asked (unreachable, unwritable): the scheduler
    logs it and tries again (a claim that fails sends nothing)."""


@dataclass(frozen=True, slots=True)
class ScheduleRecord:
    """One row of ``schedules``: ``definition`` is the :class:`scheduler.Schedule` dump
    (JSON mode); ``enabled`` is authoritative (pause/resume change only it)."""

    id: str
    name: str
    owner: str
    definition: dict[str, Any]
    enabled: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FiringRecord:
    """One claimed due instant of a schedule: at most one row per (schedule, due_at)."""

    schedule_id: str
    due_at: datetime
    fired_at: datetime
    outcome: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HoldRecord:
    """A staff command held ``device`` against its schedules since ``since`` (see
    :mod:`scheduler.engine` for the rule)."""

    device: str
    since: datetime
    actor: str
    action: str
    command_id: str | None = None


class ScheduleStore(Protocol):
    """Schedules (soft-deleted), one claim per due instant, staff holds. Every method
    raises :class:`ScheduleStoreError` when the store cannot answer."""

    async def add_schedule(self, record: ScheduleRecord) -> bool:
        """Store a new schedule; False if the id exists (deleted ones too)."""

    async def update_schedule(
        self,
        schedule_id: str,
        *,
        updated_at: datetime,
        name: str | None = None,
        definition: dict[str, Any] | None = None,
        enabled: bool | None = None,
        owner: str | None = None,
    ) -> ScheduleRecord | None:
        """Change a live schedule; None if there is none with this id."""

    async def delete_schedule(self, schedule_id: str, now: datetime) -> bool:
        """Soft-delete; False if there is no live schedule with this id."""

    async def get_schedule(
        self, schedule_id: str, *, include_deleted: bool = False
    ) -> ScheduleRecord | None: ...

    async def list_schedules(self, *, include_deleted: bool = False) -> list[ScheduleRecord]: ...

    async def claim_firing(self, schedule_id: str, due_at: datetime, now: datetime) -> bool:
        """Insert-or-fail: True for the one caller that claimed this due instant."""

    async def finish_firing(
        self, schedule_id: str, due_at: datetime, outcome: str, details: dict[str, Any]
    ) -> None: ...

    async def last_firings(self) -> dict[str, datetime]:
        """The latest claimed due instant per schedule."""

    async def firings(
        self, *, schedule_id: str | None = None, limit: int = 100
    ) -> list[FiringRecord]:
        """Newest due instant first."""

    async def put_hold(self, hold: HoldRecord) -> None:
        """Set a device's hold, replacing an older one."""

    async def delete_hold(self, device: str, since: datetime | None = None) -> bool: ...

    async def holds(self) -> list[HoldRecord]: ...


class FiringSink(Protocol):
    """Where a firing's report goes (the controller's event bus)."""

    def publish(self, message: FiringReport) -> None: ...


class ResolvedCommand(Protocol):
    """What a command outcome tells the scheduler (the bus's ``CommandResolved``)."""

    @property
    def command_id(self) -> str: ...
    @property
    def device(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def ts(self) -> datetime: ...


class CommandFeed(Protocol):
    """The command outcomes as they come (a bus subscription to ``CommandResolved``)."""

    async def get(self, timeout: float | None = None) -> ResolvedCommand:
        """The next outcome (TimeoutError after ``timeout`` seconds)."""

    def drain(self, limit: int | None = None) -> Sequence[ResolvedCommand]:
        """The outcomes already waiting, without waiting."""
