"""`tryggbo diagnose` against the running daemon: measured ping, battery and signal
problems found, `--all` lists problems first."""

from __future__ import annotations

import json

from devices.firmware.lock import SimulatedLock

from .conftest import SERIAL_DEVICE, Daemon, run_cli


async def test_diagnose_finds_low_battery_and_weak_signal(daemon: Daemon) -> None:
    lock = daemon.home.home["a101-lock"]
    screen = daemon.home.home["a101-screen"]
    assert isinstance(lock, SimulatedLock)
    ctl = daemon.running
    try:
        lock.set_battery(9)
        screen.faults.rssi = -95
        screen._report()  # a heartbeat now, rather than in a minute
        await ctl.wait_twin("a101-lock", lambda t: t.reported.model_dump()["battery"] == 9)
        await ctl.wait_twin("a101-screen", lambda t: t.reported.model_dump()["rssi"] == -95)

        one = await run_cli("diagnose", "a101-lock", "--json", env=daemon.env())
        assert one.code == 3, one.stderr
        report = json.loads(one.stdout)
        assert report["battery"] == 9
        assert "battery 9%" in report["problems"]
        assert report["ping"]["outcome"] == "ok"
        assert report["ping"]["ms"] > 0
        assert report["firmware"]

        everything = await run_cli("diagnose", "--all", "--json", env=daemon.env())
        assert everything.code == 3, everything.stderr
        reports = json.loads(everything.stdout)
        assert len(reports) == len(ctl.controller.twins)
        counts = [len(r["problems"]) for r in reports]
        assert counts == sorted(counts, reverse=True)  # problems first
        by_id = {r["device"]: r for r in reports}
        assert "weak signal -95 dBm" in by_id["a101-screen"]["problems"]
        assert by_id[SERIAL_DEVICE]["availability"] != "online"
        assert by_id[SERIAL_DEVICE]["ping"] is None  # nobody to ping

        table = await run_cli("diagnose", "--all", "--no-ping", env=daemon.env())
        assert table.code == 3
        assert "battery 9%" in table.stdout
    finally:
        lock.set_battery(100)
        screen.faults.rssi = -58
        screen._report()


async def test_diagnose_needs_a_device_or_all(daemon: Daemon) -> None:
    both = await run_cli("diagnose", "a101-lock", "--all", env=daemon.env())
    assert both.code == 2
    assert "DEVICE or --all" in both.stderr
    unknown = await run_cli("diagnose", "a999-lock", env=daemon.env())
    assert unknown.code == 2
    assert "no device" in unknown.stderr
