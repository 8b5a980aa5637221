"""Who is calling, with what roles and over which wings or apartments."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from config.site import Apartment
from devices.contract.device_types import MAINTENANCE_ACTIONS, spec_for

from ..store.records import UserRecord


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"
    TECHNICIAN = "technician"
    RELATIVE = "relative"
    SCREEN = "screen"


ROLES = frozenset(r.value for r in Role)


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller; ``actor`` (the username) is what the audit records."""

    actor: str
    user_id: str
    roles: frozenset[str]
    units: frozenset[str] = frozenset()
    apartments: frozenset[str] = frozenset()
    via: Literal["session", "token"] = "token"
    csrf_token: str | None = None
    session_id: str | None = None
    token_id: str | None = None
    display_name: str = ""
    language: str = "sv"

    @classmethod
    def of(
        cls,
        user: UserRecord,
        *,
        via: Literal["session", "token"],
        csrf_token: str | None = None,
        session_id: str | None = None,
        token_id: str | None = None,
    ) -> Principal:
        return cls(
            actor=user.username,
            user_id=user.id,
            roles=frozenset(user.roles),
            units=frozenset(user.units),
            apartments=frozenset(user.apartments),
            via=via,
            csrf_token=csrf_token,
            session_id=session_id,
            token_id=token_id,
            display_name=user.display_name,
            language=user.language,
        )

    def has_role(self, *roles: str) -> bool:
        """True if the caller holds any of ``roles``."""
        return not self.roles.isdisjoint(roles)

    def may_act_on(self, apartment: Apartment) -> bool:
        """Admin anywhere; staff only in the wings of their units; nobody else."""
        if Role.ADMIN in self.roles:
            return True
        return Role.STAFF in self.roles and bool(apartment.wing) and apartment.wing in self.units

    def may_see(self, apartment: Apartment) -> bool:
        """Admin, staff and technicians see every apartment; relatives and screens
        only their own."""
        if self.has_role(Role.ADMIN, Role.STAFF, Role.TECHNICIAN):
            return True
        return self.has_role(Role.RELATIVE, Role.SCREEN) and apartment.number in self.apartments


def may_command(principal: Principal, apartment: Apartment | None, action: str) -> bool:
    """Whether ``principal`` may send ``action`` to a device of ``apartment``.

    Admin: anything anywhere. Technician: maintenance actions (ping, identify, reboot,
    update_firmware) anywhere. Staff: every action, only in their units' wings.
    Relatives and screens: nothing.
    """
    if Role.ADMIN in principal.roles:
        return True
    if action in MAINTENANCE_ACTIONS and Role.TECHNICIAN in principal.roles:
        return True
    return apartment is not None and principal.may_act_on(apartment)


def commands_allowed(
    principal: Principal, apartment: Apartment | None, device_type: str
) -> list[str]:
    """The actions of ``device_type`` that ``principal`` may send to such a device of
    ``apartment`` (:func:`may_command`), in the type's order: what the page offers."""
    return [a for a in spec_for(device_type).actions if may_command(principal, apartment, a)]
