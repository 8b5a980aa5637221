"""``tryggbo devices list|show``, ``tryggbo cmd``, ``tryggbo events tail``, ``tryggbo
alarms list``: the technician's view of the daemon, through its API with a token."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.table import Table

from controller.cli.client import Api, ApiOption, TokenOption, parse_args, run_api
from controller.cli.exit_codes import ExitCode, help_text
from controller.cli.output import JsonOption, err, fail, out, print_json
from devices.contract import DEVICE_TYPES

devices_app = typer.Typer(
    help=f"The site's devices as the daemon sees them. {help_text()}", no_args_is_help=True
)
events_app = typer.Typer(help=f"Device events. {help_text()}", no_args_is_help=True)
alarms_app = typer.Typer(help=f"Alarms. {help_text()}", no_args_is_help=True)

#: --type choices: every registered device type
TYPE_NAMES = tuple(t.value for t in DEVICE_TYPES)
AVAILABILITY_STYLE = {"online": "green", "offline": "red", "stale": "yellow", "unknown": "dim"}


def state_summary(state: dict[str, Any] | None) -> str:
    """The type's own state fields in one short line."""
    if not state:
        return ""
    skip = {"seq", "ts", "boot", "firmware", "uptime_s", "rssi"}
    return ", ".join(f"{k}={v}" for k, v in state.items() if k not in skip and v is not None)


def _availability(value: str) -> str:
    return f"[{AVAILABILITY_STYLE.get(value, 'white')}]{value}[/]"


@devices_app.command("list")
def devices_list(
    type_: Annotated[
        str | None, typer.Option("--type", help=f"only this type: {', '.join(TYPE_NAMES)}")
    ] = None,
    json_out: JsonOption = False,
    api: ApiOption = None,
    token: TokenOption = None,
) -> None:
    """Every device: apartment, type, availability, firmware, last seen and state."""
    if type_ is not None and type_ not in TYPE_NAMES:
        raise fail(f"--type must be one of {', '.join(TYPE_NAMES)}, not {type_!r}")
    body = run_api(api, token, lambda a: a.get("/api/devices", type=type_))
    devices = body["devices"]
    if json_out:
        print_json(devices)
        return
    table = Table("device", "apt", "type", "availability", "firmware", "last seen", "state")
    for d in devices:
        table.add_row(
            d["id"],
            d.get("apartment") or "",
            d["type"],
            _availability(d["availability"]),
            d.get("firmware") or "",
            (d.get("last_seen") or "")[:19],
            state_summary(d.get("state")),
        )
    out.print(table)


@devices_app.command("show")
def devices_show(
    device: Annotated[str, typer.Argument(help="device id, e.g. a101-lock")],
    json_out: JsonOption = False,
    api: ApiOption = None,
    token: TokenOption = None,
) -> None:
    """One device's twin: reported state, desired state, apartment, firmware."""
    body = run_api(api, token, lambda a: a.get(f"/api/devices/{device}"))
    if json_out:
        print_json(body)
        return
    table = Table("field", "value", show_header=False)
    for key in ("id", "type", "apartment", "wing", "floor", "availability", "firmware", "model"):
        if key in body:
            value = body[key]
            table.add_row(key, _availability(value) if key == "availability" else str(value or ""))
    table.add_row("last seen", str(body.get("last_seen") or ""))
    for key, value in (body.get("state") or {}).items():
        table.add_row(f"state.{key}", str(value))
    for key, value in (body.get("desired") or {}).items():
        table.add_row(f"desired.{key}", str(value))
    out.print(table)


