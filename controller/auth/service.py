"""Signing in and out, and turning a session cookie or API token into a
:class:`~controller.auth.principal.Principal` (checked against the store every time,
so disabling a user or revoking a session works at once)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, NoReturn

from devices.clock import Clock

from ..store import ActivityRecord, Store, StoreError
from ..store.records import SessionRecord, UserRecord
from .passwords import Verdict, hash_async, verify_async
from .principal import Principal
from .throttle import AddressThrottle, GhostAccounts, LoginPolicy
from .tokens import hash_secret, new_secret
from .users import USERNAME, normalize_username

log = logging.getLogger(__name__)


class AuthFailed(Exception):
    """The credentials presented are not (or no longer) good: HTTP 401."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LoginRefused(Exception):
    """A sign-in that did not succeed. ``code`` is ``bad_credentials`` (401, the same
    for unknown users, wrong passwords and disabled accounts), ``locked`` or
    ``throttled`` (429, with ``retry_after_s``)."""

    def __init__(self, code: str, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: UserRecord
    #: The cookie's value (the store keeps only its SHA-256).
    cookie_secret: str
    session: SessionRecord


@dataclass
class Authenticator:
    """Sign-in policy and state for one controller."""

    store: Store
    clock: Clock
    idle_s: float = 12 * 3600
    policy: LoginPolicy = field(default_factory=LoginPolicy)
    addresses: AddressThrottle = field(default_factory=AddressThrottle)
    ghosts: GhostAccounts = field(default_factory=GhostAccounts)
    #: A token's principal is reused this long (monotonic seconds) unless a user or
    #: token changed through this store meanwhile (then at once): it saves two
    #: queries per API call. A revocation by another process (the CLI) takes effect
    #: within this time.
    token_cache_s: float = 2.0
    _token_cache: dict[str, tuple[float, int, Principal]] = field(default_factory=dict, repr=False)

    @property
    def touch_every(self) -> timedelta:
        """``last_seen`` is written at most this often per session."""
        return timedelta(seconds=min(60.0, self.idle_s / 20))

    async def note(self, actor: str, action: str, **fields: Any) -> None:
        """Append to the activity log; a store failure is logged, never raised."""
        try:
            await self.store.add_activity(
                ActivityRecord(ts=self.clock.now(), actor=actor[:64], action=action, **fields)
            )
        except StoreError:
            log.exception("cannot log activity %s by %s", action, actor)

    # -- sign-in -------------------------------------------------------------------------

    async def login(
        self, username: str, password: str, *, address: str, user_agent: str | None = None
    ) -> SignedIn:
        """Check a password; a new session, or :class:`LoginRefused`."""
        name = normalize_username(username)[:64]
        user = await self.store.user_by_name(name) if USERNAME.fullmatch(name) else None
        verdict = await self._attempt(name, user, password, address, "signin_failed")
        assert user is not None  # _attempt refuses unknown users
        where = {"address": address}
        return await self._signed_in(user, verdict.needs_rehash, password, where, user_agent)

    async def check_current_password(
        self, user: UserRecord, password: str, *, address: str
    ) -> None:
        """The signed-in ``user``'s current password (changing it), under the same
        count, lock, address limit and slots as a sign-in: :class:`LoginRefused` if
        wrong (``bad_credentials``), locked or throttled."""
        await self._attempt(user.username, user, password, address, "password_change")
        await self.store.record_successful_login(user.id)  # the attempt was counted

    async def _attempt(
        self, name: str, user: UserRecord | None, password: str, address: str, action: str
    ) -> Verdict:
        """One password attempt: counted for the address and the account *before* the
        hash (refused at once if either is over its limit), slowed after a few
        failures, hashed in the address's turn. The verdict if right, else
        :class:`LoginRefused` (the failure stays counted)."""
        now = self.clock.now()
        where = {"address": address}
        wait = self.addresses.admit(address, now, self.policy)
        if wait:
            await self._note_refusal(name, action, "throttled", where)
            raise LoginRefused(
                "throttled", "too many failed sign-ins from this address", round(wait)
            )
        try:
            failures = await self._count(name, user, now)
        except LoginRefused:
            self.addresses.take_back(address, now)
            await self._note_refusal(name, action, "locked", where)
            raise
        delay = self.policy.delay_s(failures - 1)
        if delay:
            await asyncio.sleep(delay)
        stored_hash = user.password_hash if user else None
        verdict = await verify_async(stored_hash, password, key=address)
        if user is None or not verdict.ok or user.disabled:
            await self._failed(name, user, failures, verdict.ok, where, action)
        self.addresses.take_back(address, now)
        return verdict

    async def _count(self, name: str, user: UserRecord | None, now: datetime) -> int:
        """This attempt counted as a failure of the account (or the unknown name): the
        failures so far including it, or :class:`LoginRefused` ``locked``."""
        policy = self.policy
        if user is None:
            counted = self.ghosts.count_attempt(name, now, policy)
            if counted is not None:
                return counted
            _, locked_until = self.ghosts.get(name)
        else:
            record = await self.store.count_login_attempt(
                user.id, now, lock_after=policy.lock_after, lock_for=policy.lock_for
            )
            if record is not None:
                return record.failed_logins
            current = await self.store.user_by_id(user.id)
            locked_until = current.locked_until if current else None
        if locked_until is None or locked_until <= now:  # the user went away meanwhile
            raise LoginRefused("bad_credentials", "wrong username or password")
        raise self._locked(locked_until - now)

    async def _note_refusal(
        self, name: str, action: str, reason: str, where: dict[str, Any]
    ) -> None:
        if action == "signin_failed":
            await self.note(name, action, reason=reason, details=where)
        else:
            await self.note(name, action, outcome="refused", reason=reason, details=where)

    def _locked(self, left: timedelta) -> LoginRefused:
        seconds = max(1, round(left.total_seconds()))
        return LoginRefused(
            "locked",
            f"too many failed sign-ins: the account is locked for {seconds // 60 + 1} min",
            seconds,
        )

    async def _failed(
        self,
        name: str,
        user: UserRecord | None,
        failures: int,
        password_ok: bool,
        where: dict[str, str],
        action: str,
    ) -> NoReturn:
        """A counted attempt turned out wrong: log it, and say ``locked`` if it was
        the one that locked the account."""
        if user is None:
            reason = "unknown_user"
        elif action == "password_change":
            reason = "wrong current password"
        else:
            reason = "disabled" if user.disabled and password_ok else "bad_password"
        await self._note_refusal(name, action, reason, {**where, "failures": failures})
        if failures >= self.policy.lock_after:
            until = self.clock.now() + self.policy.lock_for
            await self.note(
                name,
                "locked",
                subject=name,
                reason=f"{failures} failed sign-ins in a row",
                details={**where, "until": until.isoformat()},
            )
            raise self._locked(self.policy.lock_for)
        raise LoginRefused("bad_credentials", "wrong username or password")

    async def _signed_in(
        self,
        user: UserRecord,
        needs_rehash: bool,
        password: str,
        where: dict[str, str],
        user_agent: str | None,
    ) -> SignedIn:
        now = self.clock.now()
        await self.store.record_successful_login(user.id)  # the attempt was counted
        user = replace(user, failed_logins=0, locked_until=None)
        if needs_rehash:
            fresh = await hash_async(password, key=where["address"])
            await self.store.update_user(user.id, {"password_hash": fresh})
        secret = new_secret()
        session = SessionRecord(
            id=hash_secret(secret),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
            user_agent=(user_agent or "")[:200] or None,
        )
        await self.store.create_session(session)
        await self.note(user.username, "signin", outcome="ok", details=where)
        return SignedIn(user, secret, session)

    async def logout(self, principal: Principal) -> bool:
        """End the caller's session; False if it was not a session."""
        if principal.session_id is None:
            return False
        ended = await self.store.revoke_session(principal.session_id, self.clock.now())
        await self.note(principal.actor, "signout", outcome="ok")
        return ended

    # -- per request ---------------------------------------------------------------------

    async def session_principal(self, cookie_secret: str) -> Principal:
        """The principal of a session cookie, or :class:`AuthFailed`."""
        session_id = hash_secret(cookie_secret)
        session = await self.store.get_session(session_id)
        if session is None or session.revoked_at is not None:
            raise AuthFailed("bad_session", "not signed in (session ended); sign in again")
        now = self.clock.now()
        if now - session.last_seen > timedelta(seconds=self.idle_s):
            await self.store.revoke_session(session_id, now)
            user = await self.store.user_by_id(session.user_id)
            await self.note(user.username if user else "?", "signout", reason="idle")
            raise AuthFailed("session_expired", "signed out after inactivity; sign in again")
        user = await self.store.user_by_id(session.user_id)
        if user is None or user.disabled:
            raise AuthFailed("user_disabled", "this account is disabled")
        if now - session.last_seen >= self.touch_every:
            await self.store.touch_session(session_id, now)
        return Principal.of(
            user, via="session", csrf_token=session.csrf_token, session_id=session_id
        )

    async def token_principal(self, token: str) -> Principal:
        """The principal of an API token (acting as its user), or :class:`AuthFailed`."""
        token_hash = hash_secret(token)
        generation, now = self.store.auth_generation, self.clock.monotonic()
        cached = self._token_cache.get(token_hash)
        if cached is not None and cached[1] == generation and now - cached[0] < self.token_cache_s:
            return cached[2]
        principal = await self._token_principal(token_hash)
        if self.store.auth_generation == generation:  # nothing changed while we looked
            if len(self._token_cache) >= 1000:
                self._token_cache.clear()
            self._token_cache[token_hash] = (now, generation, principal)
        return principal

    async def _token_principal(self, token_hash: str) -> Principal:
        record = await self.store.token_by_hash(token_hash)
        if record is None or record.revoked_at is not None:
            raise AuthFailed("bad_token", "token unknown or revoked")
        user = await self.store.user_by_name(record.actor)
        if user is None or user.created_at > record.created_at:
            raise AuthFailed("bad_token", f"the token's user {record.actor!r} does not exist")
        if user.disabled:
            raise AuthFailed("user_disabled", f"user {user.username!r} is disabled")
        return Principal.of(user, via="token", token_id=record.id)
