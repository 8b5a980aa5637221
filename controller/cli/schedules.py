"""``tryggbo schedules``: list, add, pause, resume and delete schedules.

Talks to the running daemon's HTTP API through the CLI's one client
(controller/cli/client.py: ``--api``/``TRYGGBO_API``, ``--token``/``TRYGGBO_TOKEN``, the
CLI config file; ``--url``/``TRYGGBO_URL`` are deprecated aliases that warn). Exit
codes: controller/cli/exit_codes.py.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from controller.cli.client import (
    Api,
    ApiOption,
    TokenOption,
    UrlOption,
    deprecated_url,
    parse_args,
    run_api,
)
from controller.cli.exit_codes import help_text
from controller.cli.output import JsonOption, fail, out, print_json

schedules_app = typer.Typer(
    help=f"Timed schedules (via the daemon's HTTP API). {help_text()}", no_args_is_help=True
)


def _call(
    api: str | None, url: str | None, token: str | None, method: str, path: str, body: Any = None
) -> Any:
    """One API call through the CLI's client; its JSON answer (errors exit)."""

    async def go(session: Api) -> Any:
        if body is None:
            return await session.call(method, path)
        return await session.call(method, path, json=body)

    return run_api(deprecated_url(api, url), token, go)


def _next(schedule: dict[str, Any]) -> str:
    firing = schedule.get("next_firing")
    if not firing:
        return "paused" if not schedule.get("enabled") else "-"
    text = firing["local"][:16].replace("T", " ")
    if firing.get("fallback_used"):
        text += f" ({firing['reason']})"
    return text


@schedules_app.command("list")
def list_schedules(
    json_out: JsonOption = False,
    api: ApiOption = None,
    token: TokenOption = None,
    url: UrlOption = None,
) -> None:
    """List schedules with their next firing."""
    body = _call(api, url, token, "GET", "/api/schedules")
    if json_out:
        print_json(body)
        return
    table = Table("name", "what", "enabled", "next firing (site time)", "owner")
    table.add_column("id", no_wrap=True)
    for s in body["schedules"]:
        table.add_row(
            s["name"], s.get("summary") or "", "yes" if s["enabled"] else "no", _next(s),
            s["owner"], s["id"],
        )  # fmt: skip
    out.print(table)
    for hold in body.get("holds", []):
        out.print(
            f"held: {hold['device']} by {hold['actor']} ({hold['action']}) since {hold['since']}"
        )


def build_rule(
    *,
    daily: str | None,
    weekdays: str | None,
    at: str | None,
    cron: str | None,
    sun: str | None,
    offset: int,
    fallback: str | None,
    once: str | None,
) -> dict[str, Any]:
    """The rule from the ``add`` options; exactly one kind must be chosen."""
    chosen = [k for k, v in {"daily": daily, "weekdays": weekdays, "cron": cron, "sun": sun,
                             "once": once}.items() if v]  # fmt: skip
    if len(chosen) != 1:
        raise fail("choose one of --daily, --weekdays (with --at), --cron, --sun, --once")
    if daily:
        return {"kind": "daily", "time": daily}
    if weekdays:
        if not at:
            raise fail("--weekdays needs --at HH:MM")
        return {
            "kind": "weekdays",
            "time": at,
            "weekdays": [d.strip() for d in weekdays.split(",")],
        }
    if cron:
        return {"kind": "cron", "expr": cron}
    if sun:
        if sun not in ("sunrise", "sunset"):
            raise fail("--sun is sunrise or sunset")
        if not fallback:
            raise fail("--sun needs --fallback HH:MM (days without a sunrise or sunset)")
        return {"kind": "sun", "event": sun, "offset_minutes": offset, "fallback": fallback}
    return {"kind": "once", "at": once}


@schedules_app.command("add")
def add(
    name: Annotated[str, typer.Option(help="what staff see")],
    target: Annotated[
        str,
        typer.Option(help="wing:A, apartment:103, device:a103-lock, type:curtain, floor:1, site"),
    ],
    action: Annotated[str, typer.Option(help="close, open, lock, set_night_mode...")],
    arg: Annotated[
        list[str] | None, typer.Option("--arg", help="action argument name=value")
    ] = None,
    daily: Annotated[str | None, typer.Option(help="every day at HH:MM")] = None,
    weekdays: Annotated[str | None, typer.Option(help="mon,tue,... (with --at)")] = None,
    at: Annotated[str | None, typer.Option(help="HH:MM for --weekdays")] = None,
    cron: Annotated[str | None, typer.Option(help='"30 7 * * 1-5"')] = None,
    sun: Annotated[str | None, typer.Option(help="sunrise or sunset")] = None,
    offset: Annotated[int, typer.Option(help="minutes after (+) or before (-) the sun event")] = 0,
    fallback: Annotated[
        str | None, typer.Option(help="HH:MM on days without the sun event")
    ] = None,
    once: Annotated[str | None, typer.Option(help="2026-12-01T14:00 (site time)")] = None,
    missed: Annotated[str, typer.Option(help="run_latest or skip")] = "run_latest",
    api: ApiOption = None,
    token: TokenOption = None,
    url: UrlOption = None,
) -> None:
    """Add a schedule; prints its id and next firing."""
    rule = build_rule(
        daily=daily, weekdays=weekdays, at=at, cron=cron, sun=sun, offset=offset,
        fallback=fallback, once=once,
    )  # fmt: skip
    if missed not in ("run_latest", "skip"):
        raise fail("--missed is run_latest or skip")
    body = {"name": name, "target": target, "action": action, "args": parse_args(arg or []),
            "rule": rule, "missed_policy": missed}  # fmt: skip
    created = _call(api, url, token, "POST", "/api/schedules", body)
    out.print(f"{created['id']}: {created.get('summary')}; next: {_next(created)}")


def _change(
    schedule_id: str, api: str | None, url: str | None, token: str | None, what: str
) -> None:
    if what == "delete":
        _call(api, url, token, "DELETE", f"/api/schedules/{schedule_id}")
        out.print(f"{schedule_id} deleted")
        return
    changed = _call(api, url, token, "POST", f"/api/schedules/{schedule_id}/{what}")
    out.print(
        f"{schedule_id} {'resumed' if changed['enabled'] else 'paused'}; next: {_next(changed)}"
    )


@schedules_app.command("pause")
def pause(
    schedule_id: str, api: ApiOption = None, token: TokenOption = None, url: UrlOption = None
) -> None:
    """Pause a schedule (it does not catch up when resumed)."""
    _change(schedule_id, api, url, token, "pause")


@schedules_app.command("resume")
def resume(
    schedule_id: str, api: ApiOption = None, token: TokenOption = None, url: UrlOption = None
) -> None:
    """Resume a paused schedule."""
    _change(schedule_id, api, url, token, "resume")


@schedules_app.command("delete")
def delete(
    schedule_id: str, api: ApiOption = None, token: TokenOption = None, url: UrlOption = None
) -> None:
    """Delete a schedule (its firing history is kept)."""
    _change(schedule_id, api, url, token, "delete")
