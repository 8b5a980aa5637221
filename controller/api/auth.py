"""Authentication and request checks of the HTTP API.

A caller is either a browser with the session cookie :data:`SESSION_COOKIE` or a
script with ``Authorization: Bearer <token>``, ``/api/ws`` included (the dashboard's
socket carries the cookie). Never a token in a URL: query strings end up in proxy
and server logs. Both act as a user of the store, with that user's roles, checked on
every request.

A cookie is an ambient credential: every POST/PUT/PATCH/DELETE it authenticates must
carry :data:`CSRF_HEADER` equal to the session's token, and a cookie request whose
``Origin`` is another site is refused. Bearer requests carry no ambient credential
and are exempt. Every 403 is written to the activity log.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from ..auth.principal import Principal
from ..auth.service import Authenticator, AuthFailed
from ..auth.tokens import TOKEN_PREFIX, create_token, hash_token
from .errors import ApiError
from .keys import TWINS
from .roles import PUBLIC, SIGNED_IN, declared

__all__ = [
    "CSRF_HEADER",
    "PRINCIPAL",
    "SESSION_COOKIE",
    "TOKEN_PREFIX",
    "Principal",
    "authenticate",
    "create_token",
    "guard",
    "hash_token",
]

SESSION_COOKIE = "tryggbo_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PRINCIPAL = web.RequestKey("principal", Principal)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(401, "unauthenticated", "send 'Authorization: Bearer <token>'")
        return value.strip()
    return None


async def authenticate(request: web.Request, auth: Authenticator) -> Principal:
    """The caller's principal (bearer token first, else session cookie), or 401."""
    try:
        token = _bearer(request)
        if token is not None:
            return await auth.token_principal(token)
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            return await auth.session_principal(cookie)
    except AuthFailed as exc:
        raise ApiError(401, exc.code, exc.message) from None
    raise ApiError(
        401,
        "unauthenticated",
        "sign in (POST /api/auth/login) or send 'Authorization: Bearer <token>'",
    )


def cross_site(request: web.Request) -> bool:
    """True if the browser says the request comes from another site."""
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return True
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc.lower() != (request.host or "").lower()


def check_csrf(request: web.Request, principal: Principal) -> None:
    """Refuse (403 ``csrf``) a cookie request from another site, or a state-changing
    cookie request without the session's CSRF token."""
    if principal.via != "session":
        return
    if cross_site(request):
        raise ApiError(403, "csrf", "request from another site refused")
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not principal.csrf_token or not hmac.compare_digest(sent, principal.csrf_token):
        raise ApiError(
            403, "csrf", f"missing or wrong {CSRF_HEADER} header (from sign-in or /api/auth/me)"
        )


def check_rule(request: web.Request, principal: Principal) -> None:
    """Refuse (403) a caller whom the route's declaration does not admit."""
    if request.match_info.http_exception is not None:
        return  # no such route: the handler answers 404/405
    rule = declared(request.match_info.handler)
    if rule == SIGNED_IN:
        return
    if rule is None or isinstance(rule, str):
        raise ApiError(
            403,
            "undeclared_route",
            f"{request.method} {request.path} declares no roles: refused to everyone "
            "(declare them with @requires/@signed_in/@public, controller/api/roles.py)",
        )
    if not principal.has_role(*rule):
        raise ApiError(
            403,
            "forbidden",
            f"needs one of the roles {', '.join(sorted(rule))}",
            {"required": sorted(rule)},
        )


def _apartment_in_path(request: web.Request) -> str | None:
    """The apartment of the device a refused request named, if any."""
    device = request.match_info.get("device")
    apartment = request.app[TWINS].apartment(device) if device else None
    return apartment.number if apartment else None


async def log_refusal(request: web.Request, auth: Authenticator, exc: ApiError) -> None:
    """Write a 403 to the activity log (action ``refused``)."""
    principal = request.get(PRINCIPAL)
    details = exc.details if isinstance(exc.details, dict) else {}
    await auth.note(
        principal.actor if principal else "anonymous",
        "refused",
        subject=f"{request.method} {request.path}",
        apartment=details.get("apartment") or _apartment_in_path(request),
        reason=exc.message,
        outcome=exc.code,
        details={
            "method": request.method,
            "path": request.path,
            "code": exc.code,
            "error": details,  # the refusal's parameters: the log page says why in words
            "address": request.remote or "",
            "via": principal.via if principal else None,
        },
    )


async def guard(request: web.Request, handler: Handler, auth: Authenticator) -> web.StreamResponse:
    """Authenticate, check CSRF and the route's roles, run the handler; log any 403."""
    try:
        if declared(request.match_info.handler) != PUBLIC:
            principal = await authenticate(request, auth)
            request[PRINCIPAL] = principal
            check_csrf(request, principal)
            check_rule(request, principal)
        return await handler(request)
    except ApiError as exc:
        if exc.status == 403:
            await log_refusal(request, auth, exc)
        raise


def set_session_cookie(response: web.StreamResponse, request: web.Request, secret: str) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Path=/, Secure over TLS."""
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )


def clear_session_cookie(response: web.StreamResponse, request: web.Request) -> None:
    response.del_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="Strict", secure=request.secure
    )
