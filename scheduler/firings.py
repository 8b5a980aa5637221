"""What the engine keeps per schedule and reports per firing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .expand import Place
from .model import Schedule
from .ports import ScheduleRecord
from .targets import TargetDevice
from .timing import Firing


@dataclass
class RuleGroupState:
    apartment: str | None
    devices: list[TargetDevice]
    next: Firing | None = None


@dataclass
class LoadedSchedule:
    """A stored schedule as the engine runs it."""

    record: ScheduleRecord
    schedule: Schedule | None  #: None when the stored definition no longer validates
    groups: list[RuleGroupState]
    cursor: datetime  #: firings at or before this instant are dealt with
    version: int
    problem: str | None = None

    @property
    def next_at(self) -> datetime | None:
        times = [g.next.at for g in self.groups if g.next is not None]
        return min(times) if times else None


@dataclass
class Due:
    """One firing to deal with now."""

    schedule_id: str
    due_at: datetime
    devices: list[TargetDevice]
    late_s: float
    missed: bool = False
    fallback_used: bool = False
    reason: str | None = None
    held: set[str] = field(default_factory=set)
    #: when its schedule was made: a hold older than that does not skip it
    made_at: datetime | None = None

    def device_ids(self) -> Sequence[str]:
        return [d.device_id for d in self.devices]


@dataclass(frozen=True, slots=True)
class FiringReport:
    """What became of one firing."""

    schedule_id: str
    due_at: datetime
    fired_at: datetime
    outcome: str
    devices: dict[str, str]
    late_s: float = 0.0
    note: str | None = None
    #: whose rights the firing ran with (the schedule's owner then)
    owner: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schedule_id": self.schedule_id,
            "due_at": self.due_at.isoformat(),
            "fired_at": self.fired_at.isoformat(),
            "outcome": self.outcome,
            "devices": self.devices,
            "late_s": round(self.late_s, 3),
            "note": self.note,
            "owner": self.owner,
        }


def summarise(devices: Mapping[str, str]) -> str:
    """A firing's outcome from its devices' outcomes (``refused``: the owner's rights
    refused every device sent to)."""
    if not devices:
        return "no_devices"
    sent = [v for v in devices.values() if v != "held"]
    if not sent:
        return "held"
    ok = sum(v == "ok" for v in sent)
    if ok == len(sent):
        return "ok"
    if ok == 0 and all(v == "refused" for v in sent):
        return "refused"
    return "partial" if ok else "failed"


def firing_json(firing: Firing, place: Place) -> dict[str, Any]:
    return {
        "at": firing.at.isoformat(),
        "local": firing.local(place.tz).isoformat(),
        "fallback_used": firing.fallback_used,
        "dst": firing.dst,
        "reason": firing.reason,
    }
