"""The OpenAPI document is generated from the handlers and holds up against
schemathesis: generated and malformed requests to every operation get no 500, and
every error is a JSON 4xx (or a 503/504 the site's state explains) with a code."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from controller.ops.brokers import MosquittoProcess
from tests.conftest import BrokerUnderTest
from tests.integration.harness import RunningController, start_controller

#: Per operation; the whole run stays well under a minute on 2 cores.
MAX_EXAMPLES = 12
SITE_STATES = {503, 504}  # broker or store trouble, device timeouts: documented outcomes


@pytest.fixture(scope="module")
async def api(
    mosquitto: BrokerUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningController]:
    """A controller of its own (own store, own broker: schemathesis creates users and
    schedules) with no devices answering; commands time out in 1 s."""
    root: Path = tmp_path_factory.mktemp("openapi")
    broker = MosquittoProcess(mosquitto.credentials, root / "broker")
    broker.start()
    running = await start_controller(
        broker.address,
        mosquitto.site,
        mosquitto.credentials,
        root / "store.sqlite",
        command_timeout_s=1.0,
    )
    try:
        yield running
    finally:
        await running.stop()
        broker.stop()


@schemathesis.check
def clear_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """No 500; every error is JSON ``{"error": {"code", "message"}}``."""
    status = response.status_code
    assert status != 500, f"500 on {case.method} {case.formatted_path}: {response.text[:300]}"
    if status >= 400:
        body = response.json()
        assert isinstance(body["error"]["code"], str), body
        assert body["error"]["message"], body
        assert status < 500 or status in SITE_STATES, status
    return None


async def test_openapi_document_is_valid_and_generated_from_the_handlers(
    api: RunningController,
) -> None:
    status, doc = await api.call("GET", "/api/openapi.json")
    assert status == 200
    schema = schemathesis.openapi.from_dict(doc)
    schema.validate()  # raises on an invalid OpenAPI document
    command = doc["paths"]["/api/devices/{device}/commands"]["post"]
    body = doc["components"]["schemas"]["CommandRequest"]
    assert command["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/CommandRequest"
    )
    assert body["properties"]["action"]["maxLength"] == 32  # from the pydantic Field
    assert body["additionalProperties"] is False
    assert command["x-roles"] == ["admin", "staff", "technician"]
    assert doc["paths"]["/api/health"]["get"]["security"] == []
    alarms = {p["name"]: p for p in doc["paths"]["/api/alarms"]["get"]["parameters"]}
    assert {"state", "limit", "since", "apartment", "before_id"} <= set(alarms)
    # query parameters come from the route's read_query model, limits and all
    assert alarms["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 1000,
        "default": 100,
    }
    assert alarms["state"]["schema"]["enum"] == ["active", "closed", "all"]
    assert alarms["since"]["schema"]["format"] == "date-time"
    assert not any(p["required"] for p in alarms.values() if p["in"] == "query")
    upload = {p["name"]: p for p in doc["paths"]["/api/firmware"]["post"]["parameters"]}
    assert upload["type"]["required"]
    assert upload["version"]["required"]
    # no body needed where no field is required (an alarm's ack)
    ack = doc["paths"]["/api/alarms/{alarm}/ack"]["post"]["requestBody"]
    assert ack["required"] is False
    assert command["requestBody"]["required"] is True
    assert "CloseRequest" in doc["components"]["schemas"]  # a closure's BODIES[action]


async def test_api_page_is_readable_and_loads_nothing_from_elsewhere(
    api: RunningController,
) -> None:
    async with api.http.get("/api/docs", headers={"Authorization": ""}) as resp:
        assert resp.status == 200
        page = await resp.text()
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert "<script" not in page
    assert "style=" not in page
    assert "http://" not in page
    assert "https://" not in page
    assert "/api/devices/{device}/commands" in page
    assert "CommandRequest" in page


async def test_schemathesis_finds_no_server_errors(api: RunningController) -> None:
    status, doc = await api.call("GET", "/api/openapi.json")
    assert status == 200
    schema = schemathesis.openapi.from_dict(doc)
    base_url = api.controller.http_url
    headers = {"Authorization": f"Bearer {api.token}"}
    skip = {("POST", "/api/auth/logout")}  # would end the token's own session: not useful
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) > 25

    statuses: dict[int, int] = {}

    def run_all() -> int:
        calls = 0
        with requests.Session() as session:
            for operation in operations:
                if (operation.method.upper(), operation.path) in skip:
                    continue

                @settings(
                    max_examples=MAX_EXAMPLES,
                    deadline=None,
                    derandomize=True,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=operation.as_strategy())
                def check(case: schemathesis.Case) -> None:
                    nonlocal calls
                    response = case.call(base_url=base_url, session=session, headers=headers)
                    calls += 1
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    case.validate_response(response, checks=[clear_errors])

                check()
        return calls

    calls = await asyncio.wait_for(asyncio.to_thread(run_all), timeout=120)
    assert calls >= len(operations) * 2
    assert 500 not in statuses
    assert statuses.get(400, 0) > 0  # malformed input was tried, and refused
