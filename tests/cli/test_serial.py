"""The serial bridge over a pty pair with the simulated serial firmware: state reaches
the twin, commands reach the device and their acks come back, and pulling the line
makes the device offline. Plus the line protocol itself."""

from __future__ import annotations

import asyncio
import json
import sys
import zlib

import pytest

from devices.clock import SystemClock
from devices.serial.bridge import SerialBridge
from devices.serial.protocol import FrameError, LineSplitter, decode_frame, encode_frame
from devices.serial.simulated import SerialCurtain, open_line
from tests.integration.harness import wait_twin

from .conftest import SERIAL_DEVICE, Daemon, SmallSite, invoke, run_cli


def test_frames_round_trip_and_bad_lines_are_refused() -> None:
    line = encode_frame("cmd", id="c1", action="open", args={})
    assert line.endswith(b"\n")
    assert decode_frame(line) == {"t": "cmd", "id": "c1", "action": "open", "args": {}}
    body = b'{"t":"state","position":4}'
    assert decode_frame(body + b"*" + f"{zlib.crc32(body):08x}".encode())["position"] == 4
    flipped = line.replace(b"open", b"opem")
    for bad in (flipped, b'{"t":"ping"}\n', b"garbage*00000000\n", b'"x"*' + b"0" * 8):
        with pytest.raises(FrameError):
            decode_frame(bad)
    splitter = LineSplitter()
    assert splitter.feed(line[:5]) == []
    assert splitter.feed(line[5:] + line) == [line, line]


@pytest.mark.parametrize(
    "body",
    [
        b'{"t":"event","type":"help_pressed","pressure":NaN}',
        b'{"t":"state","position":Infinity}',
        b'{"t":"event","type":"help_pressed","pressure":1e999}',
        b'{"t":"state","x":' + b"[" * 2000 + b"]" * 2000 + b"}",  # RecursionError before
    ],
    ids=["nan", "infinity", "1e999", "deep"],
)
def test_lines_with_a_good_checksum_but_no_strict_json_are_bad_frames(body: bytes) -> None:
    with pytest.raises(FrameError, match="not JSON"):
        decode_frame(body + b"*" + f"{zlib.crc32(body):08x}".encode())


async def test_serial_device_through_the_bridge(daemon: Daemon, small_site: SmallSite) -> None:
    ctl = daemon.running
    line = open_line()
    firmware = SerialCurtain(line.master, firmware="2.1.0")
    firmware.start()
    bridge = SerialBridge(
        line.slave_path,
        site=small_site.site.slug,
        device_id=SERIAL_DEVICE,
        device_type="curtain",
        broker=small_site.broker.address,
        credentials=small_site.credentials.device(SERIAL_DEVICE),
        clock=SystemClock(),
        ping_s=1.0,
        retry_s=0.5,
    )
    task = asyncio.create_task(bridge.run())
    try:
        # The device's state reaches the controller's twin.
        twin = await ctl.wait_twin(
            SERIAL_DEVICE,
            lambda t: t.reachability.value == "online" and t.reported is not None,
            timeout=15,
        )
        assert twin.reported is not None
        assert twin.reported.model_dump()["position"] == 0
        assert twin.firmware == "2.1.0"

        # A command goes down the line; the device's ack comes back with its state.
        status, body = await ctl.command(
            SERIAL_DEVICE, "set_position", args={"position": 40}, reason="serial test"
        )
        assert status == 200, body
        assert body["outcome"] == "ok"
        assert body["state"]["position"] == 40
        assert firmware.position == 40
        assert firmware.commands[-1]["action"] == "set_position"
        await ctl.wait_twin(
            SERIAL_DEVICE,
            lambda t: t.reported is not None and t.reported.model_dump()["position"] == 40,
        )
        refused = await ctl.command(SERIAL_DEVICE, "set_position", args={"position": 400})
        assert refused[0] == 400  # refused by the contract before it reaches the line
        assert firmware.commands[-1]["args"] == {"position": 40}

        # The technician's CLI reaches it like any device.
        pinged = await run_cli("cmd", SERIAL_DEVICE, "ping", "--json", env=daemon.env())
        assert pinged.code == 0, pinged.stderr
        assert json.loads(pinged.stdout)["outcome"] == "ok"
        assert firmware.commands[-1]["action"] == "ping"

        # Pulling the cable makes the device offline.
        firmware.unplug()
        await wait_twin(ctl.controller, SERIAL_DEVICE, lambda t: t.reachability.value == "offline")
        offline = await ctl.command(SERIAL_DEVICE, "ping")
        assert offline[1]["outcome"] == "offline"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        line.close()


async def test_a_silent_line_makes_the_device_offline(
    daemon: Daemon, small_site: SmallSite
) -> None:
    line = open_line()
    firmware = SerialCurtain(line.master)
    firmware.start()
    bridge = SerialBridge(
        line.slave_path,
        site=small_site.site.slug,
        device_id=SERIAL_DEVICE,
        device_type="curtain",
        broker=small_site.broker.address,
        credentials=small_site.credentials.device(SERIAL_DEVICE),
        clock=SystemClock(),
        ping_s=0.3,
        retry_s=0.5,
    )
    task = asyncio.create_task(bridge.run())
    try:
        await daemon.running.wait_twin(
            SERIAL_DEVICE, lambda t: t.reachability.value == "online", timeout=15
        )
        firmware.mute = True  # the cable is in, the device hangs
        await daemon.running.wait_twin(
            SERIAL_DEVICE, lambda t: t.reachability.value == "offline", timeout=10
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        firmware.unplug()
        line.close()


async def test_serial_console_frames_what_is_typed_and_checks_what_comes_back() -> None:
    line = open_line()
    firmware = SerialCurtain(line.master)
    firmware.start()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "controller", "serial", "console", line.slave_path,
            "--count", "3", "--json",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        typed = b'{"t":"ping"}\nnot json\n{"t":"cmd","id":"c1","action":"open","args":{}}\n'
        async with asyncio.timeout(30):
            stdout, stderr = await proc.communicate(typed)
        assert proc.returncode == 0, stderr
        frames = [json.loads(x) for x in stdout.decode().splitlines()]
        assert [f["t"] for f in frames] == ["pong", "state", "ack"]
        assert frames[2] == {"t": "ack", "id": "c1", "status": "ok", "error": None}
        assert b"not sent" in stderr
        assert firmware.position == 100
    finally:
        firmware.unplug()
        line.close()


def test_serial_bridge_cli_refuses_bad_arguments(small_site: SmallSite) -> None:
    common = [
        "--site",
        str(small_site.site_file),
        "--credentials",
        str(small_site.credentials_file),
    ]
    result = invoke(
        "serial", "bridge", "/dev/null", "--device", "a999-lock", "--broker", "mqtt://x:1", *common
    )
    assert result.code == 2
    assert "no device 'a999-lock'" in result.stderr
    result = invoke(
        "serial", "bridge", "/dev/null", "--device", SERIAL_DEVICE, "--broker", "http://x", *common
    )
    assert result.code == 2
    assert "must look like mqtt://" in result.stderr