def cmd(
    device: Annotated[str, typer.Argument(help="device id")],
    action: Annotated[str, typer.Argument(help="action, e.g. ping, identify, reboot, open")],
    arg: Annotated[
        list[str] | None,
        typer.Option("--arg", help="action argument key=value (JSON values allowed); repeat"),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(
            help="why (recorded in the audit log); an unlock needs one of the site's "
            "unlock_reasons (optionally 'REASON: text') or 'other: text'"
        ),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="seconds to wait for the ack (max 60)")
    ] = None,
    json_out: JsonOption = False,
    api: ApiOption = None,
    token: TokenOption = None,
) -> None:
    """Send a command and show its acknowledged outcome. Exit 3 unless ok, 4 if the
    token's user may not send it, 2 for bad arguments."""
    args = parse_args(arg or [])
    if timeout is not None and not 0 < timeout <= 60:
        raise fail("--timeout must be more than 0 and at most 60 seconds")
    result = run_api(
        api,
        token,
        lambda a: a.command(device, action, args, reason=reason, timeout_s=timeout),
    )
    if json_out:
        print_json(result)
    else:
        colour = "green" if result["outcome"] == "ok" else "red"
        error = f" ({result['error']})" if result.get("error") else ""
        out.print(
            f"{device} {action}: [{colour}]{result['outcome']}[/]{error} "
            f"in {result['elapsed_ms']} ms",
            highlight=False,
        )
    if result["outcome"] != "ok":
        raise typer.Exit(ExitCode.DEVICE)


def _event_line(data: dict[str, Any]) -> str:
    details = " ".join(f"{k}={v}" for k, v in (data.get("details") or {}).items())
    return f"{data['ts'][:19]} {data['device']} {data['type']} {details}".rstrip()


@events_app.command("tail")
def events_tail(
    device: Annotated[
        list[str] | None, typer.Option("--device", help="only this device; repeat for more")
    ] = None,
    count: Annotated[int | None, typer.Option(min=1, help="stop after this many events")] = None,
    seconds: Annotated[
        float | None, typer.Option(min=0.1, help="stop after this long (seconds)")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="one JSON object per line (JSON Lines)")
    ] = False,
    api: ApiOption = None,
    token: TokenOption = None,
) -> None:
    """Follow device events live (Ctrl-C stops). Says "listening" on stderr once the
    feed is open."""
    wanted = set(device or [])
    import json

    async def tail(session: Api) -> int:
        seen = 0
        async with session.live() as feed:
            async for msg in feed:
                if msg["type"] == "snapshot":
                    known = {d["id"] for d in msg["data"]["devices"]}
                    unknown = wanted - known
                    if unknown:
                        raise fail(f"no device {', '.join(sorted(unknown))} on this site")
                    err.print("listening", highlight=False)
                    continue
                if msg["type"] != "event":
                    continue
                data = msg["data"]
                if wanted and data.get("device") not in wanted:
                    continue
                if json_out:
                    print(json.dumps(data, ensure_ascii=False), flush=True)
                else:
                    out.print(_event_line(data), highlight=False)
                seen += 1
                if count is not None and seen >= count:
                    return seen
        return seen

    async def bounded(session: Api) -> int:
        if seconds is None:
            return await tail(session)
        try:
            async with asyncio.timeout(seconds):
                return await tail(session)
        except TimeoutError:
            return -1

    got = run_api(api, token, bounded)
    if count is not None and got < count:
        raise fail(f"only {max(got, 0)} of {count} events before the feed ended", ExitCode.RUNTIME)


@alarms_app.command("list")
def alarms_list(
    state: Annotated[str, typer.Option(help="active, closed or all")] = "active",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    json_out: JsonOption = False,
    api: ApiOption = None,
    token: TokenOption = None,
) -> None:
    """Alarms the daemon holds (active by default)."""
    if state not in ("active", "closed", "all"):
        raise fail("--state must be active, closed or all")
    body = run_api(api, token, lambda a: a.get("/api/alarms", state=state, limit=limit))
    alarms = body["alarms"]
    if json_out:
        print_json(alarms)
        return
    table = Table("id", "kind", "device", "apt", "state", "raised", "count")
    for a in alarms:
        table.add_row(
            str(a.get("id")),
            str(a.get("kind")),
            str(a.get("device") or ""),
            str(a.get("apartment") or ""),
            str(a.get("state")),
            str(a.get("raised_at") or a.get("created_at") or "")[:19],
            str(a.get("count") or ""),
        )
    out.print(table)
