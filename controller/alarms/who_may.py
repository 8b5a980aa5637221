"""Who may take, be on site for and close an alarm: the one rule, asked by the alarm
routes (enforcement) and by the answers that tell the page which buttons to draw.

Admin: every alarm. Staff: alarms of apartments in their units' wings, and the
site-wide ones (fire, broker unreachable). Technicians: the technical alarms (a device
offline, a low battery, a jammed lock, a lock's state unknown) anywhere: they fix the
device and close what they fixed. Nobody else: none.
"""

from __future__ import annotations

from typing import Any

from config.site import Site

from ..auth.principal import Principal, Role
from ..store.alarm_records import AlarmRecord
from .model import ACTION_FROM, DEVICE_KINDS, alarm_json

#: The actions on an alarm, in the order of the night flow.
ALARM_ACTIONS = ("ack", "on_site", "close")


def may_handle(principal: Principal, kind: str, apartment: str | None, site: Site) -> bool:
    """Whether ``principal`` may act on an alarm of ``kind`` in apartment number
    ``apartment`` of ``site`` (None: a site-wide alarm)."""
    if principal.has_role(Role.ADMIN):
        return True
    if principal.has_role(Role.TECHNICIAN) and kind in DEVICE_KINDS:
        return True
    if not principal.has_role(Role.STAFF):
        return False
    if apartment is None:
        return True
    found = next((a for a in site.apartments if a.number == apartment), None)
    return found is not None and principal.may_act_on(found)


def actions_allowed(
    principal: Principal, kind: str, apartment: str | None, state: str, site: Site
) -> list[str]:
    """The actions ``principal`` may take on such an alarm now (its state allows them)."""
    if not may_handle(principal, kind, apartment, site):
        return []
    return [a for a in ALARM_ACTIONS if state in ACTION_FROM[a]]


def alarm_may(principal: Principal, alarm: dict[str, Any], site: Site) -> list[str]:
    """:func:`actions_allowed` for an alarm as the API shows it (``alarm_json``)."""
    return actions_allowed(
        principal, str(alarm.get("kind")), alarm.get("apartment"), str(alarm.get("state")), site
    )


def alarm_json_for(principal: Principal, alarm: AlarmRecord, site: Site) -> dict[str, Any]:
    """The alarm as the API answers it to ``principal``: its JSON with ``may``, the
    actions the caller may take on it now (every route that answers an alarm)."""
    shown = alarm_json(alarm, site)
    shown["may"] = actions_allowed(principal, alarm.kind, alarm.apartment, alarm.state, site)
    return shown
