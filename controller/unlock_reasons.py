"""Why a door is unlocked: every unlock carries a reason, whichever path sends it.

A person's or a script's unlock (dashboard, API, CLI, Home Assistant) gives one of the
site's ``unlock_reasons``, optionally followed by ``": "`` and free text
(``"emergency: Astrid fell in the bathroom"``), or ``"other: <text>"``. A schedule's
unlock gives the schedule's name (its actor, ``schedule:...``, is set by the engine,
never by a caller; an unlock schedule must have a name). The command bus applies this
before anything is audited or sent (:meth:`controller.command_bus.CommandBus.send`),
so no path can leave it out.
"""

from __future__ import annotations

from collections.abc import Sequence

from config.site import OTHER_REASON as OTHER
from scheduler.holds import SCHEDULE_ACTOR

#: Between a listed reason and its free text.
SEPARATOR = ":"


class BadReason(ValueError):
    """An unlock whose reason is missing or not one the site accepts."""


def accepted(reasons: Sequence[str]) -> str:
    """The accepted reasons in words, for an error message."""
    listed = ", ".join(f"'{r}'" for r in reasons)
    return f"one of {listed} (each may be followed by ': <text>'), or '{OTHER}: <text>'"


def unlock_reason(reasons: Sequence[str], reason: str | None, *, actor: str) -> str:
    """The reason of an unlock as it is audited; :class:`BadReason` if it has none the
    site accepts. A listed reason is matched without regard to case and written as the
    site spells it."""
    text = (reason or "").strip()
    if actor.startswith(SCHEDULE_ACTOR):
        if not text:
            raise BadReason("a schedule's unlock carries the schedule's name: it has none")
        return text
    head, _sep, tail = text.partition(SEPARATOR)
    head, tail = head.strip(), tail.strip()
    if head.casefold() == OTHER:
        if tail:
            return f"{OTHER}{SEPARATOR} {tail}"
        raise BadReason(f"'{OTHER}' needs a text saying why: '{OTHER}: <text>'")
    listed = {r.casefold(): r for r in reasons}
    if head.casefold() in listed:
        name = listed[head.casefold()]
        return f"{name}{SEPARATOR} {tail}" if tail else name
    given = f"{text!r} is not a reason this site accepts" if text else "no reason was given"
    raise BadReason(f"an unlock needs a reason, {given}: {accepted(reasons)}")
