"""Security headers and the content security policy on every page and every kind of
answer (success, 401, 403, 404, 405, 400), and pages that carry no inline script,
inline style, foreign origin or secret."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest

from controller.api.app import SECURITY_HEADERS

from .harness import RunningController

STATIC = Path(__file__).resolve().parents[2] / "ui" / "static"
PAGES = sorted(p.name for p in STATIC.glob("*.html"))


def assert_secure(resp: aiohttp.ClientResponse, what: str) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert resp.headers.get(name) == value, f"{what}: {name} is {resp.headers.get(name)!r}"


def test_the_policy_allows_nothing_inline_or_foreign() -> None:
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    csp = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert "unsafe" not in SECURITY_HEADERS["Content-Security-Policy"]


@pytest.mark.parametrize("page", PAGES)
def test_pages_have_no_inline_code_foreign_origin_or_secret(page: str) -> None:
    html = (STATIC / page).read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert "style=" not in html, "inline style"
    assert "<style" not in html, "inline style sheet"
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "foreign origin"
    assert not re.search(r"(password|token|secret|key)\s*[:=]\s*[\"'][^\"']{6,}", html, re.I)


async def test_every_page_and_every_kind_of_answer_carries_the_headers(
    ctl: RunningController,
) -> None:
    base = ctl.controller.http_url
    async with aiohttp.ClientSession(base_url=base) as anonymous:
        for page in PAGES:
            async with anonymous.get(f"/ui/{page}") as resp:
                assert resp.status == 200, page
                assert_secure(resp, page)
        for method, path, status in (
            ("GET", "/api/health", None),  # 200 or 503: both must carry them
            ("GET", "/", 302),
            ("GET", "/api/devices", 401),
            ("GET", "/ui/no-such-page.html", 404),
            ("GET", "/api/no-such-route", 401),  # sign-in first: routes are not revealed
            ("POST", "/api/auth/login", 415),  # no JSON body
        ):
            async with anonymous.request(method, path, allow_redirects=False) as resp:
                if status is not None:
                    assert resp.status == status, (method, path, resp.status)
                assert_secure(resp, f"{method} {path}")
    async with ctl.http.get("/api/devices") as resp:  # signed in
        assert resp.status == 200
        assert_secure(resp, "signed-in GET /api/devices")
    async with ctl.http.get("/api/no-such-route") as resp:
        assert resp.status == 404
        assert_secure(resp, "signed-in GET /api/no-such-route")
    async with ctl.http.delete("/api/devices") as resp:
        assert resp.status == 405
        assert_secure(resp, "DELETE /api/devices")
