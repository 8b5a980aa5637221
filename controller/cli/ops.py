"""Operations commands: ``tryggbo settings-doc``, ``tryggbo contract-doc``,
``tryggbo export-resident``, ``tryggbo retention``."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from config.settings import SettingsError, load_settings
from config.settings_doc import render_settings_doc
from config.site import SiteFileError, load_site
from controller.cli.exit_codes import ExitCode
from controller.cli.output import err, fail
from controller.ops.resident_export import UnknownApartment, export_apartment
from controller.ops.retention import RetentionPolicy, apply_retention
from controller.store import ActivityRecord, StoreError, open_store
from devices.clock import SystemClock
from devices.contract.doc import render_device_types, replace_section

DbOption = Annotated[str, typer.Option(envvar="TRYGGBO_DB", help="store URL")]
DEFAULT_DB = "sqlite:///var/tryggbo.sqlite"


def settings_doc(
    out: Annotated[Path | None, typer.Option(help="write here instead of stdout")] = None,
) -> None:
    """Print the settings reference (docs/settings.md is this output)."""
    text = render_settings_doc()
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")


def contract_doc(
    update: Annotated[
        Path | None, typer.Option(help="rewrite the device-type table in this file")
    ] = None,
) -> None:
    """Print the device-type table of docs/mqtt-contract.md (from the registry), or
    rewrite it in place with --update docs/mqtt-contract.md."""
    if update is None:
        sys.stdout.write(render_device_types())
    else:
        update.write_text(replace_section(update.read_text(encoding="utf-8")), encoding="utf-8")


def export_resident(
    apartment: Annotated[str, typer.Argument(help="the apartment number, e.g. 101")],
    out: Annotated[Path, typer.Option(help="JSON file to write (0600)")],
    site: Annotated[Path, typer.Option(envvar="TRYGGBO_SITE_FILE", help="the site file")] = Path(
        "site.toml"
    ),
    db: DbOption = DEFAULT_DB,
    by: Annotated[str, typer.Option(help="who asks (written to the activity log)")] = "cli",
) -> None:
    """Export everything stored about the resident of APARTMENT (GDPR access request);
    the export is written to the activity log."""
    try:
        site_model = load_site(site)
    except SiteFileError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None

    async def go() -> dict[str, Any]:
        store = open_store(db)
        await store.open()
        try:
            now = SystemClock().now()
            doc = await export_apartment(store, site_model, apartment, now)
            counts = {k: len(doc[k]) for k in ("events", "audit", "activity", "alarms")}
            await store.add_activity(
                ActivityRecord(
                    ts=now,
                    actor=by[:64],
                    action="resident_export",
                    apartment=apartment,
                    outcome="ok",
                    details={**counts, "via": "cli"},
                )
            )
            return doc
        finally:
            await store.close()

    try:
        doc = asyncio.run(go())
    except UnknownApartment as exc:
        raise fail(str(exc), ExitCode.USAGE) from None
    except StoreError as exc:
        raise fail(str(exc), ExitCode.RUNTIME) from None
    out.touch(mode=0o600, exist_ok=True)
    out.chmod(0o600)
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    err.print(f"apartment {apartment}: {out} (mode 0600)")


def retention() -> None:
    """Apply the retention settings now (the daemon also does it every night)."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None
    policy = RetentionPolicy(
        events_days=settings.retention_events_days,
        audit_days=settings.retention_audit_days,
        alarms_days=settings.retention_alarms_days,
    )
    try:
        report = asyncio.run(apply_retention(settings.db, policy, SystemClock().now()))
    except Exception as exc:
        raise fail(f"retention failed: {exc}", ExitCode.RUNTIME) from None
    print(json.dumps(report.to_dict(), indent=2))


def register(app: typer.Typer) -> None:
    app.command("settings-doc")(settings_doc)
    app.command("contract-doc")(contract_doc)
    app.command("export-resident")(export_resident)
    app.command("retention")(retention)
