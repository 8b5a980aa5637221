"""``tryggbo diagnose DEVICE | --all``: availability, last seen, firmware, battery,
signal, ping round trip and recent errors, with the problems spelled out.

Exit 0 when nothing is wrong, 3 when a device has a problem (scripts can alert on
it), the usual codes otherwise.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.table import Table

from controller.cli.client import Api, ApiOption, TokenOption, run_api
from controller.cli.exit_codes import ExitCode
from controller.cli.output import JsonOption, fail, out, print_json

#: Event types that count as recent errors.
ERROR_EVENTS = frozenset(
    {"offline", "stale", "jammed", "battery_low", "tamper", "obstacle", "update_failed"}
)
BATTERY_LOW = 15
WEAK_SIGNAL_DBM = -80
SLOW_PING_MS = 1000.0
RECENT_EVENTS = 50
PARALLEL_PINGS = 8


def problems_of(report: dict[str, Any]) -> list[str]:
    """What is wrong with one device, worst first."""
    found = []
    if report["availability"] != "online":
        found.append(report["availability"])
    ping = report.get("ping")
    if ping and ping["outcome"] != "ok":
        found.append(f"ping {ping['outcome']}")
    elif ping and ping["ms"] > SLOW_PING_MS:
        found.append(f"slow ping {ping['ms']:.0f} ms")
    battery = report.get("battery")
    if battery is not None and battery < BATTERY_LOW:
        found.append(f"battery {battery}%")
    rssi = report.get("rssi")
    if rssi is not None and rssi < WEAK_SIGNAL_DBM:
        found.append(f"weak signal {rssi} dBm")
    if report["recent_errors"]:
        found.append(f"{len(report['recent_errors'])} recent errors")
    return found


async def diagnose_one(
    api: Api, twin: dict[str, Any], *, ping: bool, limit: asyncio.Semaphore
) -> dict[str, Any]:
    state = twin.get("state") or {}
    report: dict[str, Any] = {
        "device": twin["id"],
        "type": twin["type"],
        "apartment": twin.get("apartment"),
        "availability": twin["availability"],
        "last_seen": twin.get("last_seen"),
        "firmware": twin.get("firmware"),
        "battery": state.get("battery"),
        "rssi": state.get("rssi"),
        "uptime_s": state.get("uptime_s"),
        "ping": None,
    }
    async with limit:
        if ping and twin["availability"] == "online":
            result = await api.command(twin["id"], "ping", {}, reason="diagnose")
            report["ping"] = {"outcome": result["outcome"], "ms": result["elapsed_ms"]}
        events = await api.get("/api/events", device=twin["id"], limit=RECENT_EVENTS)
    report["recent_errors"] = [
        {"ts": e["ts"], "type": e["type"], "details": e.get("details") or {}}
        for e in events["events"]
        if e["type"] in ERROR_EVENTS
    ][:10]
    report["problems"] = problems_of(report)
    return report


def diagnose(
    device: Annotated[str | None, typer.Argument(help="device id")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every device, problems first")] = False,
    ping: Annotated[bool, typer.Option(help="measure a ping round trip")] = True,
    json_out: JsonOption = False,
    api: ApiOption = None,
    token: TokenOption = None,
) -> None:
    """Diagnose one device, or --all as a table with problems first. Exit 3 when a
    device has a problem; other exit codes as everywhere (docs/cli.md)."""
    if (device is None) == (not all_):
        raise fail("give a DEVICE or --all (not both)")

    async def go(session: Api) -> list[dict[str, Any]]:
        if device is not None:
            twins = [await session.get(f"/api/devices/{device}")]
        else:
            twins = (await session.get("/api/devices"))["devices"]
        limit = asyncio.Semaphore(PARALLEL_PINGS)
        return list(
            await asyncio.gather(*(diagnose_one(session, t, ping=ping, limit=limit) for t in twins))
        )

    reports = run_api(api, token, go)
    reports.sort(key=lambda r: (-len(r["problems"]), r["device"]))
    if json_out:
        print_json(reports[0] if device is not None else reports)
    elif device is not None:
        _print_one(reports[0])
    else:
        _print_table(reports)
    if any(r["problems"] for r in reports):
        raise typer.Exit(ExitCode.DEVICE)


def _ping_text(report: dict[str, Any]) -> str:
    ping = report.get("ping")
    if not ping:
        return ""
    return f"{ping['ms']:.0f} ms" if ping["outcome"] == "ok" else ping["outcome"]


def _print_one(r: dict[str, Any]) -> None:
    table = Table("field", "value", show_header=False)
    rows = [
        ("device", r["device"]),
        ("type", r["type"]),
        ("apartment", r.get("apartment") or ""),
        ("availability", r["availability"]),
        ("last seen", r.get("last_seen") or ""),
        ("firmware", r.get("firmware") or ""),
        ("battery", "" if r["battery"] is None else f"{r['battery']}%"),
        ("signal", "" if r["rssi"] is None else f"{r['rssi']} dBm"),
        ("ping", _ping_text(r)),
        ("problems", ", ".join(r["problems"]) or "none"),
    ]
    for key, value in rows:
        table.add_row(key, str(value))
    for e in r["recent_errors"]:
        table.add_row("error", f"{e['ts'][:19]} {e['type']}")
    out.print(table)


def _print_table(reports: list[dict[str, Any]]) -> None:
    table = Table("device", "availability", "firmware", "battery", "signal", "ping", "problems")
    for r in reports:
        style = "red" if r["problems"] else ""
        table.add_row(
            r["device"],
            r["availability"],
            r.get("firmware") or "",
            "" if r["battery"] is None else f"{r['battery']}%",
            "" if r["rssi"] is None else f"{r['rssi']} dBm",
            _ping_text(r),
            ", ".join(r["problems"]),
            style=style,
        )
    out.print(table)
