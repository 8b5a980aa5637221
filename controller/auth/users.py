"""The rules for user accounts, shared by the admin API, the CLI and the demo."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable
from datetime import datetime

from config.site import Site

from ..store.records import UserRecord
from .principal import ROLES, Role

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,31}$")
UNIT = re.compile(r"^[0-9A-Za-z_-]{1,32}$")
APARTMENT = re.compile(r"^[0-9A-Za-z-]{1,8}$")
LANGUAGES = ("sv", "en")
#: Roles that are scoped to apartments and never combine with others.
APARTMENT_ROLES = frozenset({Role.RELATIVE.value, Role.SCREEN.value})


class InvalidUser(ValueError):
    """A user field that breaks the rules; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def normalize_username(raw: str) -> str:
    """How a typed username is compared: trimmed and lower case."""
    return raw.strip().lower()


def check_username(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise InvalidUser(
            "username",
            "3-32 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter",
        )
    return username


def check_display_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 64:
        raise InvalidUser("display_name", "1-64 characters")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise InvalidUser("display_name", "no control characters")
    return name


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise InvalidUser("language", f"one of {', '.join(LANGUAGES)}")
    return language


def _clean(values: Iterable[str], field: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        value = value.strip()
        if not pattern.fullmatch(value):
            raise InvalidUser(field, f"{value!r} is not a valid value")
        if value not in out:
            out.append(value)
    return tuple(sorted(out))


def check_scope(
    roles: Iterable[str],
    units: Iterable[str] = (),
    apartments: Iterable[str] = (),
    site: Site | None = None,
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Roles, units and apartments that fit together (checked against ``site`` when
    given); returned sorted and without duplicates."""
    role_set = tuple(sorted({r.strip() for r in roles}))
    unknown = [r for r in role_set if r not in ROLES]
    if unknown:
        raise InvalidUser("roles", f"unknown {unknown}; roles are {', '.join(sorted(ROLES))}")
    if not role_set:
        raise InvalidUser("roles", "at least one role")
    scoped = APARTMENT_ROLES.intersection(role_set)
    if scoped and len(role_set) > 1:
        raise InvalidUser("roles", "relative and screen cannot be combined with other roles")
    unit_set = _clean(units, "units", UNIT)
    apartment_set = _clean(apartments, "apartments", APARTMENT)
    if Role.STAFF in role_set and not unit_set:
        raise InvalidUser("units", "staff need at least one unit (wing)")
    if unit_set and Role.STAFF not in role_set:
        raise InvalidUser("units", "units only apply to staff")
    if scoped and not apartment_set:
        raise InvalidUser("apartments", "relatives and screens need at least one apartment")
    if apartment_set and not scoped:
        raise InvalidUser("apartments", "apartments only apply to relatives and screens")
    if site is not None:
        wings = {a.wing for a in site.apartments if a.wing}
        numbers = {a.number for a in site.apartments}
        bad_units = [u for u in unit_set if u not in wings]
        if bad_units:
            raise InvalidUser("units", f"no wing {bad_units} on this site ({sorted(wings)})")
        bad_apts = [a for a in apartment_set if a not in numbers]
        if bad_apts:
            raise InvalidUser("apartments", f"no apartment {bad_apts} on this site")
    return role_set, unit_set, apartment_set


def new_user(
    *,
    username: str,
    password_hash: str,
    roles: Iterable[str],
    now: datetime,
    display_name: str | None = None,
    units: Iterable[str] = (),
    apartments: Iterable[str] = (),
    language: str = "sv",
    site: Site | None = None,
) -> UserRecord:
    """A validated new user record (the password already hashed)."""
    username = check_username(normalize_username(username))
    role_set, unit_set, apartment_set = check_scope(roles, units, apartments, site)
    return UserRecord(
        id=uuid.uuid4().hex[:16],
        username=username,
        display_name=check_display_name(display_name or username),
        password_hash=password_hash,
        roles=role_set,
        units=unit_set,
        apartments=apartment_set,
        language=check_language(language),
        disabled=False,
        failed_logins=0,
        locked_until=None,
        created_at=now,
        password_changed_at=now,
    )


def user_json(user: UserRecord, *, admin_view: bool = False) -> dict[str, object]:
    """A user as the API shows it (never the hash)."""
    body: dict[str, object] = {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "roles": list(user.roles),
        "units": list(user.units),
        "apartments": list(user.apartments),
        "language": user.language,
    }
    if admin_view:
        body.update(
            disabled=user.disabled,
            failed_logins=user.failed_logins,
            locked_until=user.locked_until.isoformat() if user.locked_until else None,
            created_at=user.created_at.isoformat(),
            password_changed_at=user.password_changed_at.isoformat(),
        )
    return body
