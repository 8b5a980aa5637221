"""Every route that reads a JSON body or a query string answers bad input the one way:
400 ``{"error": {"code", "message", "details"}}`` with a stable code (``bad_json``,
``bad_body``, ``bad_query``; ``bad_schedule`` for a schedule's own rules) and the
fields named in ``details`` as ``{"field", "problem"}``; and nothing is changed.

The routes are taken from the application's OpenAPI document (itself generated from
the ``read_body``/``read_query`` calls of the handlers), so a new route is covered
by being written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from config.site import Site, load_site
from controller.api import build_app
from controller.daemon import Controller, ControllerConfig
from controller.openapi import build_document
from controller.ops.brokers import MosquittoProcess
from controller.store.alarm_records import AlarmRecord
from devices.mqtt import BrokerAddress
from tests.conftest import EXAMPLE_SITE, BrokerUnderTest

from .harness import RunningController, start_controller

#: The schedule routes hand the fields to the scheduler, which names them the same way.
SCHEDULE_ROUTES = {("POST", "/api/schedules"), ("PUT", "/api/schedules/{schedule}")}
#: Routes whose query is read before a body that is not JSON (an image).
RAW_BODY = {("POST", "/api/firmware")}


def _document() -> dict[str, Any]:
    site = load_site(EXAMPLE_SITE)
    config = ControllerConfig(
        broker=BrokerAddress.parse("mqtt://127.0.0.1:1"),
        site=site,
        credentials=None,
        db_url="sqlite:///:memory:",
    )
    return build_document(build_app(Controller(config)))


DOC = _document()
OPERATIONS = [
    (method.upper(), path, op) for path, ops in DOC["paths"].items() for method, op in ops.items()
]
BODY_ROUTES = [(m, p) for m, p, op in OPERATIONS if "requestBody" in op]
QUERY_ROUTES = [
    (m, p, param)
    for m, p, op in OPERATIONS
    for param in op.get("parameters", [])
    if param["in"] == "query"
]
QUERY_PATHS = sorted({(m, p) for m, p, _ in QUERY_ROUTES})


def _body_schema(path: str, method: str) -> dict[str, Any]:
    op = DOC["paths"][path][method.lower()]
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema: dict[str, Any] = DOC["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return schema


def _wrong_value(schema: dict[str, Any]) -> object | None:
    """A JSON value that cannot be of the property's type (None: no type to miss)."""
    kinds = {schema.get("type")} | {o.get("type") for o in schema.get("anyOf", [])}
    kinds.discard(None)
    if "$ref" in schema or any("$ref" in o for o in schema.get("anyOf", [])):
        kinds.add("object")
    wrong: list[tuple[str, object]] = [
        ("object", {"not": ["what", "was", "asked"]}),
        ("string", "not what was asked"),
        ("integer", 12345),
    ]
    if not kinds:
        return None
    return next(
        (
            value
            for kind, value in wrong
            if kind not in kinds and (kind != "integer" or "number" not in kinds)
        ),
        None,
    )


