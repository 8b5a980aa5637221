"""Values that are not JSON, from a device or a client, through the real broker and API.

``NaN`` / ``Infinity`` from a device are dropped (``not_json``) and its next good help
press still rings; an answer of the API or its WebSocket is strict JSON even when the
store already holds a NaN from before; a body nested 20,000 deep or with a 5,000-digit
number is a 400, never a 500.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from controller.bus_messages import AlarmChanged, DeviceEvent, MessageDropped
from controller.store import EventRecord
from controller.store.alarm_records import AlarmRecord
from devices.contract import Channel, Event, SiteTopics, encode
from tests.conftest import BrokerUnderTest
from tests.integration.harness import RunningController, RunningHome
from tests.reliability_fixtures import locks_of

SCREEN = "a216-screen"
APARTMENT = "216"


def strict(text: str) -> Any:
    """``text`` parsed as JSON that has no ``NaN`` / ``Infinity`` (a browser's parser)."""

    def refuse(token: str) -> None:
        raise AssertionError(f"{token} in an answer: {text[:200]}")

    return json.loads(text, parse_constant=refuse)


async def get_strict(ctl: RunningController, path: str) -> Any:
    async with ctl.http.get(path) as resp:
        text = await resp.text()
        assert resp.status == 200, text
        assert resp.content_type == "application/json"
    return strict(text)


async def test_device_nan_is_dropped_as_not_json_and_its_next_help_press_still_rings(
    rel_ctl: RunningController, rel_home: RunningHome, rel_broker: BrokerUnderTest
) -> None:
    ctl = rel_ctl.controller
    topics = SiteTopics(rel_broker.site.slug)
    lock = locks_of(rel_broker.site)[-1]
    ts = datetime.now(UTC).isoformat()
    bad = [
        (SCREEN, Channel.EVENT, f'{{"type":"help_pressed","ts":"{ts}","seq":NaN}}'),
        (SCREEN, Channel.EVENT, f'{{"type":"help_pressed","ts":"{ts}","seq":9,"p":-Infinity}}'),
        (SCREEN, Channel.EVENT, f'{{"type":"help_pressed","ts":"{ts}","seq":9,"p":1e999}}'),
        (
            lock,
            Channel.STATE,
            f'{{"seq":99999,"ts":"{ts}","lock":"unlocked","door":"open","battery":NaN}}',
        ),
    ]
    twin = ctl.twins.get(lock)
    assert twin is not None
    reported_before = twin.reported
    not_json_before = ctl.reports.dropped.counts.get("not_json", 0)
    help_press = Event(type="help_pressed", ts=datetime.now(UTC), seq=10**7, source="test")
    with (
        ctl.bus.subscribe(MessageDropped, queue_size=0) as drops,
        ctl.bus.subscribe(DeviceEvent, AlarmChanged, queue_size=0) as seen,
    ):
        for device, channel, payload in bad:  # each device's own connection and login
            await rel_home.home[device].link.publish_raw(topics.device(device, channel), payload)
        reasons = []
        async with asyncio.timeout(10):
            while len(reasons) < len(bad):
                msg = await drops.get()
                if SCREEN in msg.topic or lock in msg.topic:
                    reasons.append(msg.reason)
        assert reasons == ["not_json"] * len(bad)
        screen = rel_home.home[SCREEN].link
        await screen.publish_raw(topics.device(SCREEN, Channel.EVENT), encode(help_press))
        event: DeviceEvent | None = None
        pushed: AlarmChanged | None = None
        async with asyncio.timeout(10):
            while event is None or pushed is None:
                msg = await seen.get()
                if isinstance(msg, DeviceEvent):
                    if msg.device == SCREEN and msg.type == "help_pressed":
                        event = msg
                elif msg.alarm.device == SCREEN and msg.alarm.kind == "help":
                    pushed = msg
    assert ctl.reports.dropped.counts["not_json"] == not_json_before + len(bad)
    assert twin.reported is reported_before  # the NaN state changed nothing
    assert event.details["seq"] == help_press.seq
    assert pushed.change in ("raised", "repeated"), pushed
    assert pushed.stored, pushed
    await ctl.events.flush()
    body = await get_strict(rel_ctl, f"/api/events?device={SCREEN}&limit=20")
    stored = [e for e in body["events"] if e["type"] == "help_pressed"]
    assert [e["details"]["seq"] for e in stored] == [help_press.seq]  # the bad ones: none
    body = await get_strict(rel_ctl, f"/api/alarms?apartment={APARTMENT}")
    assert pushed.alarm.id in [a["id"] for a in body["alarms"] if a["kind"] == "help"]
    status, closed = await rel_ctl.call(
        "POST", f"/api/alarms/{pushed.alarm.id}/close", json={"note": "test over"}
    )
    assert status == 200, closed


async def test_nan_stored_before_the_fix_is_answered_as_null(rel_ctl: RunningController) -> None:
    """SQLite kept what ``json.dumps`` wrote (``NaN``); the answers carry null instead."""
    ctl = rel_ctl.controller
    now = datetime.now(UTC)
    details = {"pressure": math.nan, "peak": [math.inf, 1.5], "note": "old"}
    await ctl.store.add_events(
        [EventRecord(ts=now, device=SCREEN, type="touched", details=details)]
    )
    alarm = await ctl.store.add_alarm(
        AlarmRecord(
            kind="help",
            apartment=APARTMENT,
            device=SCREEN,
            state="closed",
            raised_at=now,
            details={"count": 1, "pressure": -math.inf},
            closed_by="test",
            closed_at=now,
        )
    )
    body = await get_strict(rel_ctl, f"/api/events?device={SCREEN}&limit=5")
    [old] = [e for e in body["events"] if e["details"].get("note") == "old"]
    assert old["details"] == {"pressure": None, "peak": [None, 1.5], "note": "old"}
    body = await get_strict(rel_ctl, f"/api/alarms?state=closed&apartment={APARTMENT}")
    [listed] = [a for a in body["alarms"] if a["id"] == alarm.id]
    assert listed["details"]["pressure"] is None
    one = await get_strict(rel_ctl, f"/api/alarms/{alarm.id}")
    assert one["details"]["pressure"] is None


async def test_live_socket_frames_are_strict_json(rel_ctl: RunningController) -> None:
    ctl = rel_ctl.controller
    async with rel_ctl.http.ws_connect("/api/ws") as ws:
        strict(await ws.receive_str(timeout=10))  # the snapshot
        ctl.bus.publish(
            DeviceEvent(
                datetime.now(UTC), SCREEN, "touched", {"pressure": math.nan, "mark": "live-nan"}
            )
        )
        async with asyncio.timeout(10):
            while True:
                frame = strict(await ws.receive_str())
                found = [
                    m
                    for m in (frame["data"] if frame["type"] == "batch" else [frame])
                    if m["type"] == "event" and m["data"]["details"].get("mark") == "live-nan"
                ]
                if found:
                    break
    assert found[0]["data"]["details"]["pressure"] is None


async def test_a_page_socket_message_nested_20000_deep_is_refused_in_words(
    rel_ctl: RunningController,
) -> None:
    """The screen and call pages' socket reads its messages with the same strict parser."""
    async with (
        aiohttp.ClientSession(base_url=rel_ctl.controller.http_url) as http,
        http.ws_connect("/api/screen/ws") as ws,
    ):
        await ws.send_str("[" * 20_000 + "]" * 20_000)  # as the hello
        error = strict(await ws.receive_str(timeout=10))
        closing = await ws.receive(timeout=10)
    assert error["type"] == "error"
    assert error["code"] == "no_hello"
    assert closing.type is aiohttp.WSMsgType.CLOSE
    assert closing.data == 4001


DEEP = b"[" * 20_000 + b"]" * 20_000
DIGITS = b'{"action":' + b"7" * 5_000 + b"}"
NAN = b'{"action":"lock","timeout_s":NaN}'


@pytest.mark.parametrize("body", [DEEP, DIGITS, NAN], ids=["20000-deep", "5000-digits", "nan"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/devices/a101-lock/commands"),
        ("POST", "/api/schedules"),
        ("PATCH", "/api/users/test-admin"),
        ("POST", "/api/alarms/1/close"),
        ("PUT", "/api/calls/visiting-hours/101"),
    ],
)
async def test_bodies_that_python_json_chokes_on_are_400(
    rel_ctl: RunningController, method: str, path: str, body: bytes
) -> None:
    headers = {"Content-Type": "application/json"}
    async with rel_ctl.http.request(method, path, data=body, headers=headers) as resp:
        text = await resp.text()
        assert resp.status == 400, text
    error = strict(text)["error"]
    assert error["code"] == "bad_json", error
    assert error["message"].startswith("the body is not JSON: ")


def test_every_json_answer_goes_through_the_strict_serialiser() -> None:
    """One way to answer JSON: ``controller/api/responses.py`` (aiohttp's own helpers
    would write ``NaN``)."""
    root = Path(__file__).resolve().parents[2] / "controller"
    pattern = re.compile(r"web\.json_response\(|\.send_json\(")
    offenders = [
        f"{path.relative_to(root)}:{n}"
        for path in root.rglob("*.py")
        if path.name != "responses.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
