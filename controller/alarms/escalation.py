"""Whom an alarm goes to now: the shift's escalation order from the site file.

A new alarm goes to the first person of the shift on duty, each escalation (nobody
took it within ``escalate_after_minutes``) to the next, and once the list is used up
to everyone. The shift is the one on duty at the alarm's last escalation (or when it
was raised, before any): a night alarm escalated after the morning shift started
goes on through the morning shift's list. No shift at that time (or none in the
site file): everyone at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from config.site import Shift, Site


@dataclass(frozen=True)
class Addressed:
    """Who an alarm is addressed to: ``to`` (usernames), or ``everyone``."""

    shift: str | None
    to: tuple[str, ...]
    everyone: bool

    def to_json(self) -> dict[str, object]:
        return {"shift": self.shift, "to": list(self.to), "everyone": self.everyone}


def shift_at(site: Site, when: datetime) -> Shift | None:
    """The shift on duty at ``when`` (site time), or None."""
    local = when.astimezone(site.zone)
    minute = local.hour * 60 + local.minute
    return next((s for s in site.site.shifts if minute in s.minutes()), None)


def addressed(site: Site, escalations: int, at: datetime) -> Addressed:
    """Whom an alarm escalated ``escalations`` times, last at ``at``, goes to."""
    shift = shift_at(site, at)
    if shift is None:
        return Addressed(None, (), True)
    if escalations < len(shift.escalation):
        return Addressed(shift.name, (shift.escalation[escalations],), False)
    return Addressed(shift.name, (), True)
