"""Who may do what: the one place API handlers ask.

Handlers call :func:`require_roles` and :func:`require_apartment`; a refusal raises a
403 :class:`ApiError` (and is logged to the activity log by the auth layer).
This first version knows only the caller's actor; the people issue fills it in.
"""

from __future__ import annotations

from aiohttp import web

from .app import PRINCIPAL
from .auth import Principal


def principal_of(request: web.Request) -> Principal:
    """The authenticated caller of ``request``."""
    return request[PRINCIPAL]


def require_roles(request: web.Request, *roles: str) -> Principal:
    """The caller, if they hold one of ``roles``; else 403."""
    return principal_of(request)


def require_apartment(request: web.Request, apartment: str | None) -> Principal:
    """The caller, if they may act on ``apartment``; else 403."""
    return principal_of(request)
