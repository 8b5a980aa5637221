"""One set of exit codes (controller/cli/exit_codes.py), the one docs/cli.md and
``--help`` state, reached by real commands against a real daemon and Mosquitto:
schedules through the same HTTP client as every other daemon command, every API
error one line carrying the server's own message."""

from __future__ import annotations

import ast
import asyncio
import importlib
import json
import pkgutil
import signal
import sys
from enum import IntEnum
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import controller
import controller.cli
from controller.cli.exit_codes import ExitCode, docs_table, for_http_status, help_text
from controller.ops.brokers import free_port
from tests.cli.conftest import Daemon, invoke, run_cli

ROOT = Path(__file__).resolve().parents[2]
BAD_SCHEDULE = (
    "schedules", "add", "--name", "Exit test", "--target", "wing:A", "--action", "close",
    "--daily", "25:00",
)  # fmt: skip


async def _server_error(
    daemon: Daemon, token: str, method: str, path: str, body: Any = None
) -> tuple[int, dict[str, Any]]:
    """What the daemon itself answers (status, ``error``) to the request a command makes."""
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http,
        http.request(method, daemon.api + path, json=body) as resp,
    ):
        return resp.status, (await resp.json())["error"]


def _staff(daemon: Daemon) -> dict[str, str]:
    """The CLI's environment with the token of an admin and staff member (schedules are
    theirs, not a technician's)."""
    return {**daemon.env(), "TRYGGBO_TOKEN": daemon.running.token}


def _one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# --- one definition, stated in the docs and the help ---