def _wrong_query_value(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "no-such-choice"
    if schema.get("type") == "integer":
        return "twelve"
    if schema.get("format") == "date-time":
        return "half past nine"
    if schema.get("format") == "date":
        return "2026-13-45"
    if "maxLength" in schema:
        return "x" * (schema["maxLength"] + 1)
    if "pattern" in schema:
        return "!"
    raise AssertionError(f"no wrong value for {schema}: teach the test one")


@pytest.fixture(scope="module")
async def api(
    mosquitto: BrokerUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningController]:
    """A controller of its own (own store and broker, no devices answering)."""
    root: Path = tmp_path_factory.mktemp("input-errors")
    broker = MosquittoProcess(mosquitto.credentials, root / "broker")
    broker.start()
    running = await start_controller(
        broker.address, mosquitto.site, mosquitto.credentials, root / "store.sqlite"
    )
    try:
        yield running
    finally:
        await running.stop()
        broker.stop()


@pytest.fixture(scope="module")
async def path_values(api: RunningController, example_site: Site) -> dict[str, str]:
    """Path parameters naming things that exist: a bad body is not hidden by a 404."""
    status, created = await api.call(
        "POST",
        "/api/schedules",
        json={
            "name": "evening curtains",
            "target": "wing:A",
            "action": "close",
            "rule": {"kind": "daily", "time": "21:30"},
        },
    )
    assert status == 201, created
    store = api.controller.store
    now = api.controller.clock.now()
    alarm = await store.add_alarm(
        AlarmRecord(
            kind="help",
            apartment="101",
            device="a101-screen",
            state="open",
            raised_at=now - timedelta(minutes=1),
        )
    )
    return {
        "device": "a101-lock",
        "apartment": "101",
        "alarm": str(alarm.id),
        "schedule": created["id"],
        "username": "test-admin",
        "chart": "wings",
    }


async def _state(api: RunningController) -> dict[str, Any]:
    """What a request could change, each as a stable projection."""
    reads = {
        "audit": "/api/audit?limit=1000",
        "activity": "/api/activity?limit=1000",
        "schedules": "/api/schedules",
        "users": "/api/users",
        "alarms": "/api/alarms?state=all&limit=1000",
        "plan": "/api/apartments/101/plan",
        "invitations": "/api/calls/invitations",
        "hours": "/api/calls/visiting-hours/101",
        "me": "/api/auth/me",
        "firmware": "/api/firmware",
    }
    state: dict[str, Any] = {}
    for name, path in reads.items():
        status, body = await api.call("GET", path)
        assert status == 200, (path, body)
        state[name] = body
    state["schedules"] = [
        (s["id"], s["enabled"], s["updated_at"], s["owner"])
        for s in state["schedules"]["schedules"]
    ]
    state["alarms"] = [(a["id"], a["state"]) for a in state["alarms"]["alarms"]]
    return state


def _check_error(status: int, body: Any, code: str | set[str], field: str | None) -> None:
    """The one error shape: 400, a stable code, a message, and the fields named."""
    assert status == 400, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"] in ({code} if isinstance(code, str) else code), error
    assert isinstance(error["message"], str), error
    assert error["message"], error
    if field is None:
        return
    details = error["details"]
    assert isinstance(details, list), error
    assert details, error
    for item in details:
        assert set(item) == {"field", "problem"}, item
        assert isinstance(item["field"], str), item
        assert isinstance(item["problem"], str), item
    assert any(d["field"] == field or d["field"].startswith(f"{field}.") for d in details), (
        field,
        details,
    )


def _path(template: str, values: dict[str, str]) -> str:
    return template.format(**values)


def test_the_routes_are_found() -> None:
    """The document lists the routes that read a body and a query (else the tests
    below would pass by testing nothing)."""
    assert len(BODY_ROUTES) >= 15, BODY_ROUTES
    assert len(QUERY_PATHS) >= 10, QUERY_PATHS
    assert ("POST", "/api/devices/{device}/commands") in BODY_ROUTES
    assert ("GET", "/api/alarms") in QUERY_PATHS


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES, ids=[f"{m} {p}" for m, p in BODY_ROUTES])
async def test_bad_bodies_get_the_one_error_and_change_nothing(
    api: RunningController, path_values: dict[str, str], method: str, path: str
) -> None:
    url = _path(path, path_values)
    shaped = "bad_schedule" if (method, path) in SCHEDULE_ROUTES else "bad_body"
    json_type = {"Content-Type": "application/json"}
    before = await _state(api)

    cases: list[tuple[bytes | None, Any, str, str | None]] = [
        (b"{not json", None, "bad_json", None),
        (b'{"x": NaN}', None, "bad_json", None),
        (b"[1, 2]", None, "bad_body", "body"),
        (None, {"surprise": 1}, shaped, "surprise"),
    ]
    properties = _body_schema(path, method).get("properties", {})
    wrong = next(
        ((name, v) for name, p in properties.items() if (v := _wrong_value(p)) is not None), None
    )
    if properties:  # a model without fields (on_site) has only unknown ones to refuse
        assert wrong is not None, f"{method} {path}: no property to send a wrong type for"
        cases.append((None, {wrong[0]: wrong[1]}, shaped, wrong[0]))

    for raw, json_body, code, field in cases:
        if raw is not None:
            async with api.http.request(method, url, data=raw, headers=json_type) as resp:
                status, body = resp.status, await resp.json()
        else:
            status, body = await api.call(method, url, json=json_body)
        _check_error(status, body, code, field)
    assert await _state(api) == before


@pytest.mark.parametrize(("method", "path"), QUERY_PATHS, ids=[f"{m} {p}" for m, p in QUERY_PATHS])
async def test_bad_queries_get_the_one_error_and_change_nothing(
    api: RunningController, path_values: dict[str, str], method: str, path: str
) -> None:
    url = _path(path, path_values)
    params = [p for m, p_, p in QUERY_ROUTES if (m, p_) == (method, path)]
    before = await _state(api)
    cases: list[tuple[list[tuple[str, str]], str]] = [
        ([("surprise", "1")], "surprise"),
        ([(params[0]["name"], "a"), (params[0]["name"], "b")], params[0]["name"]),
    ]
    cases += [([(p["name"], _wrong_query_value(p["schema"]))], p["name"]) for p in params]
    if (method, path) in RAW_BODY:  # the other, required parameters given right
        good = {"type": "lock", "version": "1.0.0"}
        cases = [([*[(k, v) for k, v in good.items() if k != q[0][0]], *q], f) for q, f in cases]
    for query, field in cases:
        async with api.http.request(method, url, params=query, data=b"image") as resp:
            status, body = resp.status, await resp.json()
        _check_error(status, body, "bad_query", field)
    assert await _state(api) == before


async def test_an_empty_value_is_no_value_and_naive_times_are_site_time(
    api: RunningController,
) -> None:
    status, body = await api.call("GET", "/api/activity?actor=&limit=")
    assert status == 200, body
    status, body = await api.call("GET", "/api/alarms?state=all&since=2026-12-01")
    assert status == 200, body
    status, body = await api.call("GET", "/api/alarms?since=2026-12-01T08:00+01:00")
    assert status == 200, body  # the unencoded "+" (a space) is read back as "+"
