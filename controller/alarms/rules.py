"""When something is an alarm: pure functions of an event or a twin, the site and now.

- ``help``: a screen's ``help_pressed`` event. Suggested unlock reason: emergency.
- ``night_door``: a lock's ``door_opened`` while the local time (the site's time zone,
  wall clock, so DST nights are right) is inside ``night_window``. The window may
  cross midnight (``22:00-06:00``: from 22:00 up to, not including, 06:00); equal
  ends mean the whole day. Because this is monitoring, it is raised only for an
  apartment whose ``night_supervision`` (consent or decision) is recorded and already
  decided on the local date. **A passed review date still raises the alarm**, flagged
  ``review_overdue: true`` with the review date: silently stopping to watch a resident
  at risk because paperwork is late could cost a life, while the flag (shown with the
  alarm) makes the overdue review visible every time. Suggested reason: emergency.
- ``jammed``: a lock's ``jammed`` event or a lock reporting ``lock: jammed``.
- ``unknown_state``: a lock online for over :data:`UNKNOWN_STATE_AFTER` with no state,
  or stuck in ``locking``/``unlocking`` that long.
- ``offline``: any device offline or stale for ``offline_alarm_minutes`` since its
  twin's ``changed_at``, or never heard from that long since the controller started.
- ``battery_low``: a lock's ``battery_low`` event, or battery < ``battery_low_percent``.
- ``fire``: the site's fire signal in state ``alarm`` (site-wide: no apartment/device).
- a device type's own alarms (``alarms`` in ``devices/contract/types/{type}.py``, e.g. a
  bed-exit sensor's ``left_bed``): its state shows the condition for the declared
  minutes since the device says it began; ``night_only`` ones only if it began inside
  ``night_window``, ``needs_supervision`` ones only with a recorded basis in force that
  day (like ``night_door``, flagged ``review_overdue`` past the review date).

Device kinds suggest the unlock reason ``technician``. A suggested reason not in the
site's ``unlock_reasons`` is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from config.site import Apartment, Site
from devices.contract import DEVICE_TYPES, DeviceType, LockState, spec_for
from devices.contract.type_spec import StateAlarm

from ..bus_messages import DeviceEvent, FireChanged
from ..twins import Reachability, Twin
from .model import AlarmKind

#: A lock online without a settled state for longer than this is ``unknown_state``.
UNKNOWN_STATE_AFTER = timedelta(minutes=1)

_REASONS = {
    AlarmKind.HELP: "emergency",
    AlarmKind.NIGHT_DOOR: "emergency",
    AlarmKind.FIRE: "emergency",
    AlarmKind.JAMMED: "technician",
    AlarmKind.UNKNOWN_STATE: "technician",
    AlarmKind.OFFLINE: "technician",
    AlarmKind.BATTERY_LOW: "technician",
    **{a.kind: a.suggested_reason for s in DEVICE_TYPES.values() for a in s.alarms},
}


@dataclass(frozen=True, slots=True)
class AlarmCandidate:
    """Something that should be an alarm (the service dedupes and stores it)."""

    kind: str
    apartment: str | None
    device: str | None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def suggested_reason(self) -> str | None:
        return self.details.get("suggested_reason")


@dataclass(frozen=True, slots=True)
class Condition:
    """A lasting problem a twin shows now; an alarm once it has lasted ``hold``."""

    kind: str
    #: When it began, if the twin knows; None: from when the caller first saw it.
    since: datetime | None
    hold: timedelta
    details: dict[str, Any] = field(default_factory=dict)

    def due(self, first_seen: datetime, now: datetime) -> bool:
        """True once the condition has lasted at least ``hold``."""
        return now - (self.since or first_seen) >= self.hold


def _candidate(
    site: Site, kind: str, apartment: str | None, device: str | None, **details: Any
) -> AlarmCandidate:
    reason = _REASONS.get(kind)
    if reason is not None and reason in site.site.unlock_reasons:
        details["suggested_reason"] = reason
    return AlarmCandidate(kind, apartment, device, details)


# ------------------------------------------------------------------ night window


def parse_window(text: str) -> tuple[time, time]:
    """``"22:00-06:00"`` → (22:00, 06:00)."""
    start, end = text.split("-")
    return time.fromisoformat(start), time.fromisoformat(end)


def local_time(now: datetime, site: Site) -> datetime:
    """``now`` (aware) on the site's wall clock."""
    return now.astimezone(site.zone)


def in_night_window(now: datetime, site: Site) -> bool:
    """Whether the site's local wall time at ``now`` is inside ``night_window``."""
    start, end = parse_window(site.site.night_window)
    t = local_time(now, site).time().replace(tzinfo=None)
    if start == end:
        return True
    if start < end:
        return start <= t < end
    return t >= start or t < end


def supervision(apartment: Apartment | None, today: date) -> dict[str, Any] | None:
    """The recorded night-supervision basis in force on ``today`` (details for the
    alarm), or None: nothing recorded, or decided only for a later date."""
    if apartment is None or apartment.night_supervision is None:
        return None
    basis = apartment.night_supervision
    if today < basis.decided:
        return None
    return {
        "basis": basis.basis,
        "decided": basis.decided.isoformat(),
        "review": basis.review.isoformat(),
        "review_overdue": today > basis.review,
    }


