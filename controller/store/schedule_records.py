"""Records of schedules, their firings and staff holds (what the store reads and writes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Outcome of a claimed firing whose commands are not all answered yet.
CLAIMED = "claimed"


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
