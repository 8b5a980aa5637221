"""Issue 17 item 6: every text a person sees on the dashboard comes from the
translations. Fails when a key is missing in either language, when a page asks for a
key that does not exist, or when the server answers an error code the page cannot
translate (the page shows ``error_<code>``, never the server's English message)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from devices.contract.device_types import DEVICE_TYPES
from tests.i18n_strings import strings

ROOT = Path(__file__).parents[2]
STATIC = ROOT / "ui" / "static"
LANGUAGES = ("sv", "en")
#: Pages of the staff dashboard (the room screen and the call page have their own texts).
DASHBOARD_PAGES = sorted(p for p in STATIC.glob("*.js") if p.name not in ("screen.js", "call.js"))
#: Error codes that come from an exception's code rather than a literal at the raise:
#: the command bus's refusals and sign-in's.
CODES_FROM_EXCEPTIONS = ("bad_reason", "bad_session", "unauthenticated")


def keys(lang: str) -> dict[str, str]:
    """``{key: text}`` of one language's block of ``STRINGS`` in ui/static/i18n.js."""
    return strings(lang)


def used_keys() -> dict[str, set[str]]:
    """Literal keys each dashboard page asks for: ``t("key")`` and ``data-i18n="key"``."""
    used: dict[str, set[str]] = {}
    for path in [*DASHBOARD_PAGES, STATIC / "index.html", STATIC / "login.html"]:
        text = path.read_text(encoding="utf-8")
        found = set(re.findall(r'\bt\(\s*"([^"]+)"', text))
        found |= set(re.findall(r'data-i18n="([^"]+)"', text))
        used[path.name] = found
    return used


def server_error_codes() -> set[str]:
    """Every error code the server's routes raise as a literal, and the codes of the
    refusals it writes to the activity log (an invitation link's, a session's, a
    sign-in's: the log page says them again from the code)."""
    codes = set(CODES_FROM_EXCEPTIONS)
    for path in (ROOT / "controller").rglob("*.py"):
        if "cli" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        codes |= set(re.findall(r'(?:ApiError|error_response)\(\s*\d{3},\s*"([a-z_]+)"', text))
        codes |= set(re.findall(REFUSAL, text))
    return codes


#: A refusal raised with its code as a literal (``InvitationRefused("invitation_invalid",``).
REFUSAL = r'\b(?:AuthFailed|LoginRefused|InvitationRefused)\(\s*"([a-z_]+)"'


def device_actions() -> list[tuple[str, str]]:
    """``(type, action)`` of every device type's actions: any of them can reach the
    audit log and the holds list (a staff command holds a device)."""
    return [(spec.name, action) for spec in DEVICE_TYPES.values() for action in spec.actions]


def label_keys(type_name: str, lang: str) -> set[str]:
    """The keys of a device type's labels (ui/labels/{type}.toml) in ``lang``."""
    with (ROOT / "ui" / "labels" / f"{type_name}.toml").open("rb") as f:
        return set(tomllib.load(f)[lang])


def test_both_languages_have_the_same_keys() -> None:
    sv, en = keys("sv"), keys("en")
    assert len(sv) > 100
    assert sorted(set(sv) - set(en)) == [], "missing in English"
    assert sorted(set(en) - set(sv)) == [], "missing in Swedish"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_text_is_empty_and_parameters_match(lang: str) -> None:
    texts, sv = keys(lang), keys("sv")
    assert [k for k, v in texts.items() if not v.strip()] == []
    for key, text in texts.items():
        assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", sv[key])), key


@pytest.mark.parametrize("page", sorted(used_keys()))
def test_every_key_a_page_uses_exists(page: str) -> None:
    known = set(keys("sv"))
    assert sorted(used_keys()[page] - known) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_server_error_code_has_a_text(lang: str) -> None:
    texts = keys(lang)
    missing = sorted(c for c in server_error_codes() if f"error_{c}" not in texts)
    assert missing == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_device_action_has_a_text(lang: str) -> None:
    """The audit log and the holds list name an action by the type's label
    (``action_{name}``) or the general command texts (``cmd_{name}``)."""
    texts = keys(lang)
    missing = [
        f"{type_name}.{action}"
        for type_name, action in device_actions()
        if f"action_{action}" not in label_keys(type_name, lang) and f"cmd_{action}" not in texts
    ]
    assert missing == []


def test_the_checks_see_what_they_check() -> None:
    """The parsers find what is there (so the tests above cannot pass on nothing)."""
    assert keys("sv")["sign_in"] == "Logga in"
    assert "reason.care visit" in keys("en")
    assert "take" in used_keys()["alarms.js"] or "take" in used_keys()["index.html"]
    assert {"forbidden", "bad_body", "unknown_alarm"} <= server_error_codes()
    assert {"invitation_invalid", "invitation_expired", "bad_token"} <= server_error_codes()
    assert ("screen", "show_message") in device_actions()
    assert ("lock", "unlock") in device_actions()
    assert "action_show_message" in label_keys("screen", "sv")
