"""`tryggbo devices|cmd|events|alarms` as a technician, against the running daemon and
its real Mosquitto (child processes, as a user runs them)."""

from __future__ import annotations

import asyncio
import json
import sys

from devices.firmware.screen import SimulatedScreen

from .conftest import SERIAL_DEVICE, Daemon, invoke, run_cli


async def test_devices_list_json_parses_and_shows_every_device_online(daemon: Daemon) -> None:
    result = await run_cli("devices", "list", "--json", env=daemon.env())
    assert result.code == 0, result.stderr
    devices = json.loads(result.stdout)
    assert {d["id"] for d in devices} == {
        "a101-lock",
        "a101-curtain",
        "a101-screen",
        "a102-curtain",
        "a102-screen",
        SERIAL_DEVICE,
    }
    on_mqtt = [d for d in devices if d["id"] != SERIAL_DEVICE]
    assert all(d["availability"] == "online" for d in on_mqtt)
    assert all(d["firmware"] for d in on_mqtt)


async def test_devices_list_table_and_type_filter(daemon: Daemon) -> None:
    result = await run_cli("devices", "list", "--type", "curtain", env=daemon.env())
    assert result.code == 0, result.stderr
    assert "a101-curtain" in result.stdout
    assert "a102-curtain" in result.stdout
    assert "a101-lock" not in result.stdout


async def test_devices_show_gives_the_twin(daemon: Daemon) -> None:
    result = await run_cli("devices", "show", "a101-lock", "--json", env=daemon.env())
    assert result.code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["id"] == "a101-lock"
    assert body["type"] == "lock"
    assert body["state"]["lock"] in ("locked", "unlocked")
    assert body["state"]["door"] in ("open", "closed")


async def test_cmd_shows_the_acked_outcome(daemon: Daemon) -> None:
    device = daemon.home.home["a102-curtain"]
    result = await run_cli(
        "cmd", "a102-curtain", "ping", "--reason", "cli test", "--json", env=daemon.env()
    )
    assert result.code == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["outcome"] == "ok"
    assert outcome["state"]["boot"] == device.boot  # the ack carried the device's state
    human = await run_cli("cmd", "a102-curtain", "identify", env=daemon.env())
    assert human.code == 0, human.stderr
    assert "identify: ok" in human.stdout


async def test_cmd_refused_for_a_technician_exits_4_and_moves_nothing(daemon: Daemon) -> None:
    lock = daemon.home.home["a101-lock"]
    before = lock.state.model_dump()["lock"]
    result = await run_cli("cmd", "a101-lock", "unlock", "--reason", "care visit", env=daemon.env())
    assert result.code == 4
    assert "may not send 'unlock'" in result.stderr
    assert lock.state.model_dump()["lock"] == before


async def test_events_tail_receives_a_live_event(daemon: Daemon) -> None:
    screen = daemon.home.home["a102-screen"]
    assert isinstance(screen, SimulatedScreen)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "controller",
        "events",
        "tail",
        "--device",
        "a102-screen",
        "--count",
        "1",
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=daemon.env(),
    )
    assert proc.stderr is not None
    async with asyncio.timeout(30):
        line = await proc.stderr.readline()
        assert line.strip() == b"listening", line
        daemon.home.home["a101-screen"].press_help()  # another device: filtered out
        screen.press_help()
        stdout, stderr = await proc.communicate()
    assert proc.returncode == 0, stderr
    event = json.loads(stdout.decode().strip())
    assert event["device"] == "a102-screen"
    assert event["type"] == "help_pressed"


async def test_alarms_list_json_parses(daemon: Daemon) -> None:
    result = await run_cli("alarms", "list", "--state", "all", "--json", env=daemon.env())
    assert result.code == 0, result.stderr
    assert isinstance(json.loads(result.stdout), list)


def test_bad_arguments_give_a_clear_message_and_exit_2() -> None:
    env = {"TRYGGBO_TOKEN": "t", "TRYGGBO_API": "http://127.0.0.1:9", "COLUMNS": "200"}
    cases = [
        (("devices", "list", "--type", "toaster"), "--type must be one of"),
        (("cmd", "a101-curtain", "set_position", "--arg", "position"), "must look like key=value"),
        (("alarms", "list", "--state", "someday"), "--state must be"),
        (("cmd", "a101-curtain"), "Missing argument"),
        (("events", "tail", "--count", "0"), "Invalid value"),
        (("devices", "list", "--api", "ftp://x"), "must start with http"),
    ]
    for args, message in cases:
        result = invoke(*args, env=env)
        assert result.code == 2, (args, result)
        assert message in result.stderr, (args, result.stderr)
    result = invoke("devices", "list", env={**env, "TRYGGBO_TOKEN": ""})
    assert result.code == 2
    assert "no API token" in result.stderr


async def test_what_only_the_daemon_can_refuse_exits_2(daemon: Daemon) -> None:
    unknown = await run_cli("devices", "show", "nope-device", env=daemon.env())
    assert unknown.code == 2
    assert "no device 'nope-device'" in unknown.stderr
    bad_args = await run_cli("cmd", "a101-curtain", "ping", "--arg", "x=1", env=daemon.env())
    assert bad_args.code == 2
    assert "bad_args" in bad_args.stderr


async def test_unreachable_daemon_exits_1(daemon: Daemon) -> None:
    env = {**daemon.env(), "TRYGGBO_API": "http://127.0.0.1:9"}
    result = await run_cli("devices", "list", env=env)
    assert result.code == 1
    assert "cannot reach the daemon" in result.stderr


async def test_the_token_can_come_from_the_cli_config_file(daemon: Daemon, tmp_path) -> None:
    config = tmp_path / "cli.toml"
    config.write_text(f'api = "{daemon.api}"\ntoken = "{daemon.token}"\n', encoding="utf-8")
    config.chmod(0o600)
    env = {k: v for k, v in daemon.env().items() if k not in ("TRYGGBO_API", "TRYGGBO_TOKEN")}
    result = await run_cli(
        "devices", "list", "--json", env={**env, "TRYGGBO_CLI_CONFIG": str(config)}
    )
    assert result.code == 0, result.stderr
    assert len(json.loads(result.stdout)) == len(daemon.running.controller.twins)
    assert "warning" not in result.stderr
