"""The alarm record the store reads and writes, and the store's alarm exceptions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Alarm states in which an alarm is still being handled.
ACTIVE_STATES = frozenset({"open", "acknowledged", "on_site"})
ALARM_STATES = ACTIVE_STATES | {"closed"}


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    """One row of the ``alarms`` table (kinds and states: :mod:`controller.alarms.model`)."""

    kind: str
    apartment: str | None
    device: str | None
    state: str
    raised_at: datetime
    details: dict[str, Any] = field(default_factory=dict)
    escalations: int = 0
    last_escalated_at: datetime | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    ack_comment: str | None = None
    on_site_by: str | None = None
    on_site_at: datetime | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    close_note: str | None = None
    id: int | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


#: Columns :meth:`~controller.store.repository.AlarmStore.update_alarm` may change.
ALARM_CHANGEABLE = frozenset(
    {
        "state",
        "details",
        "escalations",
        "last_escalated_at",
        "acked_by",
        "acked_at",
        "ack_comment",
        "on_site_by",
        "on_site_at",
        "closed_by",
        "closed_at",
        "close_note",
    }
)


class AlarmNotFound(LookupError):
    """No alarm has this id."""

    def __init__(self, alarm_id: int) -> None:
        super().__init__(f"no alarm {alarm_id}")
        self.alarm_id = alarm_id


class AlarmConflict(Exception):
    """The alarm is not in a state the change expects (someone else got there first)."""

    def __init__(self, current: AlarmRecord, wanted: str = "change") -> None:
        super().__init__(f"alarm {current.id} is {current.state}: cannot {wanted}")
        self.current = current
        self.wanted = wanted
