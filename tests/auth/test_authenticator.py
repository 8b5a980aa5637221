"""The people store and the sign-in service on a real SQLite store, with a manual clock."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller.auth.accounts import ensure_user, set_disabled, set_password
from controller.auth.service import Authenticator, AuthFailed, LoginRefused
from controller.auth.throttle import LoginPolicy
from controller.auth.tokens import NoSuchUser, create_token, create_user_token
from controller.auth.users import new_user
from controller.store import SqlStore, open_store
from controller.store.records import UserRecord
from devices.clock import ManualClock

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
PW = "lång och säker 1"
FAST = LoginPolicy(delay_base_s=0.0, delay_max_s=0.0)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    s = open_store(f"sqlite:///{tmp_path / 'people.sqlite'}")
    await s.open()
    yield s
    await s.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def auth(store: SqlStore, clock: ManualClock) -> Authenticator:
    await ensure_user(store, username="anna", password=PW, roles=["staff"], units=["A"], now=T0)
    return Authenticator(store, clock, idle_s=3600, policy=FAST)


async def test_users_are_stored_once_and_updated(store: SqlStore) -> None:
    user = new_user(username="nils", password_hash="h", roles=["staff"], units=["C"], now=T0)
    assert await store.add_user(user)
    assert not await store.add_user(replace(user, id="other"))
    assert await store.user_by_name("nils") == user
    assert await store.user_by_id(user.id) == user
    updated = await store.update_user(user.id, {"language": "en", "units": ("C", "D")})
    assert updated is not None
    assert (updated.language, updated.units) == ("en", ("C", "D"))
    assert await store.update_user("nobody", {"language": "en"}) is None
    assert [u.username for u in await store.list_users()] == ["nils"]


async def test_attempts_are_counted_and_lock_atomically(store: SqlStore) -> None:
    user = new_user(username="nils", password_hash="h", roles=["admin"], now=T0)
    await store.add_user(user)

    async def attempt(now: datetime) -> UserRecord | None:
        return await store.count_login_attempt(
            user.id, now, lock_after=3, lock_for=timedelta(minutes=15)
        )

    for n in range(1, 4):
        got = await attempt(T0)
        assert got is not None
        assert got.failed_logins == n
        assert got.locked_until == (T0 + timedelta(minutes=15) if n == 3 else None)
    # locked: nothing more is counted until the lock ends; then each attempt relocks
    assert await attempt(T0) is None
    later = T0 + timedelta(minutes=16)
    got = await attempt(later)
    assert got is not None
    assert (got.failed_logins, got.locked_until) == (4, later + timedelta(minutes=15))
    await store.record_successful_login(user.id)
    got = await store.user_by_id(user.id)
    assert got is not None
    assert (got.failed_logins, got.locked_until) == (0, None)


async def test_login_gives_a_session_whose_secret_is_not_stored(
    auth: Authenticator, store: SqlStore
) -> None:
    signed = await auth.login(" Anna ", PW, address="10.0.0.1", user_agent="test")
    assert signed.user.username == "anna"
    assert await store.get_session(signed.cookie_secret) is None
    principal = await auth.session_principal(signed.cookie_secret)
    assert (principal.actor, principal.via, principal.units) == ("anna", "session", {"A"})
    assert principal.csrf_token == signed.session.csrf_token
    kinds = [a.action for a in await store.activity(actor="anna")]
    assert kinds == ["signin"]


async def test_wrong_password_unknown_user_and_disabled_user_get_the_same_answer(
    auth: Authenticator, store: SqlStore, clock: ManualClock
) -> None:
    user = await store.user_by_name("anna")
    assert user is not None
    for name, password in [("anna", "fel lösenord 1"), ("ingen", PW)]:
        with pytest.raises(LoginRefused) as caught:
            await auth.login(name, password, address="10.0.0.1")
        assert (caught.value.code, str(caught.value)) == (
            "bad_credentials",
            "wrong username or password",
        )
    await set_disabled(store, user, True, clock.now())
    with pytest.raises(LoginRefused, match="wrong username or password"):
        await auth.login("anna", PW, address="10.0.0.1")
    reasons = [a.reason for a in await store.activity(action="signin_failed")]
    assert reasons == ["disabled", "unknown_user", "bad_password"]


async def test_ten_failures_lock_for_15_minutes_then_one_more_relocks(
    auth: Authenticator, store: SqlStore, clock: ManualClock
) -> None:
    for _ in range(9):
        with pytest.raises(LoginRefused, match="wrong"):
            await auth.login("anna", "fel lösenord 1", address="10.0.0.1")
    with pytest.raises(LoginRefused) as caught:
        await auth.login("anna", "fel lösenord 1", address="10.0.0.1")
    assert (caught.value.code, caught.value.retry_after_s) == ("locked", 900)
    clock.advance(600)
    with pytest.raises(LoginRefused) as caught:
        await auth.login("anna", PW, address="10.0.0.1")  # right password, still locked
    assert (caught.value.code, caught.value.retry_after_s) == ("locked", 300)
    clock.advance(301)
    with pytest.raises(LoginRefused, match="locked"):
        await auth.login("anna", "fel lösenord 1", address="10.0.0.1")
    clock.advance(901)
    assert (await auth.login("anna", PW, address="10.0.0.1")).user.failed_logins == 0
    user = await store.user_by_name("anna")
    assert user is not None
    assert (user.failed_logins, user.locked_until) == (0, None)
    assert len(await store.activity(action="locked")) == 2


async def test_unknown_users_lock_too(auth: Authenticator) -> None:
    for _ in range(9):
        with pytest.raises(LoginRefused, match="wrong"):
            await auth.login("ingen", PW, address="10.0.0.1")
    with pytest.raises(LoginRefused, match="locked"):
        await auth.login("ingen", PW, address="10.0.0.1")


async def test_failures_are_slowed_after_three(auth: Authenticator) -> None:
    auth.policy = LoginPolicy(delay_base_s=0.1, delay_max_s=0.2)
    took = []
    for _ in range(5):
        started = time.monotonic()
        with pytest.raises(LoginRefused):
            await auth.login("anna", "fel lösenord 1", address="10.0.0.1")
        took.append(time.monotonic() - started)
    assert took[3] >= 0.1
    assert took[4] >= 0.2


async def test_one_address_is_throttled(auth: Authenticator) -> None:
    auth.policy = replace(FAST, ip_max_failures=3)
    for name in ("a-one", "a-two", "a-three"):
        with pytest.raises(LoginRefused, match="wrong"):
            await auth.login(name, PW, address="10.9.9.9")
    with pytest.raises(LoginRefused) as caught:
        await auth.login("anna", PW, address="10.9.9.9")
    assert caught.value.code == "throttled"
    assert (await auth.login("anna", PW, address="10.0.0.2")).user.username == "anna"


async def test_idle_sessions_expire_and_use_keeps_them_alive(
    auth: Authenticator, clock: ManualClock
) -> None:
    signed = await auth.login("anna", PW, address="10.0.0.1")
    for _ in range(3):
        clock.advance(3000)
        await auth.session_principal(signed.cookie_secret)
    clock.advance(3601)
    with pytest.raises(AuthFailed) as caught:
        await auth.session_principal(signed.cookie_secret)
    assert caught.value.code == "session_expired"
    with pytest.raises(AuthFailed, match="sign in again"):
        await auth.session_principal(signed.cookie_secret)


async def test_logout_disable_and_password_change_end_sessions_at_once(
    auth: Authenticator, store: SqlStore, clock: ManualClock
) -> None:
    one = await auth.login("anna", PW, address="10.0.0.1")
    two = await auth.login("anna", PW, address="10.0.0.1")
    three = await auth.login("anna", PW, address="10.0.0.1")
    assert await auth.logout(await auth.session_principal(one.cookie_secret))
    with pytest.raises(AuthFailed):
        await auth.session_principal(one.cookie_secret)
    user = await store.user_by_name("anna")
    assert user is not None
    await set_password(store, user, "ett nytt lösen 2", clock.now(), keep_session=two.session.id)
    await auth.session_principal(two.cookie_secret)
    with pytest.raises(AuthFailed):
        await auth.session_principal(three.cookie_secret)
    await set_disabled(store, user, True, clock.now())
    with pytest.raises(AuthFailed):
        await auth.session_principal(two.cookie_secret)


async def test_tokens_act_as_their_user_while_it_is_enabled(
    auth: Authenticator, store: SqlStore, clock: ManualClock
) -> None:
    secret, record = await create_user_token(store, username="anna", name="t", now=T0)
    principal = await auth.token_principal(secret)
    assert (principal.actor, principal.roles, principal.via) == ("anna", {"staff"}, "token")
    assert principal.token_id == record.id
    user = await store.user_by_name("anna")
    assert user is not None
    await set_disabled(store, user, True, clock.now())
    with pytest.raises(AuthFailed) as caught:
        await auth.token_principal(secret)
    assert caught.value.code == "user_disabled"
    with pytest.raises(NoSuchUser):
        await create_user_token(store, username="ingen", name="t", now=T0)
    with pytest.raises(NoSuchUser, match="disabled"):
        await create_user_token(store, username="anna", name="t", now=T0)


async def test_a_token_older_than_its_user_acts_as_nobody(
    auth: Authenticator, store: SqlStore
) -> None:
    secret, _ = await create_token(store, name="old", actor="nils", now=T0)
    with pytest.raises(AuthFailed, match="does not exist"):
        await auth.token_principal(secret)
    await ensure_user(
        store, username="nils", password=PW, roles=["admin"], now=T0 + timedelta(days=1)
    )
    with pytest.raises(AuthFailed, match="does not exist"):
        await auth.token_principal(secret)


async def test_a_cached_token_principal_is_dropped_at_once_by_a_change(
    auth: Authenticator, store: SqlStore, clock: ManualClock
) -> None:
    """Token principals are reused for a short time, but a revocation or a change to
    the user through the store takes effect on the very next call."""
    secret, record = await create_user_token(store, username="anna", name="t", now=T0)
    first = await auth.token_principal(secret)
    assert await auth.token_principal(secret) is first  # served from the cache
    assert await store.revoke_token(record.id, clock.now())
    with pytest.raises(AuthFailed, match="revoked"):
        await auth.token_principal(secret)
    secret2, _ = await create_user_token(store, username="anna", name="t2", now=T0)
    await auth.token_principal(secret2)
    user = await store.user_by_name("anna")
    assert user is not None
    await store.update_user(user.id, {"roles": ["admin"]})
    assert (await auth.token_principal(secret2)).roles == {"admin"}


async def test_a_cached_token_principal_expires(
    auth: Authenticator, store: SqlStore, clock: ManualClock
) -> None:
    """A revocation by another process (another store object) is seen once the
    cache time has passed."""
    secret, record = await create_user_token(store, username="anna", name="t", now=T0)
    await auth.token_principal(secret)
    other = SqlStore(store.url)
    async with other:
        assert await other.revoke_token(record.id, clock.now())
    clock.advance(auth.token_cache_s)
    with pytest.raises(AuthFailed, match="revoked"):
        await auth.token_principal(secret)
