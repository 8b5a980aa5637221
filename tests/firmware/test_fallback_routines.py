"""A lock's fallback routines, without a broker: only ``lock``, never during a fire."""

from __future__ import annotations

from datetime import UTC, datetime

from config.credentials import DeviceCredentials
from devices.clock import ManualClock
from devices.contract import (
    Availability,
    DeviceSchedule,
    FallbackEntry,
    FireSignal,
    encode,
)
from devices.firmware.faults import Faults
from devices.firmware.lock import SimulatedLock
from devices.mqtt import BrokerAddress

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)  # 21:00 in Stockholm
DUE = datetime(2026, 12, 1, 20, 30, tzinfo=UTC)  # 21:30


def lock_with(*entries: FallbackEntry) -> SimulatedLock:
    creds = DeviceCredentials(username="a101-lock", password="x" * 16, hmac_key="ab" * 32)
    lock = SimulatedLock(
        "solgarden",
        "a101-lock",
        BrokerAddress.parse("mqtt://127.0.0.1:1"),
        creds,
        clock=ManualClock(NOW),
        faults=Faults(time_scale=0.01),
    )
    lock._on_schedule_message(encode(DeviceSchedule(version=1, entries=list(entries))), True)
    lock._on_controller_availability(Availability.OFFLINE.value.encode(), True)
    lock.press_inside_handle()
    return lock


async def test_the_lock_routine_locks_while_the_controller_is_offline() -> None:
    lock = lock_with(FallbackEntry(at="21:30", action="lock"))
    assert lock.state.lock == "unlocked"
    assert await lock.run_fallback(DUE) == [("lock", "ok")]
    assert lock.state.lock == "locked"


async def test_no_lock_during_a_fire_alarm_and_no_unlock_ever() -> None:
    lock = lock_with(
        FallbackEntry(at="21:30", action="lock"), FallbackEntry(at="21:30", action="unlock")
    )
    fire = FireSignal(state="alarm", ts=NOW)
    lock._on_fire_message(encode(fire), True)
    results = await lock.run_fallback(DUE)
    assert sorted(results) == [("lock", "fire_alarm"), ("unlock", "not_allowed")]
    assert lock.state.lock == "unlocked"


async def test_nothing_runs_while_the_controller_is_online() -> None:
    lock = lock_with(FallbackEntry(at="21:30", action="lock"))
    lock._on_controller_availability(Availability.ONLINE.value.encode(), True)
    assert await lock.run_fallback(DUE) == []
    assert lock.state.lock == "unlocked"
