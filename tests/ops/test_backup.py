"""Backup, wipe, restore: users, audit, activity and schedules come back as they were;
a damaged backup and an unforced overwrite are refused."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from config.site import EXAMPLE_SITE
from controller.cli.app import app
from controller.store import open_store
from scheduler.ports import ScheduleRecord
from tests.integration.harness import make_test_users

from .records import NOW, fill

runner = CliRunner()


async def snapshot(url: str) -> dict[str, Any]:
    store = open_store(url)
    await store.open()
    try:
        return {
            "users": await store.list_users(),
            "audit": await store.audit(limit=1000),
            "activity": await store.activity(limit=1000),
            "schedules": await store.list_schedules(include_deleted=True),
            "events": await store.recent_events(limit=1000),
        }
    finally:
        await store.close()


async def make_store(url: str) -> None:
    from config.site import load_site

    store = open_store(url)
    await store.open()
    try:
        await make_test_users(store, load_site(EXAMPLE_SITE), now=NOW)
        await fill(store)
        await store.add_schedule(
            ScheduleRecord(
                id="evening-curtains",
                name="Close curtains at dusk",
                owner="test-admin",
                definition={"id": "evening-curtains", "action": "close"},
                enabled=True,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    finally:
        await store.close()


def cli(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


async def test_backup_wipe_restore_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "var"
    data.mkdir()
    db_file = data / "tryggbo.sqlite"
    url = f"sqlite:///{db_file}"
    site = tmp_path / "site.toml"
    shutil.copyfile(EXAMPLE_SITE, site)
    await make_store(url)
    before = await snapshot(url)
    assert len(before["users"]) == 2
    assert len(before["audit"]) == 8
    assert len(before["schedules"]) == 1

    backups = tmp_path / "backups"
    backups.mkdir()
    made = await asyncio.to_thread(
        cli, "backup", "--out", str(backups), "--db", url, "--site", str(site)
    )
    assert made.exit_code == 0, made.output
    (archive,) = backups.glob("tryggbo-solgarden-*.tar.gz")
    assert os.stat(archive).st_mode & 0o777 == 0o600

    for path in data.iterdir():  # wipe: the store with its WAL, and the site file
        path.unlink()
    site.unlink()

    restored = await asyncio.to_thread(
        cli, "restore", str(archive), "--db", url, "--site", str(site)
    )
    assert restored.exit_code == 0, restored.output
    assert "2 users" in restored.output
    after = await snapshot(url)
    assert after == before
    assert site.read_bytes() == EXAMPLE_SITE.read_bytes()

    again = await asyncio.to_thread(cli, "restore", str(archive), "--db", url, "--site", str(site))
    assert again.exit_code == 1
    assert "--force" in again.output
    forced = await asyncio.to_thread(
        cli, "restore", str(archive), "--db", url, "--site", str(site), "--force"
    )
    assert forced.exit_code == 0, forced.output
    assert list(data.glob("tryggbo.sqlite.before-restore-*"))
    assert await snapshot(url) == before


async def test_a_damaged_backup_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.sqlite'}"
    site = tmp_path / "site.toml"
    shutil.copyfile(EXAMPLE_SITE, site)
    await make_store(url)
    archive = tmp_path / "b.tar.gz"
    made = await asyncio.to_thread(
        cli, "backup", "--out", str(archive), "--db", url, "--site", str(site)
    )
    assert made.exit_code == 0, made.output
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(damaged, "w:gz") as dst:
        for member in src.getmembers():
            content = src.extractfile(member)
            assert content is not None
            raw = content.read()
            if member.name == "site.toml":
                raw = raw.replace(b"Solg", b"Xolg")
            member.size = len(raw)
            dst.addfile(member, io.BytesIO(raw))
    target = f"sqlite:///{tmp_path / 'new' / 'c.sqlite'}"
    done = await asyncio.to_thread(
        cli, "restore", str(damaged), "--db", target, "--site", str(tmp_path / "new-site.toml")
    )
    assert done.exit_code == 1
    assert "site.toml in the backup is damaged" in done.output
    assert not (tmp_path / "new" / "c.sqlite").exists()
    assert not (tmp_path / "new-site.toml").exists()
