"""Every route of the real application declares who may call it."""

from __future__ import annotations

import pytest
from aiohttp import web

from config.site import Site
from controller.api import build_app
from controller.api.app import is_public
from controller.api.roles import PUBLIC, SIGNED_IN, requires, route_rules
from controller.daemon import Controller, ControllerConfig
from devices.mqtt import BrokerAddress

#: The role table of docs/api.md; a new route must be added here and there.
EXPECTED = {
    ("GET", "/api/health"): PUBLIC,
    ("GET", "/health"): PUBLIC,
    ("POST", "/api/auth/login"): PUBLIC,
    ("POST", "/api/auth/logout"): SIGNED_IN,
    ("GET", "/api/auth/me"): SIGNED_IN,
    ("PATCH", "/api/auth/me"): SIGNED_IN,
    ("GET", "/api/devices"): {"admin", "staff", "technician"},
    ("GET", "/api/devices/{device}"): {"admin", "staff", "technician"},
    ("POST", "/api/devices/{device}/commands"): {"admin", "staff", "technician"},
    ("GET", "/api/events"): {"admin", "staff", "technician"},
    ("GET", "/api/ws"): {"admin", "staff", "technician"},
    ("GET", "/api/audit"): {"admin", "staff"},
    ("GET", "/api/audit/export.csv"): {"admin", "staff"},
    ("GET", "/api/activity"): {"admin", "staff"},
    ("GET", "/api/users"): {"admin"},
    ("POST", "/api/users"): {"admin"},
    ("PATCH", "/api/users/{username}"): {"admin"},
    ("GET", "/api/schedules"): {"admin", "staff"},
    ("GET", "/api/apartments/{apartment}/plan"): {"admin", "staff"},
    ("POST", "/api/apartments/{apartment}/plan"): {"admin", "staff"},
    ("DELETE", "/api/apartments/{apartment}/plan/{entry}"): {"admin", "staff"},
    ("POST", "/api/schedules"): {"admin", "staff"},
    ("GET", "/api/schedules/{schedule}"): {"admin", "staff"},
    ("PUT", "/api/schedules/{schedule}"): {"admin", "staff"},
    ("DELETE", "/api/schedules/{schedule}"): {"admin", "staff"},
    ("POST", "/api/schedules/{schedule}/pause"): {"admin", "staff"},
    ("POST", "/api/schedules/{schedule}/resume"): {"admin", "staff"},
    ("POST", "/api/remote-commands"): {"admin", "staff"},
    ("GET", "/metrics"): {"admin", "technician"},
    ("GET", "/api/openapi.json"): PUBLIC,
    ("GET", "/api/docs"): PUBLIC,
    ("GET", "/api/docs.css"): PUBLIC,
    # room screens and video calls (docs/screen-and-calls.md): the sockets and the
    # invitation page authenticate their own credential (screen token, link token)
    ("GET", "/api/screen/ws"): PUBLIC,
    ("GET", "/api/calls/ws"): PUBLIC,
    ("GET", "/api/calls/invitation"): PUBLIC,
    ("POST", "/api/calls/invitations"): {"admin", "staff"},
    ("GET", "/api/calls/invitations"): {"admin", "staff"},
    ("POST", "/api/calls/invitations/{invitation}/revoke"): {"admin", "staff"},
    ("GET", "/api/calls/visiting-hours/{apartment}"): {"admin", "staff"},
    ("PUT", "/api/calls/visiting-hours/{apartment}"): {"admin", "staff"},
    ("GET", "/api/calls/active"): {"admin", "staff"},
    # the municipality's response-time report: the operations manager (an admin)
    ("GET", "/api/reports/response-times"): {"admin"},
    ("GET", "/api/reports/response-times.xlsx"): {"admin"},
    ("GET", "/api/reports/response-times/{chart}.svg"): {"admin"},
}


@pytest.fixture(scope="module")
def app(example_site: Site) -> web.Application:
    config = ControllerConfig(
        broker=BrokerAddress.parse("mqtt://127.0.0.1:1"),
        site=example_site,
        credentials=None,
        db_url="sqlite:///:memory:",
    )
    return build_app(Controller(config))


def test_every_registered_route_declares_its_roles(app: web.Application) -> None:
    undeclared = [
        (method, path)
        for method, path, rule in route_rules(app)
        if rule is None and not is_public(path.rstrip("/") + "/") and not is_public(path)
    ]
    assert undeclared == [], "declare these with @requires/@signed_in/@public"


def test_the_role_table_is_what_the_routes_declare(app: web.Application) -> None:
    declared = {(m, p): r for m, p, r in route_rules(app) if m != "HEAD"}
    for key, rule in EXPECTED.items():
        assert key in declared, key
        assert declared[key] == rule, key
    for (_method, path), rule in declared.items():
        if path.startswith("/api/alarms") or path == "/api/site":
            assert rule in ({"admin", "staff"}, {"admin", "staff", "technician"}), path


def test_requires_refuses_unknown_roles() -> None:
    with pytest.raises(ValueError, match="roles"):
        requires("boss")
    with pytest.raises(ValueError, match="roles"):
        requires()


async def test_the_guard_refuses_undeclared_routes_and_missing_roles(tmp_path) -> None:
    """The middleware itself, on a small app: fail closed, and log each refusal."""
    import aiohttp
    from aiohttp.test_utils import TestServer

    from controller.api.app import errors_middleware
    from controller.api.auth import guard
    from controller.api.roles import signed_in
    from controller.auth.accounts import ensure_user
    from controller.auth.service import Authenticator
    from controller.auth.tokens import create_user_token
    from controller.store import open_store
    from devices.clock import SystemClock

    store = open_store(f"sqlite:///{tmp_path / 'guard.sqlite'}")
    await store.open()
    clock = SystemClock()
    await ensure_user(
        store, username="staff1", password="ett bra lösen 1", roles=["staff"], units=["A"],
        now=clock.now(),
    )  # fmt: skip
    token, _ = await create_user_token(store, username="staff1", name="t", now=clock.now())
    auth = Authenticator(store, clock)

    async def ok(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    @requires("admin")
    async def admin_only(request: web.Request) -> web.Response:
        return await ok(request)

    @signed_in
    async def anyone(request: web.Request) -> web.Response:
        return await ok(request)

    @web.middleware
    async def gate(request: web.Request, handler):  # type: ignore[no-untyped-def]
        return await guard(request, handler, auth)

    app = web.Application(middlewares=[errors_middleware, gate])
    app.router.add_get("/undeclared", ok)
    app.router.add_get("/admin", admin_only)
    app.router.add_get("/anyone", anyone)
    server = TestServer(app)
    await server.start_server()
    try:
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(base_url=str(server.make_url("/")), headers=headers) as c:
            for path, status, code in [
                ("/undeclared", 403, "undeclared_route"),
                ("/admin", 403, "forbidden"),
                ("/anyone", 200, None),
            ]:
                async with c.get(path) as resp:
                    body = await resp.json()
                    assert resp.status == status, body
                    if code:
                        assert body["error"]["code"] == code
            async with c.get("/anyone", headers={"Authorization": "Bearer wrong"}) as resp:
                assert resp.status == 401
        refused = await store.activity(action="refused")
        assert [(r.actor, r.subject, r.outcome) for r in refused] == [
            ("staff1", "GET /admin", "forbidden"),
            ("staff1", "GET /undeclared", "undeclared_route"),
        ]
    finally:
        await server.close()
        await store.close()
