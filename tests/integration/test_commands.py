"""Commands end to end: API -> command bus -> Mosquitto -> firmware -> ack -> twin."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from controller.bus_messages import FireChanged, TwinChanged
from controller.twins import Twin
from tests.conftest import BrokerUnderTest

from .harness import RunningController, RunningHome, live_message


def lock_is(value: str):
    return lambda t: t.reported is not None and t.reported.lock == value


async def test_unlock_then_lock_through_the_api(ctl: RunningController) -> None:
    status, body = await ctl.command("a101-lock", "unlock", reason="care visit")
    assert status == 200, body
    assert body["outcome"] == "ok"
    assert body["state"]["lock"] == "unlocked"
    twin = await ctl.wait_twin("a101-lock", lock_is("unlocked"))
    assert twin.desired["action"] == "unlock"

    status, body = await ctl.command("a101-lock", "lock", reason="care visit done")
    assert (status, body["outcome"]) == (200, "ok")
    await ctl.wait_twin("a101-lock", lock_is("locked"))

    status, audit = await ctl.call("GET", "/api/audit", params={"device": "a101-lock"})
    assert status == 200
    resolved = [r for r in audit["audit"] if r["kind"] == "resolved"]
    assert [(r["action"], r["outcome"], r["actor"]) for r in resolved[:2]] == [
        ("lock", "ok", "test-staff"),
        ("unlock", "ok", "test-staff"),
    ]
    assert resolved[1]["reason"] == "care visit"


async def test_curtain_moves_to_40_and_the_twin_follows(ctl: RunningController) -> None:
    seen: list[int] = []

    def at_40(t: Twin) -> bool:
        assert t.reported is not None
        seen.append(t.reported.position)
        return t.reported.position == 40 and t.reported.motion == "idle"

    start = ctl.controller.twins.get("a102-curtain")
    assert start is not None
    assert start.reported is not None
    assert start.reported.position != 40
    status, body = await ctl.command("a102-curtain", "set_position", args={"position": 40})
    assert (status, body["outcome"]) == (200, "ok")
    await ctl.wait_twin("a102-curtain", at_40, timeout=15)
    intermediate = {p for p in seen if p not in (40, start.reported.position)}
    assert intermediate, f"no progress reports between the ends: {seen}"


async def test_message_shown_on_a_screen(ctl: RunningController, home: RunningHome) -> None:
    status, body = await ctl.command(
        "a103-screen", "show_message", args={"text": "Lunch at 12.00", "from": "Anna"}
    )
    assert (status, body["outcome"]) == (200, "ok")
    twin = await ctl.wait_twin(
        "a103-screen", lambda t: t.reported is not None and t.reported.message is not None
    )
    assert twin.reported.message.text == "Lunch at 12.00"
    assert home.home.devices["a103-screen"].state.message.text == "Lunch at 12.00"


async def test_command_to_offline_device_resolves_offline_and_is_audited(
    ctl: RunningController, home: RunningHome
) -> None:
    device = home.home.devices["a104-lock"]
    device.go_offline()
    try:
        await ctl.wait_twin("a104-lock", lambda t: t.reachability.value == "offline")
        status, body = await ctl.command("a104-lock", "unlock", reason="emergency")
        assert status == 504
        assert body["outcome"] == "offline"
        assert body["elapsed_ms"] < 1000
        status, audit = await ctl.call(
            "GET", "/api/audit", params={"command_id": body["command_id"]}
        )
        kinds = {r["kind"]: r for r in audit["audit"]}
        assert kinds["issued"]["reason"] == "emergency"
        assert kinds["resolved"]["outcome"] == "offline"
    finally:
        device.come_online()
    await ctl.wait_twin("a104-lock", lambda t: t.reachability.value == "online")


async def test_silent_device_times_out(ctl: RunningController, home: RunningHome) -> None:
    device = home.home.devices["a105-screen"]
    device.faults.drop_acks = True
    try:
        status, body = await ctl.command(
            "a105-screen", "set_brightness", args={"brightness": 30}, timeout_s=0.5
        )
        assert status == 504
        assert body["outcome"] == "timeout"
    finally:
        device.faults.drop_acks = False


async def test_bad_commands_get_clear_errors_and_change_nothing(ctl: RunningController) -> None:
    before = len((await ctl.call("GET", "/api/audit"))[1]["audit"])
    cases = [
        ("a101-lock", {"action": "open"}, 400, "unknown_action"),
        ("a101-lock", {"action": "unlock", "args": {"relock_after_s": -1}}, 400, "bad_args"),
        ("a101-lock", {"action": "unlock", "bogus": 1}, 400, "bad_body"),
        ("nope-lock", {"action": "unlock"}, 404, "unknown_device"),
        ("a101-lock", {"action": "unlock"}, 400, "bad_reason"),
        ("a101-lock", {"action": "unlock", "reason": "because"}, 400, "bad_reason"),
    ]
    for device, body, status, code in cases:
        got_status, got = await ctl.call("POST", f"/api/devices/{device}/commands", json=body)
        assert (got_status, got["error"]["code"]) == (status, code), got
    got_status, got = await ctl.call("POST", "/api/devices/a101-lock/commands", data=b"{not json")
    assert (got_status, got["error"]["code"]) == (400, "bad_json")
    after = len((await ctl.call("GET", "/api/audit"))[1]["audit"])
    assert after == before


async def test_api_refuses_requests_without_a_valid_token(ctl: RunningController) -> None:
    url = ctl.controller.http_url
    async with ctl.http.get(f"{url}/api/devices", headers={"Authorization": "Bearer nope"}) as r:
        assert r.status == 401
    import aiohttp

    async with aiohttp.ClientSession() as anon:
        async with anon.post(
            f"{url}/api/devices/a101-lock/commands", json={"action": "unlock"}
        ) as r:
            assert r.status == 401
        async with anon.get(f"{url}/api/health") as r:
            assert r.status == 200


async def test_websocket_pushes_twin_changes(ctl: RunningController) -> None:
    async with ctl.http.ws_connect("/api/ws") as ws:
        first = await ws.receive_json(timeout=5)
        assert first["type"] == "snapshot"
        assert len(first["data"]["devices"]) == len(ctl.controller.twins)
        status, _ = await ctl.command("a106-screen", "set_brightness", args={"brightness": 55})
        assert status == 200
        await live_message(
            ws,
            lambda m: (
                m["type"] == "twin"
                and m["data"]["id"] == "a106-screen"
                and m["data"]["state"]["brightness"] == 55
            ),
            timeout=5,
        )


async def test_a_burst_goes_in_one_batch_frame_with_each_twin_once(
    ctl: RunningController,
) -> None:
    bus = ctl.controller.bus
    async with ctl.http.ws_connect("/api/ws") as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
        twin = ctl.controller.twins.get("a101-lock")
        assert twin is not None
        # three messages published before the socket's sender runs: one frame
        now = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
        bus.publish(replace(TwinChanged.of(twin), desired={"n": 1}))
        bus.publish(FireChanged("normal", now))
        bus.publish(replace(TwinChanged.of(twin), desired={"n": 2}))
        async with asyncio.timeout(5):
            frame = await ws.receive_json()
            while frame["type"] != "batch" or all(m["type"] != "fire" for m in frame["data"]):
                frame = await ws.receive_json()  # live traffic sent before ours
        ours = [
            (m["type"], m["data"].get("desired"))
            for m in frame["data"]
            if m["type"] == "fire" or m["data"].get("id") == "a101-lock"
        ]
        assert ours == [("fire", None), ("twin", {"n": 2})]


async def test_no_cmd_is_ever_retained(ctl: RunningController, mosquitto: BrokerUnderTest) -> None:
    """Subscribe to every cmd topic afresh: a retained command would be delivered now."""
    from devices.contract import Channel, SiteTopics
    from devices.mqtt import make_client

    status, _ = await ctl.command("a101-lock", "lock")
    assert status == 200
    topics = SiteTopics(mosquitto.site.slug)
    login = mosquitto.observer()
    retained = []
    async with make_client(
        mosquitto.address,
        identifier="test-retained-probe",
        username=login.username,
        password=login.password,
        persistent=False,
    ) as probe:
        await probe.subscribe(topics.all_devices(Channel.CMD), qos=1)
        # A marker published after subscribing arrives after any retained message would.
        marker = f"{topics.root}/test-probe"
        await probe.subscribe(marker, qos=1)
        await probe.publish(marker, b"marker", qos=1)
        async with asyncio.timeout(5):
            async for msg in probe.messages:
                if str(msg.topic) == marker:
                    break
                retained.append(str(msg.topic))
    assert retained == []