# ------------------------------------------------------------------ events


def from_event(event: DeviceEvent, site: Site, now: datetime) -> AlarmCandidate | None:
    """The alarm a device event raises, if any; ``now`` is when the controller received it."""
    found = site.device(event.device)
    if found is None:
        return None
    apartment, entry = found
    kind = event.type
    base = {
        "event": kind,
        "event_ts": event.ts.isoformat(),
        "device_ts": event.details.get("device_ts"),
    }
    if entry.type is DeviceType.SCREEN and kind == "help_pressed":
        return _candidate(site, AlarmKind.HELP, apartment.number, entry.id, **base)
    if entry.type is not DeviceType.LOCK:
        return None
    if kind == "door_opened":
        if not in_night_window(now, site):
            return None
        basis = supervision(apartment, local_time(now, site).date())
        if basis is None:
            return None
        return _candidate(
            site,
            AlarmKind.NIGHT_DOOR,
            apartment.number,
            entry.id,
            **base,
            night_window=site.site.night_window,
            supervision=basis,
            review_overdue=basis["review_overdue"],
        )
    if kind == "jammed":
        return _candidate(
            site,
            AlarmKind.JAMMED,
            apartment.number,
            entry.id,
            **base,
            target=event.details.get("target"),
        )
    if kind == "battery_low":
        return _candidate(
            site,
            AlarmKind.BATTERY_LOW,
            apartment.number,
            entry.id,
            **base,
            battery=event.details.get("battery"),
        )
    return None


def from_fire(signal: FireChanged, site: Site) -> AlarmCandidate | None:
    """The site-wide fire alarm for a fire signal in state ``alarm``."""
    if signal.state != "alarm":
        return None
    return _candidate(site, AlarmKind.FIRE, None, None, signal_ts=signal.ts.isoformat())


# ------------------------------------------------------------------ twins


def twin_conditions(twin: Twin, site: Site) -> list[Condition]:
    """Every lasting problem the twin shows right now (not yet judged by duration)."""
    info = site.site
    out: list[Condition] = []
    offline_hold = timedelta(minutes=info.offline_alarm_minutes)
    if twin.reachability in (Reachability.OFFLINE, Reachability.STALE):
        out.append(
            Condition(
                AlarmKind.OFFLINE,
                twin.changed_at,
                offline_hold,
                {
                    "availability": twin.reachability.value,
                    "since": twin.changed_at.isoformat() if twin.changed_at else None,
                    "last_seen": twin.last_seen.isoformat() if twin.last_seen else None,
                },
            )
        )
    elif twin.reachability is Reachability.UNKNOWN:
        out.append(Condition(AlarmKind.OFFLINE, None, offline_hold, {"reason": "never_reported"}))
    if twin.reachability is not Reachability.ONLINE:
        return out
    for alarm in spec_for(twin.type).alarms:
        condition = _type_condition(alarm, twin, site)
        if condition is not None:
            out.append(condition)
    if twin.type is not DeviceType.LOCK:
        return out
    state = twin.reported
    if not isinstance(state, LockState):
        out.append(Condition(AlarmKind.UNKNOWN_STATE, None, UNKNOWN_STATE_AFTER, {"lock": None}))
        return out
    if state.lock in ("locking", "unlocking"):
        out.append(
            Condition(AlarmKind.UNKNOWN_STATE, None, UNKNOWN_STATE_AFTER, {"lock": state.lock})
        )
    if state.lock == "jammed":
        out.append(Condition(AlarmKind.JAMMED, None, timedelta(0), {"lock": "jammed"}))
    if state.battery < info.battery_low_percent:
        out.append(
            Condition(
                AlarmKind.BATTERY_LOW,
                None,
                timedelta(0),
                {"battery": state.battery, "threshold": info.battery_low_percent},
            )
        )
    return out


def _type_condition(alarm: StateAlarm, twin: Twin, site: Site) -> Condition | None:
    """The type's declared alarm as a condition, if the twin's state shows it now."""
    state = twin.reported
    if state is None or not alarm.active(state):
        return None
    since = alarm.since(state)
    details: dict[str, Any] = {
        "since": since.isoformat() if since else None,
        "minutes": alarm.minutes,
    }
    if alarm.night_only:
        if since is None or not in_night_window(since, site):
            return None
        details["night_window"] = site.site.night_window
    if alarm.needs_supervision:
        found = site.device(twin.id)
        day = local_time(since or state.ts, site).date()
        basis = supervision(found[0] if found else None, day)
        if basis is None:
            return None
        details["supervision"] = basis
        details["review_overdue"] = basis["review_overdue"]
    return Condition(alarm.kind, since, timedelta(minutes=alarm.minutes), details)


def from_condition(condition: Condition, twin: Twin, site: Site) -> AlarmCandidate:
    """The alarm for a condition that is due."""
    return _candidate(site, condition.kind, twin.apartment, twin.id, **condition.details)
