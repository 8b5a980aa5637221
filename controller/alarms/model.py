"""Alarm kinds, states, the allowed transitions, and the alarm as JSON.

State machine (every change stored before it is pushed)::

    open ──ack──> acknowledged ──on_site──> on_site ──close──> closed
      │                 └──────────────close──────────────────────^
      ├──on_site (taking it implicitly: acked_by/at are filled too) ─^
      └──close (a note is always required)────────────────────────^

``closed`` is final. Only ``open`` alarms are escalated. Each action is allowed only
from the states in :data:`ACTION_FROM`; anything else is a conflict (HTTP 409).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from config.site import Site
from devices.contract import DEVICE_TYPES

from ..store.alarm_records import AlarmRecord
from .escalation import addressed


class AlarmKind(StrEnum):
    HELP = "help"
    NIGHT_DOOR = "night_door"
    JAMMED = "jammed"
    UNKNOWN_STATE = "unknown_state"
    OFFLINE = "offline"
    BATTERY_LOW = "battery_low"
    FIRE = "fire"


class AlarmState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ON_SITE = "on_site"
    CLOSED = "closed"


ACTIVE = frozenset({AlarmState.OPEN, AlarmState.ACKNOWLEDGED, AlarmState.ON_SITE})

#: The states each staff action may start from.
ACTION_FROM: dict[str, frozenset[AlarmState]] = {
    "ack": frozenset({AlarmState.OPEN}),
    "on_site": frozenset({AlarmState.OPEN, AlarmState.ACKNOWLEDGED}),
    "close": ACTIVE,
}

#: Alarms about the equipment itself: a technician may see these (and only these).
DEVICE_KINDS = frozenset(
    {AlarmKind.OFFLINE, AlarmKind.BATTERY_LOW, AlarmKind.JAMMED, AlarmKind.UNKNOWN_STATE}
)

#: Kinds raised by a lasting condition: one alarm per episode (raised when the
#: condition starts, never again until it has ended). Other kinds (help, night_door)
#: are raised by each event; a repeat while one is active only counts up.
CONDITION_KINDS: frozenset[str] = DEVICE_KINDS | {AlarmKind.FIRE}
#: Kinds a device type's state raises (``alarms`` in devices/contract/types/), e.g. a
#: resident out of bed at night: about residents, so never shown to technicians.
TYPE_KINDS = frozenset(a.kind for spec in DEVICE_TYPES.values() for a in spec.alarms)
CONDITION_KINDS |= TYPE_KINDS

#: Dedupe key of the device-less (site-wide) fire alarm.
SITE = "site"


def alarm_key(kind: str, device: str | None) -> tuple[str, str]:
    """At most one active alarm per key."""
    return (device or SITE, kind)


def alarm_json(alarm: AlarmRecord, site: Site) -> dict[str, Any]:
    """The alarm as the API and the WebSocket show it."""
    resident = None
    if alarm.apartment is not None:
        apartment = next((a for a in site.apartments if a.number == alarm.apartment), None)
        resident = apartment.resident if apartment else None

    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": alarm.id,
        "kind": alarm.kind,
        "apartment": alarm.apartment,
        "device": alarm.device,
        "resident": resident,
        "state": alarm.state,
        "raised_at": iso(alarm.raised_at),
        "escalations": alarm.escalations,
        "last_escalated_at": iso(alarm.last_escalated_at),
        "acked_by": alarm.acked_by,
        "acked_at": iso(alarm.acked_at),
        "ack_comment": alarm.ack_comment,
        "on_site_by": alarm.on_site_by,
        "on_site_at": iso(alarm.on_site_at),
        "closed_by": alarm.closed_by,
        "closed_at": iso(alarm.closed_at),
        "close_note": alarm.close_note,
        "suggested_reason": alarm.details.get("suggested_reason"),
        "details": dict(alarm.details),
        "count": int(alarm.details.get("count", 1)),
        "addressed": addressed(
            site, alarm.escalations, alarm.last_escalated_at or alarm.raised_at
        ).to_json(),
    }
