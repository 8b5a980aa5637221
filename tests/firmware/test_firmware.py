"""The simulated firmware against the suite's real Mosquitto, seen from the controller's side.

Every test runs one or more simulated devices of the example site with their own
credentials, and a :class:`Probe` that logs in as the controller: it publishes
commands and records what the device publishes. Waits are bounded; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal

import pydantic
import pytest

from devices.clock import ManualClock
from devices.contract import (
    AckStatus,
    Channel,
    Event,
    FireSignal,
    SiteTopics,
    decode,
    encode,
    new_command,
    sign_command,
)
from devices.firmware import (
    Faults,
    SimulatedCurtain,
    SimulatedHome,
    SimulatedLock,
    SimulatedScreen,
    make_device,
)
from devices.mqtt import QOS, make_client

from .probe import CLOCK, TIMEOUT, Received, controller_client, new, probing, running

pytestmark = pytest.mark.integration

FAST = 0.2  # time_scale for curtain tests: 5 % every 0.1 s


# ---------------------------------------------------------------------------- locks


async def test_signed_unlock_then_lock(broker: Any) -> None:
    lock = new(SimulatedLock, broker, "a101-lock")
    async with probing(broker, lock) as probe:
        ack = await probe.command("unlock")
        assert (ack.status, ack.error) == (AckStatus.OK, None)
        assert ack.state is not None
        assert ack.state["lock"] == "unlocked"
        await probe.state(lambda s: s.lock == "unlocking")

        ack = await probe.command("lock")
        assert ack.status is AckStatus.OK
        assert ack.state is not None
        assert ack.state["lock"] == "locked"
        assert [s.lock for s in probe.states()][-3:] == ["unlocked", "locking", "locked"]
        seqs = [s.seq for s in probe.states()]
        assert seqs == sorted(set(seqs))


async def test_duplicate_command_id_is_executed_once(broker: Any) -> None:
    lock = new(SimulatedLock, broker, "a102-lock")
    async with probing(broker, lock) as probe:
        unlock = new_command("unlock", {}, "test-staff", CLOCK.now())
        await probe.send(unlock)
        await probe.send(unlock)  # while the first is executing: ignored
        first = await probe.ack(unlock.id)
        await probe.send(unlock)  # after it finished: the same ack again
        await probe.wait_for(lambda r: len(probe.acks(unlock.id)) == 2)
        assert (await probe.command("ping")).status is AckStatus.OK  # everything before is in

        acks = probe.acks(unlock.id)
        assert len(acks) == 2
        assert acks[0] == acks[1] == first
        assert [s.lock for s in probe.states()].count("unlocking") == 1


async def test_expired_command_is_rejected(broker: Any) -> None:
    lock = new(SimulatedLock, broker, "a103-lock")
    async with probing(broker, lock) as probe:
        old = new_command(
            "unlock", {}, "test-staff", CLOCK.now() - timedelta(minutes=5), timedelta(seconds=30)
        )
        await probe.send(old)
        ack = await probe.ack(old.id)
        assert (ack.status, ack.error) == (AckStatus.REJECTED, "expired")
        assert lock.state.lock == "locked"


async def test_bad_or_missing_signature_is_rejected(broker: Any) -> None:
    lock = new(SimulatedLock, broker, "a104-lock")
    other_key = broker.credentials.device("a105-lock").key
    async with probing(broker, lock) as probe:
        unsigned = new_command("unlock", {}, "test-staff", CLOCK.now())
        await probe.send(unsigned, sign=False)
        wrong = sign_command(new_command("unlock", {}, "x", CLOCK.now()), "a104-lock", other_key)
        await probe.send(wrong, sign=False)
        for command in (unsigned, wrong):
            ack = await probe.ack(command.id)
            assert (ack.status, ack.error) == (AckStatus.REJECTED, "bad_signature")
        assert "unlocking" not in [s.lock for s in probe.states()]
        assert lock.state.lock == "locked"


async def test_retained_command_is_never_executed(broker: Any) -> None:
    lock = new(SimulatedLock, broker, "a105-lock")
    creds = broker.credentials.device("a105-lock")
    # Start from a fresh session, so the retained copy is the only delivery.
    async with make_client(
        broker.address,
        identifier=lock.client_id,
        username=creds.username,
        password=creds.password,
        persistent=False,
    ):
        pass
    async with controller_client(broker) as client:
        stray = sign_command(new_command("unlock", {}, "x", CLOCK.now()), "a105-lock", creds.key)
        await client.publish(lock.topic(Channel.CMD), encode(stray), qos=QOS, retain=True)
        try:
            async with probing(broker, lock) as probe:
                assert (await probe.command("ping")).status is AckStatus.OK
                assert probe.acks(stray.id) == []
                assert lock.state.lock == "locked"
        finally:
            await client.publish(lock.topic(Channel.CMD), b"", qos=QOS, retain=True)


async def test_fire_alarm_unlocks_and_refuses_lock(broker: Any) -> None:
    fire_topic = SiteTopics(broker.site.slug).fire
    panel = broker.credentials.fire_panel
    lock = new(SimulatedLock, broker, "a106-lock")
    late = new(SimulatedLock, broker, "a111-lock")
    async with (
        make_client(
            broker.address,
            identifier=f"test-panel-{uuid.uuid4().hex[:8]}",
            username=panel.username,
            password=panel.password,
            persistent=False,
        ) as fire_panel,
        probing(broker, lock) as probe,
    ):

        async def signal(state: Literal["alarm", "normal"]) -> None:
            payload = encode(FireSignal(state=state, ts=CLOCK.now()))
            await fire_panel.publish(fire_topic, payload, qos=QOS, retain=True)

        try:
            await signal("alarm")
            assert (await probe.event("fire_unlocked")).details()["was"] == "locked"
            await probe.state(lambda s: s.fire and s.lock == "unlocked")
            ack = await probe.command("lock")
            assert (ack.status, ack.error) == (AckStatus.REJECTED, "fire_alarm")

            # A lock that connects during the alarm gets the retained signal and opens.
            async with probing(broker, late) as late_probe:
                await late_probe.state(lambda s: s.fire and s.lock == "unlocked")

            mark = probe.mark()
            await signal("normal")
            state = await probe.state(lambda s: not s.fire, since=mark)
            assert state.lock == "unlocked"  # staff relock by hand
            assert (await probe.command("lock")).status is AckStatus.OK
        finally:
            await fire_panel.publish(fire_topic, b"", qos=QOS, retain=True)


async def test_inside_handle_opens_even_a_jammed_lock(broker: Any) -> None:
    lock = new(SimulatedLock, broker, "a112-lock", faults=Faults(jam_probability=1.0))
    async with probing(broker, lock) as probe:
        ack = await probe.command("unlock")
        assert (ack.status, ack.error) == (AckStatus.FAILED, "jammed")
        assert (await probe.event("jammed")).details()["target"] == "unlocked"
        assert lock.state.lock == "jammed"

        lock.press_inside_handle()
        await probe.event("unlocked_from_inside")
        await probe.state(lambda s: s.lock == "unlocked")


async def test_relock_waits_for_the_door_to_close(broker: Any) -> None:
    lock = new(SimulatedLock, broker, "a113-lock")
    async with probing(broker, lock) as probe:
        assert (await probe.command("unlock", {"relock_after_s": 1})).status is AckStatus.OK
        lock.open_door()
        await probe.event("door_opened")
        mark = probe.mark()
        lock.close_door()
        await probe.state(lambda s: s.lock == "locked", since=mark)
        doors = [(s.lock, s.door) for s in probe.states()]
        assert ("locking", "open") not in doors
        assert doors.index(("unlocked", "closed")) < doors.index(("locking", "closed"))


async def test_battery_drains_by_the_device_clock(broker: Any) -> None:
    clock = ManualClock(CLOCK.now())
    faults = Faults(battery_drain_per_min=10)
    lock = new(SimulatedLock, broker, "a116-lock", faults=faults, clock=clock)
    async with probing(broker, lock) as probe:
        clock.advance(timedelta(minutes=9))  # 100 - 90 = 10 % < 15 %
        assert (await probe.event("battery_low")).details()["battery"] == 10
        await probe.state(lambda s: s.battery == 10)


async def test_dropped_ack_is_sent_again_for_a_retry(broker: Any) -> None:
    lock = new(SimulatedLock, broker, "a113-lock", faults=Faults(drop_acks=True))
    async with probing(broker, lock) as probe:
        unlock = new_command("unlock", {}, "test-staff", CLOCK.now())
        await probe.send(unlock)
        await probe.state(lambda s: s.lock == "unlocked")  # executed, ack dropped
        lock.faults.drop_acks = False
        assert (await probe.command("ping")).status is AckStatus.OK
        assert probe.acks(unlock.id) == []
        await probe.send(unlock)  # the controller retries the same id
        assert (await probe.ack(unlock.id)).status is AckStatus.OK
        assert [s.lock for s in probe.states()].count("unlocking") == 1


# ---------------------------------------------------------------------------- curtains


async def test_curtain_moves_to_40_through_intermediate_positions(broker: Any) -> None:
    curtain = new(SimulatedCurtain, broker, "a101-curtain", faults=Faults(time_scale=FAST))
    curtain.move_by_hand(100)
    async with probing(broker, curtain) as probe:
        ack = await probe.command("set_position", {"position": 40})
        assert ack.status is AckStatus.OK
        assert ack.state is not None
        assert (ack.state["target"], ack.state["motion"]) == (40, "closing")
        await probe.state(lambda s: s.position == 40 and s.motion == "idle")

        positions = [s.position for s in probe.states()]
        assert positions == sorted(positions, reverse=True)
        assert {p for p in positions if 40 < p < 100} >= {95, 70, 45}


async def test_curtain_obstacle_blocks_and_bad_commands_are_answered(broker: Any) -> None:
    curtain = new(SimulatedCurtain, broker, "a102-curtain", faults=Faults(time_scale=FAST))
    async with probing(broker, curtain) as probe:
        for junk in (b"not json", b"{}", b"[1]"):
            await probe.client.publish(curtain.topic(Channel.CMD), junk, qos=QOS)
        ack = await probe.command("fly")
        assert (ack.status, ack.error) == (AckStatus.REJECTED, "unknown_action")
        ack = await probe.command("set_position", {"position": 140})
        assert (ack.status, ack.error) == (AckStatus.REJECTED, "bad_args")

        assert (await probe.command("open")).status is AckStatus.OK
        await probe.state(lambda s: s.position >= 10)
        curtain.obstruct()
        assert (await probe.event("obstacle")).details()["position"] >= 10
        await probe.state(lambda s: s.motion == "blocked")


# ---------------------------------------------------------------------------- screens


async def test_screen_message_and_help_button(broker: Any) -> None:
    screen = new(SimulatedScreen, broker, "a101-screen")
    async with probing(broker, screen) as probe:
        ack = await probe.command("show_message", {"text": "Lunch at 12", "from": "Anna"})
        assert ack.status is AckStatus.OK
        state = await probe.state(lambda s: s.message is not None)
        assert (state.message.text, state.message.sender) == ("Lunch at 12", "Anna")

        screen.press_help()
        await probe.event("help_pressed")

        assert (await probe.command("ring", {"call_id": "c1", "caller": "Eva"})).status == "ok"
        screen.accept_call()
        assert (await probe.event("call_accepted")).details()["call_id"] == "c1"
        await probe.state(lambda s: s.call == "active")


# ---------------------------------------------------------------------------- connection


async def test_go_offline_fires_the_last_will(broker: Any) -> None:
    screen = new(SimulatedScreen, broker, "a102-screen")
    async with probing(broker, screen) as probe:

        def availability(payload: bytes, *, live: bool) -> Callable[[Received], bool]:
            return lambda r: (
                r.channel is Channel.AVAILABILITY and r.payload == payload and r.retain != live
            )

        await probe.wait_for(availability(b"online", live=True))
        mark = probe.mark()
        screen.go_offline()
        await probe.wait_for(availability(b"offline", live=True), since=mark)
        assert not screen.online

        mark = probe.mark()
        screen.come_online()
        await probe.wait_for(availability(b"online", live=True), since=mark)
        await screen.wait_online(TIMEOUT)


async def test_device_reconnects_after_a_broker_restart(broker: Any) -> None:
    lock = new(SimulatedLock, broker, "a201-lock")
    async with running(lock):
        await asyncio.to_thread(broker.restart)
        await lock.wait_online(15)  # backoff is capped at 5 s
        async with probing(broker, lock, start=False) as probe:
            assert (await probe.command("unlock")).status is AckStatus.OK


async def test_reboot_command_starts_a_new_boot(broker: Any) -> None:
    screen = new(SimulatedScreen, broker, "a103-screen")
    async with probing(broker, screen) as probe:
        old_boot = screen.boot
        assert (await probe.command("reboot")).status is AckStatus.OK
        found = await probe.wait_for(
            lambda r: r.channel is Channel.EVENT and b'"reason":"reboot"' in r.payload
        )
        booted = decode(Event, found.payload)
        assert booted.type == "booted"
        assert booted.seq == 0
        assert screen.boot != old_boot
        await probe.state(lambda s: True)  # the new boot reported
        seqs = [s.seq for s in probe.states()]
        assert seqs == sorted(set(seqs))
        assert seqs[0] < 3


async def test_simulated_home_runs_every_device(broker: Any) -> None:
    example = broker.site
    site = type(example)(site=example.site, apartments=example.apartments[10:11])
    home = SimulatedHome(site, broker.credentials, broker.address, CLOCK, heartbeat_s=5)
    assert {type(d) for d in home.devices.values()} == {
        SimulatedLock,
        SimulatedCurtain,
        SimulatedScreen,
    }
    task = asyncio.create_task(home.run())
    try:
        await home.wait_all_online(TIMEOUT)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert not any(d.online for d in home.devices.values())


def test_faults_are_validated_and_unknown_types_refused(broker: Any) -> None:
    faults = Faults()
    with pytest.raises(pydantic.ValidationError):
        faults.jam_probability = 1.5
    faults.ack_delay_s = 0.5
    assert faults.ack_delay_s == 0.5
    creds = broker.credentials.device("a101-lock")
    with pytest.raises(ValueError, match="no simulated firmware"):
        make_device("toaster", "solgarden", "a101-lock", broker.address, creds, clock=CLOCK)
