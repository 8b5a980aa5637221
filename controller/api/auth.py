"""One auth path for every client: a bearer token checked against the store.

Tokens are random (``tg_`` + 32 bytes, URL-safe); the store keeps only their SHA-256.
Browsers' WebSockets cannot set headers, so ``/api/ws`` also takes ``?token=``.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from ..store import ApiToken, Store
from .errors import ApiError

TOKEN_PREFIX = "tg_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the actor recorded in the audit log."""

    actor: str
    token_id: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(
    store: Store, *, name: str, actor: str, now: datetime
) -> tuple[str, ApiToken]:
    """Make a token for ``actor``; returns the secret (shown once) and its record."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        id=uuid.uuid4().hex[:12],
        name=name,
        actor=actor,
        token_hash=hash_token(secret),
        created_at=now,
    )
    await store.add_token(record)
    return secret, record


def _presented_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip()
    if request.path == "/api/ws":
        return request.query.get("token")
    return None


async def authenticate(request: web.Request, store: Store) -> Principal:
    """The caller's principal, or a 401 :class:`ApiError`."""
    token = _presented_token(request)
    if not token:
        raise ApiError(401, "unauthenticated", "send 'Authorization: Bearer <token>'")
    record = await store.token_by_hash(hash_token(token))
    if record is None or record.revoked_at is not None:
        raise ApiError(401, "bad_token", "token unknown or revoked")
    return Principal(actor=record.actor, token_id=record.id)
