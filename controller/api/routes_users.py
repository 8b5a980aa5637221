"""User administration (admin only): list, add, change."""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..auth.accounts import set_disabled, set_password
from ..auth.password_rules import WeakPassword, check_password
from ..auth.passwords import hash_async
from ..auth.users import (
    InvalidUser,
    check_display_name,
    check_language,
    check_scope,
    new_user,
    user_json,
)
from ..store.records import UserChanges, UserRecord
from .access import principal_of, requires
from .bodies import read_body
from .errors import ApiError
from .keys import AUTH, CLOCK, SITE, STORE
from .responses import json_response


class NewUser(BaseModel):
    """``POST /api/users``."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    roles: list[str] = Field(min_length=1, max_length=5)
    display_name: str | None = Field(default=None, max_length=200)
    units: list[str] = Field(default_factory=list, max_length=64)
    apartments: list[str] = Field(default_factory=list, max_length=256)
    language: str = "sv"


class UserUpdate(BaseModel):
    """``PATCH /api/users/{username}``: only the fields given change."""

    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(default=None, max_length=200)
    roles: list[str] | None = Field(default=None, min_length=1, max_length=5)
    units: list[str] | None = Field(default=None, max_length=64)
    apartments: list[str] | None = Field(default=None, max_length=256)
    language: str | None = None
    disabled: bool | None = None
    #: A new password (the user's sessions end; the account is unlocked).
    password: str | None = Field(default=None, max_length=1024)
    #: True: clear failed sign-ins and any lock.
    unlock: bool | None = None


def weak(exc: WeakPassword, request: web.Request) -> ApiError:
    """400 ``weak_password``: why, in the caller's language; both texts in details."""
    return ApiError(400, "weak_password", exc.why(principal_of(request).language), exc.details)


def _invalid(exc: InvalidUser) -> ApiError:
    return ApiError(400, "bad_user", str(exc), [{"field": exc.field, "problem": exc.message}])


@requires("admin")
async def list_users(request: web.Request) -> web.Response:
    users = await request.app[STORE].list_users()
    return json_response({"users": [user_json(u, admin_view=True) for u in users]})


@requires("admin")
async def add_user(request: web.Request) -> web.Response:
    body = await read_body(request, NewUser)
    clock = request.app[CLOCK]
    site = request.app[SITE]
    store = request.app[STORE]
    auth = request.app[AUTH]
    try:
        user = new_user(
            username=body.username,
            password_hash="",
            roles=body.roles,
            units=body.units,
            apartments=body.apartments,
            display_name=body.display_name,
            language=body.language,
            now=clock.now(),
            site=site,
        )
    except InvalidUser as exc:
        raise _invalid(exc) from None
    try:
        check_password(body.password, user.username, display_name=user.display_name, site=site)
    except WeakPassword as exc:
        raise weak(exc, request) from None
    user = replace(user, password_hash=await hash_async(body.password))
    if not await store.add_user(user):
        raise ApiError(409, "user_exists", f"there is already a user {user.username!r}")
    await auth.note(
        principal_of(request).actor,
        "user_add",
        subject=user.username,
        outcome="ok",
        details={
            "roles": list(user.roles),
            "units": list(user.units),
            "apartments": list(user.apartments),
        },
    )
    return json_response({"user": user_json(user, admin_view=True)}, status=201)


def _changes(body: UserUpdate, user: UserRecord, request: web.Request) -> UserChanges:
    changes: UserChanges = {}
    try:
        if body.display_name is not None:
            changes["display_name"] = check_display_name(body.display_name)
        if body.language is not None:
            changes["language"] = check_language(body.language)
        if body.roles is not None or body.units is not None or body.apartments is not None:
            roles, units, apartments = check_scope(
                body.roles if body.roles is not None else user.roles,
                body.units if body.units is not None else user.units,
                body.apartments if body.apartments is not None else user.apartments,
                request.app[SITE],
            )
            changes["roles"], changes["units"] = roles, units
            changes["apartments"] = apartments
    except InvalidUser as exc:
        raise _invalid(exc) from None
    if body.unlock:
        changes["failed_logins"], changes["locked_until"] = 0, None
    return changes


@requires("admin")
async def update_user(request: web.Request) -> web.Response:
    body = await read_body(request, UserUpdate)
    store = request.app[STORE]
    site = request.app[SITE]
    clock = request.app[CLOCK]
    auth = request.app[AUTH]
    caller = principal_of(request)
    username = request.match_info["username"]
    user = await store.user_by_name(username)
    if user is None:
        raise ApiError(404, "unknown_user", f"no user {username!r}")
    changes = _changes(body, user, request)
    if user.id == caller.user_id and (
        body.disabled or ("roles" in changes and "admin" not in changes["roles"])
    ):
        raise ApiError(
            400, "self_lockout", "you cannot disable yourself or take away your own admin role"
        )
    if body.password is not None:
        display_name = changes.get("display_name", user.display_name)
        try:
            check_password(body.password, user.username, display_name=display_name, site=site)
        except WeakPassword as exc:
            raise weak(exc, request) from None
    now = clock.now()
    if changes:
        user = await store.update_user(user.id, changes) or user
    if body.password is not None:
        user = await set_password(store, user, body.password, now, site=site)
    if body.disabled is not None and body.disabled != user.disabled:
        user = await set_disabled(store, user, body.disabled, now)
    changed = sorted(
        set(changes)
        | ({"password"} if body.password is not None else set())
        | ({"disabled"} if body.disabled is not None else set())
    )
    await auth.note(
        caller.actor,
        "user_update",
        subject=user.username,
        outcome="ok",
        details={"changed": changed, "disabled": user.disabled},
    )
    return json_response({"user": user_json(user, admin_view=True)})


def register(app: web.Application) -> None:
    app.router.add_get("/api/users", list_users)
    app.router.add_post("/api/users", add_user)
    app.router.add_patch("/api/users/{username}", update_user)
