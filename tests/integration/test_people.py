"""People, roles and sign-in over real HTTP against the real controller, with the
simulated home acking commands through the suite's Mosquitto."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from yarl import URL

from controller.auth.accounts import ensure_user, random_password
from controller.auth.throttle import LoginPolicy
from controller.auth.tokens import create_user_token
from tests.conftest import BrokerUnderTest

from .harness import RunningController, RunningHome, start_controller, wait_all_online

#: username -> (roles, units, apartments)
PEOPLE = {
    "boss": (["admin"], [], []),
    "anna": (["staff"], ["A", "B"], []),
    "nils": (["staff"], ["C", "D"], []),
    "tekla": (["technician"], [], []),
    "rut": (["relative"], [], ["101"]),
    "skarm101": (["screen"], [], ["101"]),
}


class Browser:
    """A browser-like client: a cookie jar, and the CSRF token from sign-in."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = aiohttp.ClientSession(base_url=url, cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf: str | None = None

    async def login(self, username: str, password: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.post(
            "/api/auth/login", json={"username": username, "password": password}, **kwargs
        ) as resp:
            body = await resp.json()
            self.set_cookie = resp.headers.getall("Set-Cookie", [])
            if resp.status == 200:
                self.csrf = body["csrf_token"]
            return resp.status, body

    async def call(
        self, method: str, path: str, *, csrf: bool = True, **kwargs: Any
    ) -> tuple[int, Any]:
        headers = dict(kwargs.pop("headers", {}))
        if csrf and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        async with self.http.request(method, path, headers=headers, **kwargs) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.text()

    async def command(self, device: str, action: str, **body: Any) -> tuple[int, Any]:
        return await self.call(
            "POST", f"/api/devices/{device}/commands", json={"action": action, **body}
        )

    async def close(self) -> None:
        await self.http.close()


class People:
    def __init__(self, running: RunningController, passwords: dict[str, str]) -> None:
        self.running = running
        self.passwords = passwords
        self.browsers: list[Browser] = []

    @property
    def url(self) -> str:
        return self.running.controller.http_url

    def browser(self) -> Browser:
        b = Browser(self.url)
        self.browsers.append(b)
        return b

    async def signed_in(self, username: str) -> Browser:
        b = self.browser()
        status, body = await b.login(username, self.passwords[username])
        assert status == 200, body
        return b

    async def activity(self, **query: str) -> list[dict[str, Any]]:
        status, body = await self.running.call("GET", "/api/activity", params=query)
        assert status == 200, body
        return body["activity"]


@pytest.fixture(scope="module")
async def people(
    mosquitto: BrokerUnderTest, home: RunningHome, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[People]:
    db = tmp_path_factory.mktemp("people") / "tryggbo.sqlite"
    running = await start_controller(
        mosquitto.address, mosquitto.site, mosquitto.credentials, db, client_id="test-auth-ctl"
    )
    ctl = running.controller
    # real policy, shorter waits: the unit tests time the delays themselves
    ctl.auth.policy = LoginPolicy(delay_base_s=0.01, delay_max_s=0.02)
    passwords = {}
    for username, (roles, units, apartments) in PEOPLE.items():
        passwords[username] = random_password(username)
        await ensure_user(
            ctl.store,
            username=username,
            password=passwords[username],
            roles=roles,
            units=units,
            apartments=apartments,
            now=ctl.clock.now(),
        )
    await wait_all_online(ctl)
    group = People(running, passwords)
    yield group
    for b in group.browsers:
        await b.close()
    await running.stop()


def lock_is(value: str):
    return lambda t: t.reported is not None and t.reported.lock == value


# -- sign-in -------------------------------------------------------------------------------


async def test_login_sets_an_httponly_strict_cookie_and_returns_a_csrf_token(
    people: People,
) -> None:
    b = people.browser()
    status, body = await b.login("Anna", people.passwords["anna"])
    assert status == 200, body
    assert body["user"]["username"] == "anna"
    assert body["user"]["units"] == ["A", "B"]
    assert body["user"]["language"] == "sv"
    assert "password_hash" not in body["user"]
    assert len(body["csrf_token"]) >= 32
    [cookie] = b.set_cookie
    attrs = [a.strip().lower() for a in cookie.split(";")]
    assert attrs[0].startswith("tryggbo_session=")
    assert {"httponly", "samesite=strict", "path=/"} <= set(attrs)
    assert "secure" not in attrs  # plain HTTP here; set over TLS
    secret = cookie.split(";")[0].split("=", 1)[1]
    assert await people.running.controller.store.get_session(secret) is None  # hash only
    status, me = await b.call("GET", "/api/auth/me")
    assert status == 200
    assert (me["user"]["username"], me["csrf_token"]) == ("anna", body["csrf_token"])


async def test_wrong_password_and_unknown_user_get_the_same_401(people: People) -> None:
    b = people.browser()
    answers = [
        await b.login("nils", "inte rätt lösen"),
        await b.login("okand-person", people.passwords["nils"]),
    ]
    assert answers[0] == answers[1]
    assert answers[0][0] == 401
    assert answers[0][1]["error"]["code"] == "bad_credentials"
    failed = await people.activity(action="signin_failed", actor="okand-person")
    assert failed[0]["reason"] == "unknown_user"


async def test_cross_site_and_non_json_sign_ins_are_refused(people: People) -> None:
    b = people.browser()
    status, body = await b.login(
        "anna", people.passwords["anna"], headers={"Origin": "https://evil.example"}
    )
    assert (status, body["error"]["code"]) == (403, "csrf")
    async with b.http.post(
        "/api/auth/login", data={"username": "anna", "password": people.passwords["anna"]}
    ) as resp:
        assert resp.status == 415
    refused = await people.activity(action="refused")
    assert any(r["subject"] == "POST /api/auth/login" for r in refused)


async def test_state_changes_need_the_csrf_header(people: People) -> None:
    b = await people.signed_in("anna")
    status, body = await b.call(
        "POST",
        "/api/devices/a102-curtain/commands",
        json={"action": "set_position", "args": {"position": 30}},
        csrf=False,
    )
    assert (status, body["error"]["code"]) == (403, "csrf")
    status, body = await b.call(
        "POST",
        "/api/devices/a102-curtain/commands",
        json={"action": "set_position", "args": {"position": 30}},
        headers={"X-CSRF-Token": "wrong"},
        csrf=False,
    )
    assert (status, body["error"]["code"]) == (403, "csrf")
    status, body = await b.command("a102-curtain", "set_position", args={"position": 30})
    assert (status, body["outcome"]) == (200, "ok"), body
    status, body = await b.call(
        "GET", "/api/devices", headers={"Origin": "https://evil.example"}, csrf=False
    )
    assert (status, body["error"]["code"]) == (403, "csrf")
    refused = await people.activity(action="refused", actor="anna")
    assert refused[0]["outcome"] == "csrf"


async def test_logout_ends_the_session(people: People) -> None:
    b = await people.signed_in("anna")
    cookie = b.http.cookie_jar.filter_cookies(URL(people.url))["tryggbo_session"].value
    status, _ = await b.call("POST", "/api/auth/logout", csrf=False)
    assert status == 403
    status, body = await b.call("POST", "/api/auth/logout")
    assert (status, body) == (200, {"signed_out": True})
    status, body = await b.call("GET", "/api/auth/me")
    assert (status, body["error"]["code"]) == (401, "unauthenticated")
    async with (
        aiohttp.ClientSession(base_url=people.url) as replay,
        replay.get("/api/auth/me", headers={"Cookie": f"tryggbo_session={cookie}"}) as resp,
    ):
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "bad_session"
    assert await people.activity(action="signout", actor="anna")


async def test_ten_wrong_passwords_lock_the_account(people: People) -> None:
    b = people.browser()
    for _ in range(9):
        status, body = await b.login("tekla", "fel fel fel fel")
        assert (status, body["error"]["code"]) == (401, "bad_credentials")
    async with b.http.post(
        "/api/auth/login", json={"username": "tekla", "password": "fel fel fel fel"}
    ) as resp:
        body = await resp.json()
        assert (resp.status, body["error"]["code"]) == (429, "locked")
        assert 890 <= body["error"]["details"]["retry_after_s"] <= 900
        assert int(resp.headers["Retry-After"]) >= 890
    status, body = await b.login("tekla", people.passwords["tekla"])
    assert (status, body["error"]["code"]) == (429, "locked")
    assert await people.activity(action="locked", actor="tekla")
    # an admin unlocks the account
    status, body = await people.running.call("PATCH", "/api/users/tekla", json={"unlock": True})
    assert status == 200, body
    assert body["user"]["failed_logins"] == 0
    status, body = await b.login("tekla", people.passwords["tekla"])
    assert status == 200, body


async def test_idle_sessions_expire(
    mosquitto: BrokerUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    db = tmp_path_factory.mktemp("idle") / "tryggbo.sqlite"
    running = await start_controller(
        mosquitto.address,
        mosquitto.site,
        mosquitto.credentials,
        db,
        client_id="test-auth-idle",
        session_idle_s=0.5,
    )
    b = Browser(running.controller.http_url)
    try:
        status, _ = await b.login("test-admin", running.passwords["test-admin"])
        assert status == 200
        assert (await b.call("GET", "/api/auth/me"))[0] == 200
        await asyncio.sleep(0.8)  # real time: the controller runs on the system clock
        status, body = await b.call("GET", "/api/auth/me")
        assert (status, body["error"]["code"]) == (401, "session_expired")
    finally:
        await b.close()
        await running.stop()


# -- roles ---------------------------------------------------------------------------------


async def test_relatives_and_technicians_cannot_unlock_and_it_is_logged(people: People) -> None:
    rut = await people.signed_in("rut")
    tekla = await people.signed_in("tekla")
    screen = await people.signed_in("skarm101")
    for who in (rut, tekla, screen):
        status, body = await who.command("a101-lock", "unlock", reason="care visit")
        assert (status, body["error"]["code"]) == (403, "forbidden"), body
    for who in (rut, screen):
        for path in ("/api/devices", "/api/devices/a101-lock", "/api/events", "/api/audit"):
            status, _ = await who.call("GET", path)
            assert status == 403, path
        status, _ = await who.command("a101-curtain", "ping")
        assert status == 403
    lines = await people.activity(action="refused", apartment="101")
    actors = {(r["actor"], r["subject"]) for r in lines}
    assert ("rut", "POST /api/devices/a101-lock/commands") in actors
    assert ("tekla", "POST /api/devices/a101-lock/commands") in actors
    # a technician reads devices and does maintenance anywhere
    assert (await tekla.call("GET", "/api/devices"))[0] == 200
    status, body = await tekla.command("a201-lock", "ping")
    assert (status, body["outcome"]) == (200, "ok"), body
    status, _ = await tekla.call("GET", "/api/audit")
    assert status == 403


async def test_staff_unlock_only_in_their_wings(people: People) -> None:
    anna = await people.signed_in("anna")  # wings A, B
    status, body = await anna.command("a201-lock", "unlock", reason="care visit")
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert "wing C: not one of your units" in body["error"]["message"]
    status, body = await anna.command("a111-lock", "unlock", reason="care visit")
    assert (status, body["outcome"]) == (200, "ok"), body
    await people.running.wait_twin("a111-lock", lock_is("unlocked"))
    status, body = await anna.command("a111-lock", "lock", reason="visit done")
    assert (status, body["outcome"]) == (200, "ok"), body
    await people.running.wait_twin("a111-lock", lock_is("locked"))
    status, audit = await people.running.call(
        "GET", "/api/audit", params={"device": "a111-lock", "actor": "anna"}
    )
    assert status == 200
    assert {(r["action"], r["outcome"]) for r in audit["audit"] if r["kind"] == "resolved"} == {
        ("unlock", "ok"),
        ("lock", "ok"),
    }
    nils = await people.signed_in("nils")  # wings C, D
    status, body = await nils.command("a111-lock", "unlock", reason="care visit")
    assert status == 403
    refused = await people.activity(action="refused", actor="nils")
    assert refused[0]["apartment"] == "111"


async def test_a_disabled_users_token_and_sessions_stop_at_once(people: People) -> None:
    store = people.running.controller.store
    clock = people.running.controller.clock
    await ensure_user(
        store,
        username="vikarie",
        password=random_password("vikarie"),
        roles=["staff"],
        units=["A"],
        now=clock.now(),
    )
    token, _ = await create_user_token(store, username="vikarie", name="t", now=clock.now())
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(base_url=people.url, headers=headers) as script:
        async with script.get("/api/devices/a101-lock") as resp:
            assert resp.status == 200
        # a bearer request carries no ambient credential: no CSRF header needed
        async with script.post(
            "/api/devices/a102-screen/commands", json={"action": "ping"}
        ) as resp:
            assert resp.status == 200, await resp.text()
        status, body = await people.running.call(
            "PATCH", "/api/users/vikarie", json={"disabled": True}
        )
        assert (status, body["user"]["disabled"]) == (200, True)
        async with script.get("/api/devices/a101-lock") as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["code"] == "user_disabled"


async def test_bad_bearer_never_falls_back_to_the_cookie(people: People) -> None:
    b = await people.signed_in("anna")
    status, body = await b.call("GET", "/api/devices", headers={"Authorization": "Bearer nope"})
    assert (status, body["error"]["code"]) == (401, "bad_token")


# -- own account, user admin, activity -----------------------------------------------------


async def test_own_language_and_password(people: People) -> None:
    await ensure_user(
        people.running.controller.store,
        username="olle",
        password="min första fras i B",
        roles=["staff"],
        units=["B"],
        now=people.running.controller.clock.now(),
    )
    first = people.browser()
    assert (await first.login("olle", "min första fras i B"))[0] == 200
    second = people.browser()
    assert (await second.login("olle", "min första fras i B"))[0] == 200
    status, body = await first.call("PATCH", "/api/auth/me", json={"language": "en"})
    assert (status, body["user"]["language"]) == (200, "en")
    status, body = await first.call("PATCH", "/api/auth/me", json={"language": "de"})
    assert status == 400
    change = {"current_password": "fel", "new_password": "ett helt nytt lösen"}
    status, body = await first.call("PATCH", "/api/auth/me", json=change)
    assert (status, body["error"]["code"]) == (400, "bad_current_password")
    change["current_password"] = "min första fras i B"
    status, body = await first.call(
        "PATCH", "/api/auth/me", json={**change, "new_password": "kort"}
    )
    assert (status, body["error"]["code"]) == (400, "weak_password")
    status, body = await first.call("PATCH", "/api/auth/me", json=change)
    assert status == 200, body
    assert (await first.call("GET", "/api/auth/me"))[0] == 200  # this session lives on
    assert (await second.call("GET", "/api/auth/me"))[0] == 401  # the others end
    assert (await people.browser().login("olle", "ett helt nytt lösen"))[0] == 200


async def test_admin_manages_users_with_clear_errors(people: People) -> None:
    boss = await people.signed_in("boss")
    good = {
        "username": "karin",
        "password": "sjöberg i D 2026",
        "roles": ["staff"],
        "units": ["D"],
        "display_name": "Karin Sjöberg",
    }
    cases = [
        ({**good, "username": "Karin Sjöberg"}, "bad_user"),
        ({**good, "password": "kort"}, "weak_password"),
        ({**good, "units": ["Z"]}, "bad_user"),
        ({**good, "roles": ["staff", "relative"]}, "bad_user"),
        ({**good, "roles": ["owner"]}, "bad_user"),
        ({**good, "surprise": 1}, "bad_body"),
    ]
    for body, code in cases:
        status, got = await boss.call("POST", "/api/users", json=body)
        assert (status, got["error"]["code"]) == (400, code), (body, got)
    status, got = await boss.call("POST", "/api/users", json=good)
    assert status == 201, got
    assert got["user"]["units"] == ["D"]
    status, got = await boss.call("POST", "/api/users", json=good)
    assert (status, got["error"]["code"]) == (409, "user_exists")
    status, got = await boss.call("GET", "/api/users")
    assert status == 200
    listed = {u["username"]: u for u in got["users"]}
    assert "password_hash" not in listed["karin"]
    status, got = await boss.call(
        "PATCH", "/api/users/karin", json={"units": ["C", "D"], "language": "en"}
    )
    assert (status, got["user"]["units"], got["user"]["language"]) == (200, ["C", "D"], "en")
    status, got = await boss.call("PATCH", "/api/users/karin", json={"apartments": ["101"]})
    assert (status, got["error"]["code"]) == (400, "bad_user")
    status, got = await boss.call("PATCH", "/api/users/nobody", json={"language": "en"})
    assert status == 404
    status, got = await boss.call("PATCH", "/api/users/boss", json={"disabled": True})
    assert (status, got["error"]["code"]) == (400, "self_lockout")
    status, got = await boss.call(
        "PATCH", "/api/users/boss", json={"roles": ["staff"], "units": ["A"]}
    )
    assert (status, got["error"]["code"]) == (400, "self_lockout")
    people.passwords["karin"] = good["password"]
    karin = await people.signed_in("karin")
    assert (await karin.call("GET", "/api/users"))[0] == 403
    status, got = await boss.call("PATCH", "/api/users/karin", json={"password": "ett nytt lösen!"})
    assert status == 200
    assert (await karin.call("GET", "/api/auth/me"))[0] == 401  # reset ends her sessions
    adds = await people.activity(action="user_add", actor="boss")
    assert adds[0]["subject"] == "karin"


async def test_activity_and_csv_export(people: People) -> None:
    anna = await people.signed_in("anna")
    status, body = await anna.command(
        "a103-screen", "show_message", args={"text": "=HYPERLINK(1)"}, reason="=cmd|' /C calc'!A0"
    )
    assert status == 200, body
    status, body = await anna.call("GET", "/api/activity", params={"actor": "anna", "limit": "5"})
    assert status == 200
    assert {r["action"] for r in body["activity"]} >= {"signin"}
    status, body = await anna.call("GET", "/api/activity", params={"since": "not a time"})
    assert (status, body["error"]["code"]) == (400, "bad_query")
    status, body = await anna.call(
        "GET", "/api/audit", params={"actor": "anna", "since": "2000-01-01", "until": "2999-01-01"}
    )
    assert status == 200
    assert body["audit"]
    assert {r["actor"] for r in body["audit"]} == {"anna"}
    status, body = await anna.call("GET", "/api/audit", params={"until": "2000-01-01T00:00Z"})
    assert (status, body["audit"]) == (200, [])
    async with anna.http.get(
        "/api/audit/export.csv", params={"apartment": "103", "actor": "anna"}
    ) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/csv"
        assert "attachment" in resp.headers["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert rows
    assert set(rows[0]) == {
        "when", "source", "kind", "who", "what", "subject", "apartment", "why", "outcome",
        "details",
    }  # fmt: skip
    shown = [r for r in rows if r["what"] == "show_message"]
    assert {r["kind"] for r in shown} == {"issued", "resolved"}
    assert all(r["apartment"] == "103" and r["who"] == "anna" for r in rows)
    assert shown[0]["why"].startswith("'=")  # no formula for the spreadsheet
    assert [r["when"] for r in rows] == sorted((r["when"] for r in rows), reverse=True)
    tekla = await people.signed_in("tekla")
    for path in ("/api/activity", "/api/audit/export.csv"):
        assert (await tekla.call("GET", path))[0] == 403


async def test_routes_are_refused_to_callers_without_the_role_by_the_server(
    people: People,
) -> None:
    rut = await people.signed_in("rut")
    for method, path in [
        ("GET", "/api/users"),
        ("POST", "/api/users"),
        ("PATCH", "/api/users/anna"),
        ("GET", "/api/activity"),
        ("GET", "/api/audit/export.csv"),
        ("GET", "/api/ws"),
    ]:
        status, body = await rut.call(method, path, json={} if method != "GET" else None)
        assert status == 403, (method, path, body)
    # signed-in routes work for everyone
    status, body = await rut.call("GET", "/api/auth/me")
    assert (status, body["user"]["apartments"]) == (200, ["101"])


async def test_websocket_with_the_session_cookie_but_not_from_another_site(
    people: People,
) -> None:
    anna = await people.signed_in("anna")
    async with anna.http.ws_connect("/api/ws") as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        async with anna.http.ws_connect("/api/ws", origin="https://evil.example"):
            pass
    assert caught.value.status == 403
