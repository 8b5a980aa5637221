"""Acting for a user who is not there: a schedule's owner, Home Assistant's user.

Such a command runs with the user's rights at the moment it is sent, read from the
store then (not when the schedule was made or the bridge started): a missing or
disabled user, a lost role or a lost wing refuses it, by the rule the API applies to
a person (:func:`~.principal.may_command`). The one place the scheduler and the Home
Assistant bridge ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from config.site import Apartment

from ..store.records import UserRecord
from ..store.repository import StoreError
from .principal import Principal, may_command


class UserLookup(Protocol):
    async def user_by_name(self, username: str) -> UserRecord | None: ...


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a command for an absent user is not sent."""

    #: ``no_user`` (missing or disabled), ``not_permitted``, ``store_unavailable``
    code: str
    why: str


async def standing_of(users: UserLookup, username: str) -> Principal | Refusal:
    """The user's rights now, or why they have none."""
    try:
        user = await users.user_by_name(username)
    except StoreError as exc:
        return Refusal("store_unavailable", f"store unavailable: {exc}")
    if user is None:
        return Refusal("no_user", f"user {username!r} does not exist")
    if user.disabled:
        return Refusal("no_user", f"user {username!r} is disabled")
    return Principal.of(user, via="token")


def refusal(
    standing: Principal | Refusal, device: str, apartment: Apartment | None, action: str
) -> Refusal | None:
    """Why ``standing`` may not send ``action`` to ``device`` now; None if it may."""
    if isinstance(standing, Refusal):
        return standing
    if may_command(standing, apartment, action):
        return None
    roles = ", ".join(sorted(standing.roles)) or "none"
    wings = ", ".join(sorted(standing.units)) or "none"
    where = f"apartment {apartment.number}, wing {apartment.wing or '-'}" if apartment else device
    return Refusal(
        "not_permitted",
        f"user {standing.actor!r} may not {action} {device} ({where}; roles: {roles}; "
        f"wings: {wings})",
    )
