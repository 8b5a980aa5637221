"""Changing accounts the same way from the admin API, the CLI and the demo."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from config.site import Site

from ..store.records import UserChanges, UserRecord
from ..store.repository import Store
from .password_rules import WeakPassword, check_password
from .passwords import hash_async
from .users import new_user


async def set_password(
    store: Store,
    user: UserRecord,
    password: str,
    now: datetime,
    *,
    keep_session: str | None = None,
    site: Site | None = None,
) -> UserRecord:
    """Check and store a new password; unlock the account and end its sessions
    (all but ``keep_session``). :class:`WeakPassword` if it breaks the rules (for
    this user at ``site``)."""
    check_password(password, user.username, display_name=user.display_name, site=site)
    changes: UserChanges = {
        "password_hash": await hash_async(password),
        "password_changed_at": now,
        "failed_logins": 0,
        "locked_until": None,
    }
    updated = await store.update_user(user.id, changes)
    await store.revoke_all_for_user(user.id, now, keep=keep_session)
    return updated or user


async def set_disabled(store: Store, user: UserRecord, disabled: bool, now: datetime) -> UserRecord:
    """Disable (ending every session at once) or enable a user."""
    updated = await store.update_user(user.id, {"disabled": disabled})
    if disabled:
        await store.revoke_all_for_user(user.id, now)
    return updated or user


def random_password(username: str = "") -> str:
    """A random password that follows the rules (16 URL-safe characters)."""
    while True:
        password = secrets.token_urlsafe(12)
        try:
            check_password(password, username)
        except WeakPassword:
            continue
        return password


async def ensure_user(
    store: Store,
    *,
    username: str,
    password: str,
    roles: Iterable[str],
    now: datetime,
    display_name: str | None = None,
    units: Iterable[str] = (),
    apartments: Iterable[str] = (),
    site: Site | None = None,
) -> UserRecord:
    """Create a user, or give an existing one this password (enabled, unlocked);
    :class:`WeakPassword` if it breaks the rules."""
    existing = await store.user_by_name(username)
    if existing is None:
        check_password(password, username, display_name=display_name or "", site=site)
        user = new_user(
            username=username,
            password_hash=await hash_async(password),
            roles=roles,
            units=units,
            apartments=apartments,
            display_name=display_name,
            now=now,
        )
        if await store.add_user(user):
            return user
        existing = await store.user_by_name(username)
        assert existing is not None
    user = await set_password(store, existing, password, now, site=site)
    return await set_disabled(store, user, False, now)
