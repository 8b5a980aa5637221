"""``tryggbo backup`` and ``tryggbo restore``: the store and the site file, verified.

Exit codes: controller/cli/exit_codes.py (1 the backup or restore failed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from controller.cli.exit_codes import ExitCode
from controller.cli.output import err, fail
from controller.ops.backup import BackupError, create_backup, restore_backup
from controller.store import StoreError
from devices.clock import SystemClock

DbOption = Annotated[str, typer.Option(envvar="TRYGGBO_DB", help="store URL")]
SiteOption = Annotated[
    Path, typer.Option("--site", envvar="TRYGGBO_SITE_FILE", help="the site file (TOML)")
]
DEFAULT_DB = "sqlite:///var/tryggbo.sqlite"


def backup(
    out: Annotated[Path, typer.Option(help="archive file, or a directory to put it in")],
    db: DbOption = DEFAULT_DB,
    site: SiteOption = Path("site.toml"),
    credentials: Annotated[
        Path | None, typer.Option(help="also back up this device secrets file")
    ] = None,
) -> None:
    """Back up the store and the site file into one .tar.gz (0600, with checksums).
    Safe while the daemon runs."""
    try:
        archive = create_backup(db, site, out, credentials=credentials, now=SystemClock().now())
    except (BackupError, StoreError) as exc:
        raise fail(str(exc), ExitCode.RUNTIME) from None
    print(archive)


def restore(
    archive: Annotated[Path, typer.Argument(help="a backup made by `tryggbo backup`")],
    db: DbOption = DEFAULT_DB,
    site: SiteOption = Path("site.toml"),
    credentials: Annotated[
        Path | None, typer.Option(help="restore the device secrets here (if backed up)")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="replace an existing store/site file (kept aside)")
    ] = False,
) -> None:
    """Restore a backup (stop the daemon first). Checks every checksum, refuses
    backups from newer code, migrates older ones."""
    try:
        report = restore_backup(
            archive, db, site, credentials=credentials, force=force, now=SystemClock().now()
        )
    except (BackupError, StoreError) as exc:
        raise fail(str(exc), ExitCode.RUNTIME) from None
    counts = ", ".join(f"{n} {name}" for name, n in report.counts.items())
    err.print(f"restored site {report.site} from {report.created_at}: {counts}")
    for path in report.set_aside:
        err.print(f"kept the replaced file as {path}")


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
