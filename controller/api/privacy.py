"""What a technician is not shown: residents' calls, staff's messages to residents,
who ordered a command and why, and residents' alarms.

Technicians keep the devices working: they see every twin, event and command outcome
they need for that, but not the residents' video calls (who called, when, accepted or
declined: the call events, the ``ring``/``end_call`` commands, a screen's ``call_id``),
nor the text of staff's messages on a screen, nor the command audit's ``actor`` and
``reason`` ("emergency: Astrid fell in the bathroom"), nor alarms other than device
alarms. Admin and staff see everything of the apartments they may see. One place for
the rule: the HTTP routes (``/api/audit`` and ``/api/activity`` declare
:data:`PRIVATE_READERS`) and every kind of WebSocket message (:func:`live_for`) ask here.
"""

from __future__ import annotations

from typing import Any

from ..alarms import DEVICE_KINDS
from ..auth.principal import Principal, Role

#: Roles that read the private records: calls, messages, the command audit, the
#: activity log, residents' alarms.
PRIVATE_READERS = (Role.ADMIN.value, Role.STAFF.value)

#: Device events that are part of a resident's call history.
CALL_EVENTS = frozenset({"call_accepted", "call_declined"})
#: Commands that are part of a call.
CALL_ACTIONS = frozenset({"ring", "end_call"})
#: Fields of a screen's reported state a technician does not get.
PRIVATE_STATE = ("call_id", "message")
#: Commands whose arguments (a caller's name, a message's text) are private.
PRIVATE_ARGS = CALL_ACTIONS | {"show_message"}
#: Fields of a command outcome that are the audit's: who ordered it and why.
AUDIT_FIELDS = ("actor", "reason")


def sees_private(principal: Principal) -> bool:
    """Admin and staff see calls, messages and the audit; technicians do not."""
    return principal.has_role(*PRIVATE_READERS)


def event_for(principal: Principal, event: dict[str, Any]) -> dict[str, Any] | None:
    """The event as ``principal`` may see it, or None."""
    if sees_private(principal) or event.get("type") not in CALL_EVENTS:
        return event
    return None


def _public_state(state: Any) -> Any:
    if isinstance(state, dict) and any(key in state for key in PRIVATE_STATE):
        return {k: v for k, v in state.items() if k not in PRIVATE_STATE}
    return state


def command_for(principal: Principal, outcome: dict[str, Any]) -> dict[str, Any] | None:
    """A command outcome as ``principal`` may see it (without who ordered it and why,
    the acked state without its private fields), or None for a call's commands."""
    if sees_private(principal):
        return outcome
    if outcome.get("action") in CALL_ACTIONS:
        return None
    shown = {k: v for k, v in outcome.items() if k not in AUDIT_FIELDS}
    return {**shown, "state": _public_state(outcome.get("state"))}


def twin_for(principal: Principal, twin: dict[str, Any]) -> dict[str, Any]:
    """A twin (``Twin.to_dict()``) without the private fields of its state and of its
    last command (``desired``)."""
    if sees_private(principal):
        return twin
    out = {**twin, "state": _public_state(twin.get("state"))}
    desired = twin.get("desired")
    if isinstance(desired, dict) and desired.get("action") in PRIVATE_ARGS:
        out["desired"] = {}
    return out


def alarm_kinds_for(principal: object) -> frozenset[str] | None:
    """The alarm kinds ``principal`` sees (None: every kind): admin and staff all,
    technicians device alarms, nobody else any (they carry residents' names and
    nurses' notes)."""
    roles = getattr(principal, "roles", None)
    if roles is None:  # a principal without roles: the access layer decides alone
        return None
    if not roles.isdisjoint(PRIVATE_READERS):
        return None
    return DEVICE_KINDS if Role.TECHNICIAN in roles else frozenset()


def may_see_alarm(principal: object, kind: object) -> bool:
    """Whether ``principal`` sees an alarm of ``kind``."""
    kinds = alarm_kinds_for(principal)
    return kinds is None or kind in kinds


def live_for(principal: Principal, kind: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """A WebSocket message's data as ``principal`` may see it, or None (not sent):
    the same rule per kind as the HTTP route that serves that kind."""
    if kind == "event":
        return event_for(principal, data)
    if kind == "command":
        return command_for(principal, data)
    if kind == "twin":
        return twin_for(principal, data)
    if kind == "alarm":
        return data if may_see_alarm(principal, data.get("kind")) else None
    if kind == "fire":  # the site's fire signal: everyone who sees the site
        return data
    return None  # a kind nobody decided on is not sent
