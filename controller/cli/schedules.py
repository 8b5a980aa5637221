"""``tryggbo schedules``: list, add, pause, resume and delete schedules.

Talks to the running daemon's HTTP API (``--url`` / ``TRYGGBO_URL``, default
http://127.0.0.1:8080) with an API token (``--token`` / ``TRYGGBO_TOKEN``; make one
with ``tryggbo token create --user USERNAME``). Exit codes: 0 ok, 1 runtime failure
(daemon unreachable, refused, store down), 2 bad input (here or from the daemon).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

schedules_app = typer.Typer(
    help="Timed schedules (via the daemon's HTTP API).", no_args_is_help=True
)
err = Console(stderr=True)
out = Console()

EXIT_RUNTIME = 1
EXIT_USAGE = 2

UrlOption = Annotated[str, typer.Option(envvar="TRYGGBO_URL", help="the daemon's HTTP API")]
TokenOption = Annotated[
    str | None, typer.Option(envvar="TRYGGBO_TOKEN", help="API token (tryggbo token create)")
]
DEFAULT_URL = "http://127.0.0.1:8080"


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def call(url: str, token: str | None, method: str, path: str, body: Any = None) -> Any:
    """One API call; the JSON answer, or a clear error and exit."""
    if not token:
        raise _fail("no API token: pass --token or set TRYGGBO_TOKEN")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url.rstrip("/") + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise _http_error(exc) from None
    except (urllib.error.URLError, OSError) as exc:
        raise _fail(f"cannot reach the daemon at {url}: {exc}", EXIT_RUNTIME) from None


def _http_error(exc: urllib.error.HTTPError) -> typer.Exit:
    try:
        error = json.loads(exc.read())["error"]
    except (ValueError, KeyError, TypeError):
        return _fail(f"HTTP {exc.code} from the daemon", EXIT_RUNTIME)
    lines = [f"{error['message']} ({error['code']})"]
    for problem in error.get("details") or []:
        if isinstance(problem, dict) and "field" in problem:
            lines.append(f"  {problem['field']}: {problem.get('problem', '')}")
    return _fail("\n".join(lines), EXIT_USAGE if exc.code in (400, 404) else EXIT_RUNTIME)


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
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List schedules with their next firing."""
    body = call(url, token, "GET", "/api/schedules")
    if json_out:
        print(json.dumps(body, indent=2, ensure_ascii=False))
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
        raise _fail("choose one of --daily, --weekdays (with --at), --cron, --sun, --once")
    if daily:
        return {"kind": "daily", "time": daily}
    if weekdays:
        if not at:
            raise _fail("--weekdays needs --at HH:MM")
        return {
            "kind": "weekdays",
            "time": at,
            "weekdays": [d.strip() for d in weekdays.split(",")],
        }
    if cron:
        return {"kind": "cron", "expr": cron}
    if sun:
        if sun not in ("sunrise", "sunset"):
            raise _fail("--sun is sunrise or sunset")
        if not fallback:
            raise _fail("--sun needs --fallback HH:MM (days without a sunrise or sunset)")
        return {"kind": "sun", "event": sun, "offset_minutes": offset, "fallback": fallback}
    return {"kind": "once", "at": once}


def _args(pairs: list[str]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise _fail(f"--arg {pair!r} must look like name=value")
        try:
            args[key] = json.loads(value)
        except ValueError:
            args[key] = value
    return args


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
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Add a schedule; prints its id and next firing."""
    rule = build_rule(
        daily=daily, weekdays=weekdays, at=at, cron=cron, sun=sun, offset=offset,
        fallback=fallback, once=once,
    )  # fmt: skip
    if missed not in ("run_latest", "skip"):
        raise _fail("--missed is run_latest or skip")
    body = {"name": name, "target": target, "action": action, "args": _args(arg or []),
            "rule": rule, "missed_policy": missed}  # fmt: skip
    created = call(url, token, "POST", "/api/schedules", body)
    out.print(f"{created['id']}: {created.get('summary')}; next: {_next(created)}")


def _change(schedule_id: str, url: str, token: str | None, what: str) -> None:
    if what == "delete":
        call(url, token, "DELETE", f"/api/schedules/{schedule_id}")
        out.print(f"{schedule_id} deleted")
        return
    changed = call(url, token, "POST", f"/api/schedules/{schedule_id}/{what}")
    out.print(
        f"{schedule_id} {'resumed' if changed['enabled'] else 'paused'}; next: {_next(changed)}"
    )


@schedules_app.command("pause")
def pause(schedule_id: str, url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
    """Pause a schedule (it does not catch up when resumed)."""
    _change(schedule_id, url, token, "pause")


@schedules_app.command("resume")
def resume(schedule_id: str, url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
    """Resume a paused schedule."""
    _change(schedule_id, url, token, "resume")


@schedules_app.command("delete")
def delete(schedule_id: str, url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
    """Delete a schedule (its firing history is kept)."""
    _change(schedule_id, url, token, "delete")