def test_each_exit_code_is_defined_once_in_the_cli_package() -> None:
    """Importing every module of controller.cli: no ``EXIT_*`` names, no second IntEnum."""
    found = []
    for info in pkgutil.walk_packages(controller.cli.__path__, "controller.cli."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if name.startswith("EXIT_"):
                found.append(f"{info.name}.{name}")
            if (
                isinstance(value, type)
                and issubclass(value, IntEnum)
                and value is not ExitCode
                and value.__module__ == info.name
            ):
                found.append(f"{info.name}.{name} (an IntEnum of its own)")
    assert found == []


def _literal_exit(node: ast.Call) -> bool:
    """``typer.Exit(1)``, ``SystemExit(2)``, ``sys.exit(1)``, ``fail(msg, 2)``: an exit
    status written as a number rather than an :class:`ExitCode`."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    arg: ast.expr | None
    if name in ("Exit", "SystemExit", "exit") and node.args:
        arg = node.args[0]
    elif name == "fail" and len(node.args) > 1:
        arg = node.args[1]
    else:
        arg = next((k.value for k in node.keywords if k.arg == "code"), None)
        if arg is None or name not in ("Exit", "fail"):
            return False
    return isinstance(arg, ast.Constant) and isinstance(arg.value, int)


def test_no_exit_status_is_written_as_a_number_or_named_elsewhere() -> None:
    """The whole controller package: no ``EXIT_*`` assignment and no literal exit status."""
    found = []
    for path in Path(controller.__path__[0]).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign):
                targets = [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id.startswith("EXIT_"):
                    found.append(f"{path.relative_to(ROOT)}:{target.lineno} {target.id}")
            if isinstance(node, ast.Call) and _literal_exit(node):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    assert found == []


def test_docs_cli_states_the_exit_codes_from_the_enum() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert docs_table() in text
    for code in ExitCode:
        assert f"| {code.value} | {code.meaning} |" in text


def test_the_help_states_every_exit_code() -> None:
    result = invoke("--help", env={"COLUMNS": "400"})
    assert result.code == ExitCode.OK
    flat = " ".join(result.stdout.replace("│", " ").split())
    assert help_text() in flat
    for code in ExitCode:
        assert f"{code.value} {code.summary}" in flat


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, ExitCode.USAGE), (404, ExitCode.USAGE), (409, ExitCode.USAGE),
        (413, ExitCode.USAGE), (415, ExitCode.USAGE), (422, ExitCode.USAGE),
        (401, ExitCode.DENIED), (403, ExitCode.DENIED),
        (408, ExitCode.RUNTIME), (429, ExitCode.RUNTIME), (500, ExitCode.RUNTIME),
        (502, ExitCode.RUNTIME), (503, ExitCode.RUNTIME), (302, ExitCode.RUNTIME),
    ],
)  # fmt: skip
def test_an_http_status_maps_to_the_documented_code(status: int, code: ExitCode) -> None:
    assert for_http_status(status) is code


# --- each code from real commands, schedules too ---


async def test_0_ok(daemon: Daemon) -> None:
    for args in (("devices", "list", "--json"), ("schedules", "list", "--json")):
        result = await run_cli(*args, env=_staff(daemon))
        assert result.code == ExitCode.OK, (args, result.stderr)
        json.loads(result.stdout)
        assert result.stderr == ""


async def test_1_daemon_unreachable(daemon: Daemon) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    for args in (("devices", "list"), ("schedules", "list"), ("schedules", "pause", "x")):
        result = await run_cli(*args, "--api", nowhere, env=daemon.env())
        assert result.code == ExitCode.RUNTIME, (args, result)
        assert _one_line(result.stderr).startswith(f"error: cannot reach the daemon at {nowhere}")


async def test_2_the_daemon_refuses_the_request_with_its_own_message(daemon: Daemon) -> None:
    admin = _staff(daemon)
    before = await run_cli("schedules", "list", "--json", env=admin)
    cases = [
        (("devices", "show", "nope-device"), daemon.token, "GET", "/api/devices/nope-device"),
        (("schedules", "pause", "no-such"), daemon.running.token, "POST",
         "/api/schedules/no-such/pause"),
        (("schedules", "delete", "no-such"), daemon.running.token, "DELETE",
         "/api/schedules/no-such"),
    ]  # fmt: skip
    for args, token, method, path in cases:
        status, error = await _server_error(daemon, token, method, path)
        result = await run_cli(*args, env={**daemon.env(), "TRYGGBO_TOKEN": token})
        assert result.code == ExitCode.USAGE, (args, result)
        assert for_http_status(status) is ExitCode.USAGE
        line = f"error: {error['message']} ({status} {error['code']})"
        assert _one_line(result.stderr) == line
    bad = await run_cli(*BAD_SCHEDULE, env=admin)
    assert bad.code == ExitCode.USAGE, bad
    line = _one_line(bad.stderr)
    assert line.startswith("error: ")
    assert "rule.daily.time" in line  # the server's field problem, on the same line
    assert line.endswith("(400 bad_schedule)")
    after = await run_cli("schedules", "list", "--json", env=admin)
    assert json.loads(after.stdout) == json.loads(before.stdout)  # nothing changed


async def test_2_bad_arguments_caught_before_asking_the_daemon(daemon: Daemon) -> None:
    result = await run_cli(
        "schedules", "add", "--name", "x", "--target", "wing:A", "--action", "close",
        env=daemon.env(),
    )  # fmt: skip
    assert result.code == ExitCode.USAGE
    assert _one_line(result.stderr).startswith("error: choose one of --daily")


async def test_3_the_device_said_no(daemon: Daemon) -> None:
    """a103-curtain is on a serial line nobody bridges in this test: not online."""
    diagnosed = await run_cli("diagnose", "a103-curtain", "--no-ping", env=daemon.env())
    assert diagnosed.code == ExitCode.DEVICE, diagnosed
    pinged = await run_cli(
        "cmd", "a103-curtain", "ping", "--timeout", "1", "--json", env=daemon.env()
    )
    assert pinged.code == ExitCode.DEVICE, pinged
    assert json.loads(pinged.stdout)["outcome"] in ("offline", "timeout")


async def test_4_not_allowed(daemon: Daemon) -> None:
    bad_token = {**daemon.env(), "TRYGGBO_TOKEN": "tg_not-a-token"}
    for args in (("devices", "list"), ("schedules", "list")):
        result = await run_cli(*args, env=bad_token)
        assert result.code == ExitCode.DENIED, (args, result)
        assert _one_line(result.stderr).endswith("(401 bad_token)")
    body = {
        "name": "Tech", "target": "wing:A", "action": "close",
        "rule": {"kind": "daily", "time": "21:00"}, "args": {}, "missed_policy": "run_latest",
    }  # fmt: skip
    status, error = await _server_error(daemon, daemon.token, "POST", "/api/schedules", body)
    assert status == 403
    result = await run_cli(
        "schedules", "add", "--name", "Tech", "--target", "wing:A", "--action", "close",
        "--daily", "21:00", env=daemon.env(),
    )  # fmt: skip
    assert result.code == ExitCode.DENIED, result
    assert _one_line(result.stderr) == f"error: {error['message']} (403 {error['code']})"


async def test_130_interrupted(daemon: Daemon) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "controller", "events", "tail",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=daemon.env(),
    )  # fmt: skip
    assert proc.stderr is not None
    async with asyncio.timeout(30):
        while b"listening" not in await proc.stderr.readline():
            pass
        proc.send_signal(signal.SIGINT)
        await proc.communicate()
    assert proc.returncode == ExitCode.INTERRUPTED


# --- the deprecated names of `tryggbo schedules` ---


async def test_url_and_TRYGGBO_URL_still_work_with_one_warning(daemon: Daemon) -> None:
    env = {k: v for k, v in _staff(daemon).items() if k != "TRYGGBO_API"}
    by_env = await run_cli("schedules", "list", "--json", env={**env, "TRYGGBO_URL": daemon.api})
    assert by_env.code == ExitCode.OK, by_env
    assert _one_line(by_env.stderr) == "warning: TRYGGBO_URL is deprecated: use TRYGGBO_API"
    by_option = await run_cli("schedules", "list", "--json", "--url", daemon.api, env=env)
    assert by_option.code == ExitCode.OK, by_option
    assert _one_line(by_option.stderr) == "warning: --url is deprecated: use --api (or TRYGGBO_API)"
    assert json.loads(by_env.stdout) == json.loads(by_option.stdout)
