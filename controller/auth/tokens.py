"""API tokens and session cookies: random secrets of which the store keeps only a
SHA-256. A token acts as the user named by its ``actor``."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

from ..store.records import ApiToken
from ..store.repository import Store

TOKEN_PREFIX = "tg_"


class NoSuchUser(LookupError):
    """A token was asked for a user that does not exist or is disabled."""


def hash_secret(secret: str) -> str:
    """The SHA-256 (hex) the store keeps instead of a token's or cookie's secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


hash_token = hash_secret


def new_secret(prefix: str = "") -> str:
    """32 random bytes, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


async def create_token(
    store: Store, *, name: str, actor: str, now: datetime
) -> tuple[str, ApiToken]:
    """Make a token acting as user ``actor``; returns the secret (shown once) and its
    record. It only works while that user exists (created no later than the token)
    and is not disabled; prefer :func:`create_user_token`, which checks that."""
    secret = new_secret(TOKEN_PREFIX)
    record = ApiToken(
        id=uuid.uuid4().hex[:12],
        name=name,
        actor=actor,
        token_hash=hash_secret(secret),
        created_at=now,
    )
    await store.add_token(record)
    return secret, record


async def create_user_token(
    store: Store, *, username: str, name: str, now: datetime
) -> tuple[str, ApiToken]:
    """A token for an existing, enabled user; :class:`NoSuchUser` otherwise."""
    user = await store.user_by_name(username)
    if user is None:
        raise NoSuchUser(f"no user {username!r}")
    if user.disabled:
        raise NoSuchUser(f"user {username!r} is disabled")
    return await create_token(store, name=name, actor=user.username, now=now)
