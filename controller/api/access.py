"""Who may do what: the one place API handlers ask.

Routes declare their roles with :func:`requires` (enforced by the auth middleware);
handlers narrow further with :func:`require_roles`, :func:`require_apartment` and
:func:`require_visible`. A refusal raises a 403 :class:`ApiError`, which the auth
middleware writes to the activity log.
"""

from __future__ import annotations

from aiohttp import web

from config.site import Apartment

from ..auth.principal import Principal, Role, may_command
from .app import PRINCIPAL
from .errors import ApiError
from .keys import SITE, TWINS
from .roles import public, requires, signed_in

__all__ = [
    "principal_of",
    "public",
    "require_apartment",
    "require_command",
    "require_roles",
    "require_visible",
    "requires",
    "signed_in",
]


def principal_of(request: web.Request) -> Principal:
    """The authenticated caller of ``request``."""
    return request[PRINCIPAL]


def require_roles(request: web.Request, *roles: str) -> Principal:
    """The caller, if they hold one of ``roles``; else 403 ``forbidden``."""
    principal = principal_of(request)
    if not principal.has_role(*roles):
        raise ApiError(
            403,
            "forbidden",
            f"needs one of the roles {', '.join(sorted(roles))}",
            {"required": sorted(roles)},
        )
    return principal


def _apartment(request: web.Request, number: str) -> Apartment | None:
    return next((a for a in request.app[SITE].apartments if a.number == number), None)


def require_apartment(request: web.Request, apartment_number: str | None) -> Principal:
    """The caller, if they may act on apartment ``apartment_number`` (admin anywhere,
    staff in their units' wings); ``None`` means the whole site (admin and staff).
    Else 403 ``forbidden``."""
    principal = principal_of(request)
    if apartment_number is None:
        if principal.has_role(Role.ADMIN, Role.STAFF):
            return principal
        raise ApiError(403, "forbidden", "only admin and staff act on site-wide matters")
    apartment = _apartment(request, apartment_number)
    if principal.has_role(Role.ADMIN) or (
        apartment is not None and principal.may_act_on(apartment)
    ):
        return principal
    raise ApiError(
        403,
        "forbidden",
        f"you may not act on apartment {apartment_number}"
        + (f" (wing {apartment.wing} is not one of your units)" if apartment else ""),
        {"refusal": "apartment", "apartment": apartment_number},
    )


def require_visible(request: web.Request, apartment_number: str | None) -> Principal:
    """The caller, if they may see apartment ``apartment_number`` (``None``: the whole
    site, for admin, staff and technicians). Else 403 ``forbidden``."""
    principal = principal_of(request)
    site_wide = principal.has_role(Role.ADMIN, Role.STAFF, Role.TECHNICIAN)
    apartment = _apartment(request, apartment_number) if apartment_number else None
    if site_wide or (apartment is not None and principal.may_see(apartment)):
        return principal
    raise ApiError(
        403,
        "forbidden",
        f"you may not see apartment {apartment_number}"
        if apartment_number
        else "only admin, staff and technicians see the whole site",
        {"apartment": apartment_number},
    )


def require_command(request: web.Request, device: str, action: str) -> Principal:
    """The caller, if they may send ``action`` to ``device``; else 403 ``forbidden``."""
    principal = principal_of(request)
    apartment = request.app[TWINS].apartment(device)
    if may_command(principal, apartment, action):
        return principal
    where = f"apartment {apartment.number}" if apartment else device
    if apartment is not None and principal.has_role(Role.STAFF) and apartment.wing:
        where += f", wing {apartment.wing}: not one of your units"
    raise ApiError(
        403,
        "forbidden",
        f"you may not send {action!r} to {device} ({where})",
        {
            "refusal": "command",  # the page's text: error_forbidden_command
            "apartment": apartment.number if apartment else None,
            "wing": apartment.wing if apartment else None,
            "device": device,
            "action": action,
        },
    )
