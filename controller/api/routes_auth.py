"""Signing in and out, and the signed-in user's own account.

``POST /api/auth/login`` sets the session cookie and returns the CSRF token that
every state-changing request of the session must send as ``X-CSRF-Token``.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..auth.accounts import set_password
from ..auth.password_rules import WeakPassword
from ..auth.service import LoginRefused
from ..auth.tokens import hash_secret
from ..auth.users import LANGUAGES, user_json
from ..store.records import UserRecord
from .access import principal_of, public, signed_in
from .auth import SESSION_COOKIE, clear_session_cookie, cross_site, set_session_cookie
from .bodies import read_body
from .errors import ApiError, error_response
from .keys import AUTH, CLOCK, SITE, STORE
from .responses import json_response
from .routes_users import weak


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class MeUpdate(BaseModel):
    """``PATCH /api/auth/me``: language, or a new password with the current one."""

    model_config = ConfigDict(extra="forbid")
    language: str | None = Field(default=None, pattern="^(" + "|".join(LANGUAGES) + ")$")
    current_password: str | None = Field(default=None, max_length=1024)
    new_password: str | None = Field(default=None, max_length=1024)


def _refused(exc: LoginRefused) -> web.Response:
    """429 ``locked`` / ``throttled`` with the time to wait."""
    refused = error_response(429, exc.code, exc.message, {"retry_after_s": exc.retry_after_s})
    refused.headers["Retry-After"] = str(exc.retry_after_s or 1)
    return refused


def _me(user: UserRecord, csrf_token: str | None) -> web.Response:
    return json_response({"user": user_json(user), "csrf_token": csrf_token})


@public
async def login(request: web.Request) -> web.StreamResponse:
    """``POST /api/auth/login`` ``{"username", "password"}``."""
    if cross_site(request):
        raise ApiError(403, "csrf", "sign-in from another site refused")
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send JSON (Content-Type: application/json)")
    body = await read_body(request, LoginRequest)
    auth = request.app[AUTH]
    store = request.app[STORE]
    clock = request.app[CLOCK]
    try:
        signed = await auth.login(
            body.username,
            body.password,
            address=request.remote or "",
            user_agent=request.headers.get("User-Agent"),
        )
    except LoginRefused as exc:
        if exc.code == "bad_credentials":
            raise ApiError(401, exc.code, exc.message) from None
        return _refused(exc)
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:  # never keep a session id chosen before sign-in
        await store.revoke_session(hash_secret(previous), clock.now())
    response = _me(signed.user, signed.session.csrf_token)
    set_session_cookie(response, request, signed.cookie_secret)
    return response


@signed_in
async def logout(request: web.Request) -> web.Response:
    """``POST /api/auth/logout``: ends this browser session."""
    principal = principal_of(request)
    if principal.via != "session":
        raise ApiError(
            400, "no_session", "not a browser session; revoke tokens with `tryggbo token revoke`"
        )
    await request.app[AUTH].logout(principal)
    response = json_response({"signed_out": True})
    clear_session_cookie(response, request)
    return response


async def _user(request: web.Request) -> UserRecord:
    user = await request.app[STORE].user_by_id(principal_of(request).user_id)
    if user is None:
        raise ApiError(401, "bad_session", "the user is gone; sign in again")
    return user


@signed_in
async def me(request: web.Request) -> web.Response:
    """``GET /api/auth/me``: who is signed in, and the session's CSRF token."""
    return _me(await _user(request), principal_of(request).csrf_token)


@signed_in
async def update_me(request: web.Request) -> web.StreamResponse:
    """``PATCH /api/auth/me``: ``{"language"}`` and/or
    ``{"current_password", "new_password"}`` (ends the user's other sessions)."""
    body = await read_body(request, MeUpdate)
    store = request.app[STORE]
    auth = request.app[AUTH]
    clock = request.app[CLOCK]
    site = request.app[SITE]
    principal = principal_of(request)
    user = await _user(request)
    if body.language is not None and body.language != user.language:
        user = await store.update_user(user.id, {"language": body.language}) or user
    if body.new_password is not None:
        if not body.current_password:
            raise ApiError(400, "bad_body", "changing the password needs current_password")
        try:
            await auth.check_current_password(
                user, body.current_password, address=request.remote or ""
            )
        except LoginRefused as exc:
            if exc.code == "bad_credentials":
                raise ApiError(
                    400, "bad_current_password", "the current password is wrong"
                ) from None
            return _refused(exc)
        try:
            user = await set_password(
                store,
                user,
                body.new_password,
                clock.now(),
                keep_session=principal.session_id,
                site=site,
            )
        except WeakPassword as exc:
            raise weak(exc, request) from None
        await auth.note(user.username, "password_change", subject=user.username, outcome="ok")
    return _me(user, principal.csrf_token)


def register(app: web.Application) -> None:
    app.router.add_post("/api/auth/login", login)
    app.router.add_post("/api/auth/logout", logout)
    app.router.add_get("/api/auth/me", me)
    app.router.add_patch("/api/auth/me", update_me)
