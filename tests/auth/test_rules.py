"""Passwords, login throttling, principals and account rules (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from config.site import EXAMPLE_SITE, Apartment, load_site
from controller.auth import password_rules, passwords
from controller.auth.principal import Principal, may_command
from controller.auth.throttle import AddressThrottle, GhostAccounts, LoginPolicy
from controller.auth.users import InvalidUser, check_scope, new_user, normalize_username

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
A101 = Apartment(number="101", wing="A")
C201 = Apartment(number="201", wing="C")
NO_WING = Apartment(number="999")


def who(*roles: str, units: tuple[str, ...] = (), apartments: tuple[str, ...] = ()) -> Principal:
    return Principal(
        actor="x",
        user_id="u1",
        roles=frozenset(roles),
        units=frozenset(units),
        apartments=frozenset(apartments),
    )


# -- passwords -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short1234", "at least 10"),
        ("aaaaaaaaaaaa", "different characters"),
        (" leading-space-pw", "spaces"),
        ("my-anna-password", "username"),
        ("x" * 300, "at most"),
    ],
)
def test_weak_passwords_are_refused(password: str, problem: str) -> None:
    with pytest.raises(password_rules.WeakPassword, match=problem):
        password_rules.check_password(password, "anna")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("1234567890", "common"),
        ("password12", "common"),
        ("qwertyuiop12", "common"),
        ("solgarden1", "site_words"),  # the home's slug
        ("Solgarden2026!", "site_words"),
        ("Astrid1937!", "site_words"),  # a resident's name
        ("Svensson2026", "site_words"),  # the person's own name
        ("Sommar2026!", "guessable"),  # a Swedish season and a year
        ("Augusti2030?", "guessable"),
    ],
)
def test_common_and_site_derived_passwords_are_refused_in_swedish_and_english(
    password: str, reason: str
) -> None:
    site = load_site(EXAMPLE_SITE)
    with pytest.raises(password_rules.WeakPassword) as refused:
        password_rules.check_password(password, "anna", display_name="Anna Svensson", site=site)
    assert refused.value.reason == reason
    sv, en = password_rules.WHY[reason]
    assert refused.value.details == {"reason": reason, "sv": sv, "en": en}
    assert (refused.value.why("sv"), refused.value.why("en"), str(refused.value)) == (sv, en, en)


def test_a_good_password_passes() -> None:
    site = load_site(EXAMPLE_SITE)
    for good in ("korv med bröd 2026", "blåbär i skogen 1953", "Sommar i Lofoten med farmor"):
        password_rules.check_password(good, "anna", display_name="Anna Svensson", site=site)


def test_hash_verifies_only_the_right_password_and_is_salted() -> None:
    one = passwords.hash_password("rätt lösenord 1")
    assert one.startswith("$argon2id$")
    assert one != passwords.hash_password("rätt lösenord 1")
    assert passwords.verify_password(one, "rätt lösenord 1") == passwords.Verdict(True, False)
    assert not passwords.verify_password(one, "fel lösenord 1").ok
    assert not passwords.verify_password("not a hash", "whatever").ok


def test_weaker_old_hashes_ask_for_a_rehash() -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("gammalt lösen 9")
    verdict = passwords.verify_password(old, "gammalt lösen 9")
    assert verdict.ok
    assert verdict.needs_rehash


async def test_unknown_users_are_checked_against_a_dummy_and_never_pass() -> None:
    assert not (await passwords.verify_async(None, "anything at all")).ok
    good = await passwords.hash_async("ett bra lösen 7")
    assert (await passwords.verify_async(good, "ett bra lösen 7")).ok


# -- throttle ------------------------------------------------------------------------------


def test_delay_grows_after_three_failures_and_is_capped() -> None:
    policy = LoginPolicy(slow_after=3, delay_base_s=0.5, delay_max_s=4.0)
    assert [policy.delay_s(n) for n in range(9)] == [0, 0, 0, 0.5, 1, 2, 4, 4, 4]


def test_unknown_usernames_lock_like_real_accounts() -> None:
    policy = LoginPolicy(lock_after=10, lock_for=timedelta(minutes=15))
    ghosts = GhostAccounts(capacity=3)
    assert [ghosts.count_attempt("nobody", T0, policy) for _ in range(10)] == list(range(1, 11))
    assert ghosts.get("nobody") == (10, T0 + timedelta(minutes=15))
    assert ghosts.count_attempt("nobody", T0, policy) is None  # locked: nothing counted
    later = T0 + timedelta(minutes=16)
    assert ghosts.count_attempt("nobody", later, policy) == 11  # and each one relocks
    assert ghosts.get("nobody") == (11, later + timedelta(minutes=15))
    for name in ("b", "c", "d"):
        ghosts.count_attempt(name, T0, policy)
    assert ghosts.get("nobody") == (0, None)  # bounded: the oldest is forgotten


def test_address_throttle_is_a_sliding_window_counting_attempts_in_flight() -> None:
    policy = LoginPolicy(ip_max_failures=3, ip_window=timedelta(minutes=10))
    ips = AddressThrottle()
    for i in range(3):
        assert ips.admit("10.0.0.9", T0 + timedelta(minutes=i), policy) == 0
    assert ips.admit("10.0.0.9", T0 + timedelta(minutes=3), policy) == 420
    assert ips.admit("10.0.0.8", T0 + timedelta(minutes=3), policy) == 0
    ips.take_back("10.0.0.9", T0 + timedelta(minutes=2))  # that one signed in
    assert ips.admit("10.0.0.9", T0 + timedelta(minutes=3), policy) == 0
    assert ips.admit("10.0.0.9", T0 + timedelta(minutes=10, seconds=1), policy) == 0


# -- principals ----------------------------------------------------------------------------


def test_has_role_is_any_of() -> None:
    staff = who("staff", units=("A",))
    assert staff.has_role("admin", "staff")
    assert not staff.has_role("admin", "technician")


def test_may_act_on_admin_anywhere_staff_in_their_wings_only() -> None:
    assert who("admin").may_act_on(C201)
    assert who("admin").may_act_on(NO_WING)
    staff = who("staff", units=("A", "B"))
    assert staff.may_act_on(A101)
    assert not staff.may_act_on(C201)
    assert not staff.may_act_on(NO_WING)
    for role in ("technician", "relative", "screen"):
        assert not who(role, apartments=("101",)).may_act_on(A101)


def test_may_see_relatives_and_screens_only_their_apartments() -> None:
    for role in ("admin", "staff", "technician"):
        assert who(role).may_see(C201)
    for role in ("relative", "screen"):
        mine = who(role, apartments=("101",))
        assert mine.may_see(A101)
        assert not mine.may_see(C201)


@pytest.mark.parametrize(
    ("principal", "apartment", "action", "allowed"),
    [
        (who("admin"), C201, "unlock", True),
        (who("staff", units=("A",)), A101, "unlock", True),
        (who("staff", units=("A",)), C201, "unlock", False),
        (who("staff", units=("A",)), A101, "set_position", True),
        (who("staff", units=("A",)), C201, "reboot", False),
        (who("technician"), C201, "reboot", True),
        (who("technician"), A101, "update_firmware", True),
        (who("technician"), A101, "unlock", False),
        (who("technician"), A101, "show_message", False),
        (who("relative", apartments=("101",)), A101, "unlock", False),
        (who("relative", apartments=("101",)), A101, "ping", False),
        (who("screen", apartments=("101",)), A101, "clear_message", False),
        (who("staff", units=("A",)), None, "unlock", False),
    ],
)
def test_who_may_command_what(
    principal: Principal, apartment: Apartment | None, action: str, allowed: bool
) -> None:
    assert may_command(principal, apartment, action) is allowed


# -- account rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "units", "apartments", "field"),
    [
        ([], [], [], "roles"),
        (["boss"], [], [], "roles"),
        (["staff"], [], [], "units"),
        (["admin"], ["A"], [], "units"),
        (["relative"], [], [], "apartments"),
        (["technician"], [], ["101"], "apartments"),
        (["relative", "staff"], ["A"], ["101"], "roles"),
        (["staff"], ["A;drop"], [], "units"),
    ],
)
def test_scope_rules(roles: list[str], units: list[str], apartments: list[str], field: str) -> None:
    with pytest.raises(InvalidUser) as caught:
        check_scope(roles, units, apartments)
    assert caught.value.field == field


def test_scope_is_checked_against_the_site(example_site) -> None:
    assert check_scope(["staff"], ["B", "A", "A"], [], example_site) == (("staff",), ("A", "B"), ())
    with pytest.raises(InvalidUser, match="no wing"):
        check_scope(["staff"], ["Z"], [], example_site)
    with pytest.raises(InvalidUser, match="no apartment"):
        check_scope(["relative"], [], ["999"], example_site)


def test_new_user_normalizes_and_defaults() -> None:
    user = new_user(username="  Anna ", password_hash="h", roles=["staff"], units=["A"], now=T0)
    assert (user.username, user.display_name, user.language) == ("anna", "anna", "sv")
    assert normalize_username(" ANNA") == "anna"
    with pytest.raises(InvalidUser, match="username"):
        new_user(username="a b", password_hash="h", roles=["admin"], now=T0)
    with pytest.raises(InvalidUser, match="language"):
        new_user(username="anna", password_hash="h", roles=["admin"], language="de", now=T0)


def test_principals_are_immutable() -> None:
    p = who("staff", units=("A",))
    with pytest.raises(AttributeError):
        p.roles = frozenset({"admin"})  # type: ignore[misc]
