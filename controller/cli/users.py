"""``tryggbo users``: add, list, disable and enable people, set their passwords.

Exit codes: controller/cli/exit_codes.py (1 the store failed, 2 bad input).
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from config.site import Site, SiteFileError, load_site
from controller.auth.accounts import set_disabled, set_password
from controller.auth.password_rules import WeakPassword, check_password
from controller.auth.passwords import hash_async
from controller.auth.users import InvalidUser, new_user, normalize_username, user_json
from controller.cli.exit_codes import ExitCode
from controller.cli.output import err, fail, out
from controller.store import ActivityRecord, Store, StoreError, open_store
from controller.store.records import UserRecord
from devices.clock import SystemClock

T = TypeVar("T")

users_app = typer.Typer(help="People who sign in, their roles and passwords.", no_args_is_help=True)
DbOption = Annotated[str, typer.Option(envvar="TRYGGBO_DB", help="store URL")]
DEFAULT_DB = "sqlite:///var/tryggbo.sqlite"
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="read the password from the first stdin line")
]
SiteOption = Annotated[
    Path | None,
    typer.Option(
        "--site",
        envvar="TRYGGBO_SITE_FILE",
        help="the site file: a password built on the home's names is refused",
    ),
]


def _store_call(db: str, action: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store at ``db``, run ``action``, close it; store errors exit 1."""

    async def go() -> T:
        store = open_store(db)
        await store.open()
        try:
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except StoreError as exc:
        raise fail(str(exc), ExitCode.RUNTIME) from None


def _password(username: str, display_name: str, from_stdin: bool, site_file: Path | None) -> str:
    """A new password from stdin or typed twice (hidden); exit 2 if it is weak (why,
    in English and Swedish)."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        try:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        except typer.Abort:
            if sys.stdin.isatty():
                raise  # Ctrl-C at the prompt
            raise fail(
                "no password typed (no terminal?): give it on the first line of stdin "
                "with --password-stdin"
            ) from None
    try:
        check_password(password, username, display_name=display_name, site=_site(site_file))
    except WeakPassword as exc:
        raise fail(f"{exc.en}\n       {exc.sv}") from None
    return password


def _site(site_file: Path | None) -> Site | None:
    if site_file is None:
        return None
    try:
        return load_site(site_file)
    except SiteFileError as exc:
        raise fail(str(exc)) from None


async def _note(store: Store, action: str, subject: str, **details: object) -> None:
    await store.add_activity(
        ActivityRecord(
            ts=SystemClock().now(),
            actor=f"cli:{getpass.getuser()}",
            action=action,
            subject=subject,
            outcome="ok",
            details=dict(details),
        )
    )


async def _existing(store: Store, username: str) -> UserRecord:
    user = await store.user_by_name(normalize_username(username))
    if user is None:
        raise fail(f"no user {username!r}")
    return user


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[list[str], typer.Option(help="admin, staff, technician, relative, screen")],
    display_name: Annotated[str | None, typer.Option(help="name shown in the UI")] = None,
    unit: Annotated[list[str] | None, typer.Option(help="wing a staff member acts on")] = None,
    apartment: Annotated[
        list[str] | None, typer.Option(help="apartment (relative, screen)")
    ] = None,
    language: Annotated[str, typer.Option(help="sv or en")] = "sv",
    password_stdin: PasswordStdin = False,
    site: SiteOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Add a user; the password is typed twice (hidden) unless --password-stdin."""
    clock = SystemClock()
    try:
        draft = new_user(
            username=username,
            password_hash="",
            roles=role,
            units=unit or (),
            apartments=apartment or (),
            display_name=display_name,
            language=language,
            now=clock.now(),
        )
    except InvalidUser as exc:
        raise fail(str(exc)) from None
    password = _password(draft.username, draft.display_name, password_stdin, site)

    async def go(store: Store) -> bool:
        user = replace(draft, password_hash=await hash_async(password))
        if not await store.add_user(user):
            return False
        await _note(store, "user_add", user.username, roles=list(user.roles))
        return True

    if not _store_call(db, go):
        raise fail(f"there is already a user {draft.username!r}")
    err.print(f"user {draft.username} added ({', '.join(draft.roles)})")


@users_app.command("passwd")
def users_passwd(
    username: str,
    password_stdin: PasswordStdin = False,
    site: SiteOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Set a user's password (ends their sessions, unlocks the account)."""
    user = _store_call(db, lambda s: _existing(s, username))
    password = _password(user.username, user.display_name, password_stdin, site)

    async def go(store: Store) -> None:
        await set_password(store, user, password, SystemClock().now(), site=_site(site))
        await _note(store, "password_reset", user.username)

    _store_call(db, go)
    err.print(f"password of {user.username} changed; their sessions ended")


def _set_disabled(username: str, disabled: bool, db: str) -> None:
    async def go(store: Store) -> UserRecord:
        user = await _existing(store, username)
        user = await set_disabled(store, user, disabled, SystemClock().now())
        await _note(store, "user_update", user.username, disabled=disabled)
        return user

    user = _store_call(db, go)
    what = "disabled (sessions and tokens stop working)" if disabled else "enabled"
    err.print(f"user {user.username} {what}")


@users_app.command("disable")
def users_disable(username: str, db: DbOption = DEFAULT_DB) -> None:
    """Disable a user at once: their sessions end and their API tokens stop working."""
    _set_disabled(username, True, db)


@users_app.command("enable")
def users_enable(username: str, db: DbOption = DEFAULT_DB) -> None:
    """Enable a disabled user again."""
    _set_disabled(username, False, db)


@users_app.command("list")
def users_list(
    db: DbOption = DEFAULT_DB, json_out: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """List users (never their password hashes)."""
    users = _store_call(db, lambda s: s.list_users())
    if json_out:
        print(json.dumps([user_json(u, admin_view=True) for u in users], indent=2))
        return
    table = Table("username", "name", "roles", "units", "apartments", "lang", "state")
    now = SystemClock().now()
    for u in users:
        locked = u.locked_until is not None and u.locked_until > now
        state = "disabled" if u.disabled else ("locked" if locked else "active")
        table.add_row(
            u.username,
            u.display_name,
            ", ".join(u.roles),
            ", ".join(u.units),
            ", ".join(u.apartments),
            u.language,
            state,
        )
    out.print(table)
