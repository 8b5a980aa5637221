"""What a technician is not shown: residents' calls and staff's messages to residents.

Technicians keep the devices working: they see every twin, event and command outcome
they need for that, but not the residents' video calls (who called, when, accepted or
declined: the call events, the ``ring``/``end_call`` commands, a screen's ``call_id``)
nor the text of staff's messages on a screen. Admin and staff see everything of the
apartments they may see. One place for the rule: the HTTP routes and the WebSocket
both ask here.
"""

from __future__ import annotations

from typing import Any

from ..auth.principal import Principal, Role

#: Device events that are part of a resident's call history.
CALL_EVENTS = frozenset({"call_accepted", "call_declined"})
#: Commands that are part of a call.
CALL_ACTIONS = frozenset({"ring", "end_call"})
#: Fields of a screen's reported state a technician does not get.
PRIVATE_STATE = ("call_id", "message")
#: Commands whose arguments (a caller's name, a message's text) are private.
PRIVATE_ARGS = CALL_ACTIONS | {"show_message"}


def sees_private(principal: Principal) -> bool:
    """Admin and staff see calls and messages; technicians do not."""
    return principal.has_role(Role.ADMIN, Role.STAFF)


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
    """A command outcome as ``principal`` may see it (the acked state without its
    private fields), or None for a call's commands."""
    if sees_private(principal):
        return outcome
    if outcome.get("action") in CALL_ACTIONS:
        return None
    return {**outcome, "state": _public_state(outcome.get("state"))}


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


def live_for(principal: Principal, kind: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """A WebSocket message's data as ``principal`` may see it, or None (not sent)."""
    if kind == "event":
        return event_for(principal, data)
    if kind == "command":
        return command_for(principal, data)
    if kind == "twin":
        return twin_for(principal, data)
    return data
