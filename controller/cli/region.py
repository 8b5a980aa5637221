"""``tryggbo region``: the regional admin's view over several homes (open alarms per
home), read from the homes' PostgreSQL schemas as a regional role (controller/ops/region.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from controller.cli.exit_codes import ExitCode, help_text
from controller.cli.output import JsonOption, fail, out, print_json
from controller.ops.region import HomeAlarms, open_alarms_per_home, region_grants
from controller.store.repository import StoreError
from devices.clock import SystemClock

region_app = typer.Typer(
    help=f"Several homes on one PostgreSQL, seen by a regional admin. {help_text()}",
    no_args_is_help=True,
)

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="TRYGGBO_REGION_DB",
        help="the homes' database as the regional role, without ?schema= "
        "(password from PGPASSWORD or ~/.pgpass)",
    ),
]
HomeOption = Annotated[
    list[str] | None,
    typer.Option("--home", help="a home's schema (repeat); default: every home granted"),
]


@region_app.command("alarms")
def alarms(db: DbOption, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Open alarms per home (active: open, acknowledged, staff on site), oldest first."""
    try:
        homes = asyncio.run(open_alarms_per_home(db, home or None))
    except StoreError as exc:
        raise fail(str(exc), ExitCode.RUNTIME) from None
    if as_json:
        print_json({"homes": [_as_dict(h) for h in homes]})
        return
    _print(homes, SystemClock().now())


@region_app.command("grants")
def grants(
    home: Annotated[str, typer.Option("--home", help="the home's schema")],
    role: Annotated[str, typer.Option("--role", help="the regional PostgreSQL role")],
) -> None:
    """Print the SQL that lets the regional role see this home's open alarms (run it as
    the home's schema owner)."""
    try:
        statements = region_grants(home, role)
    except ValueError as exc:
        raise fail(str(exc)) from None
    for statement in statements:
        print(f"{statement};")


def _as_dict(home: HomeAlarms) -> dict[str, object]:
    return {
        "home": home.home,
        "open": len(home.alarms),
        "alarms": [
            {
                "id": a.id,
                "kind": a.kind,
                "apartment": a.apartment,
                "device": a.device,
                "state": a.state,
                "raised_at": a.raised_at.isoformat(),
                "escalations": a.escalations,
            }
            for a in home.alarms
        ],
    }


def _print(homes: list[HomeAlarms], now: datetime) -> None:
    if not homes:
        out.print("no home's alarms are readable by this role")
        return
    table = Table("home", "open", "kind", "apartment", "state", "for", "escalated")
    for home in homes:
        if not home.alarms:
            table.add_row(home.home, "0", "", "", "", "", "")
        for i, alarm in enumerate(home.alarms):
            minutes = int((now - alarm.raised_at.astimezone(UTC)).total_seconds() // 60)
            table.add_row(
                home.home if i == 0 else "",
                str(len(home.alarms)) if i == 0 else "",
                alarm.kind,
                alarm.apartment or "",
                alarm.state,
                f"{minutes} min",
                str(alarm.escalations),
            )
    out.print(table)
