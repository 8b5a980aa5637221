"""Backups of the store and the site file, and restoring them, verified.

A backup is one ``.tar.gz`` (mode 0600: it holds personal data) with
``manifest.json`` (format, time, site, schema revision, SHA-256 of every member),
the store and the site file, and the device secrets only when asked for. SQLite is
copied with SQLite's online backup API, so the daemon may keep running; PostgreSQL
is dumped with ``pg_dump --format=custom`` and restored with ``pg_restore``.

Restore checks every checksum first and refuses a backup from newer code (no
downgrades); it never overwrites without ``force``, and then keeps what it replaces
next to it (``*.before-restore-<time>``). The restored store is migrated to this
code's schema when it is older.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from .store import engine as db
from .store import open_store

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "store.sqlite"
PG_MEMBER = "store.pgdump"
SITE_MEMBER = "site.toml"
CREDENTIALS_MEMBER = "credentials.json"


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why."""


@dataclass(frozen=True)
class RestoreReport:
    archive: Path
    site: str
    created_at: str
    schema_revision: str | None
    counts: dict[str, int]
    set_aside: list[Path]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (online backup API)."""
    if not source.exists():
        raise BackupError(f"no store at {source}")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _pg_command(url: URL, tool: str, *args: str) -> None:
    binary = shutil.which(tool)
    if binary is None:
        raise BackupError(f"{tool} is not installed (apt-get install postgresql-client)")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    done = subprocess.run(
        [binary, *args, "--dbname", plain], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BackupError(f"{tool} failed: {done.stderr.strip()[-500:]}")


def _revision(db_url: str) -> str | None:
    """The store's schema revision, read without migrating anything."""
    import asyncio

    async def read() -> str | None:
        engine = db.create_engine(db.parse_url(db_url))
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(db.current_revision)
        except Exception as exc:
            raise BackupError(f"cannot read the store at {db_url}: {exc}") from exc
        finally:
            await engine.dispose()

    return asyncio.run(read())


def create_backup(
    db_url: str, site_file: Path, out: Path, *, credentials: Path | None = None, now: datetime
) -> Path:
    """Write a backup archive to ``out`` (a file, or a directory to put it in)."""
    from config.site import SiteFileError, load_site

    try:
        site = load_site(site_file)
    except SiteFileError as exc:
        raise BackupError(f"the site file does not load, not backed up: {exc}") from exc
    url = db.parse_url(db_url)
    revision = _revision(db_url)  # also proves the store can be read
    if out.is_dir():
        out = out / f"tryggbo-{site.slug}-{now:%Y%m%dT%H%M%S}.tar.gz"
    with tempfile.TemporaryDirectory(prefix="tryggbo-backup-") as tmp:
        work = Path(tmp)
        members: dict[str, Path] = {}
        if url.get_backend_name() == "sqlite":
            path = db.sqlite_path(url)
            if path is None:
                raise BackupError("an in-memory store cannot be backed up")
            members[SQLITE_MEMBER] = work / SQLITE_MEMBER
            _sqlite_copy(path, members[SQLITE_MEMBER])
        else:
            members[PG_MEMBER] = work / PG_MEMBER
            _pg_command(url, "pg_dump", "--format=custom", "--file", str(members[PG_MEMBER]))
        members[SITE_MEMBER] = site_file
        if credentials is not None:
            if not credentials.exists():
                raise BackupError(f"no credentials file at {credentials}")
            members[CREDENTIALS_MEMBER] = credentials
        manifest = {
            "format": FORMAT,
            "created_at": now.isoformat(),
            "site": site.slug,
            "dialect": url.get_backend_name(),
            "schema_revision": revision,
            "files": {name: _sha256(path) for name, path in members.items()},
        }
        partial = out.with_name(out.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            data = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(data), 0o600, int(now.timestamp())
            tar.addfile(info, io.BytesIO(data))
            for name, path in members.items():
                tar.add(path, arcname=name, filter=_private)
        partial.replace(out)
    return out


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
    return info


def read_manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = tar.extractfile(MANIFEST)
    except KeyError:
        raise BackupError("not a Tryggbo backup: no manifest.json") from None
    if member is None:
        raise BackupError("not a Tryggbo backup: manifest.json is not a file")
    manifest: dict[str, Any] = json.loads(member.read())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup format {manifest.get('format')!r}, this code reads {FORMAT}")
    return manifest


def _set_aside(path: Path, stamp: str, force: bool) -> list[Path]:
    """Move ``path`` (and a SQLite file's -wal/-shm) out of the way; refuse without force."""
    moved = []
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if not candidate.exists():
            continue
        if not force:
            raise BackupError(f"{candidate} exists: stop the daemon and restore with --force")
        target = candidate.with_name(f"{candidate.name}.before-restore-{stamp}")
        candidate.replace(target)
        moved.append(target)
    return moved


def restore_backup(
    archive: Path,
    db_url: str,
    site_file: Path,
    *,
    credentials: Path | None = None,
    force: bool = False,
    now: datetime,
) -> RestoreReport:
    """Restore ``archive`` into the store at ``db_url`` and ``site_file``."""
    url = db.parse_url(db_url)
    stamp = f"{now:%Y%m%dT%H%M%S}"
    if not archive.is_file():
        raise BackupError(f"no backup at {archive}")
    with (
        tempfile.TemporaryDirectory(prefix="tryggbo-restore-") as tmp,
        tarfile.open(archive, "r:gz") as tar,
    ):
        manifest = read_manifest(tar)
        work = Path(tmp)
        expected: dict[str, str] = manifest["files"]
        for name in expected:
            if "/" in name or name.startswith("."):
                raise BackupError(f"unexpected member {name!r} in the backup")
            tar.extract(name, work, filter="data")
            if _sha256(work / name) != expected[name]:
                raise BackupError(f"{name} in the backup is damaged (checksum differs)")
        head = db.head_revision()
        revision = manifest.get("schema_revision")
        known = _known_revisions()
        if revision is not None and revision not in known:
            raise BackupError(
                f"the backup's schema {revision} is newer than this code's ({head}): "
                "install the version that made it"
            )
        if manifest["dialect"] != url.get_backend_name():
            raise BackupError(
                f"the backup is of a {manifest['dialect']} store, the target is "
                f"{url.get_backend_name()}"
            )
        set_aside: list[Path] = []
        if url.get_backend_name() == "sqlite":
            path = db.sqlite_path(url)
            if path is None:
                raise BackupError("cannot restore into an in-memory store")
            set_aside += _set_aside(path, stamp, force)
            path.parent.mkdir(parents=True, exist_ok=True)
            staged = path.with_name(path.name + ".restoring")
            shutil.copyfile(work / SQLITE_MEMBER, staged)
            os.chmod(staged, 0o600)
            staged.replace(path)
        else:
            if not force:
                raise BackupError("restoring PostgreSQL replaces its tables: add --force")
            _pg_command(
                url, "pg_restore", "--clean", "--if-exists", "--no-owner", str(work / PG_MEMBER)
            )
        set_aside += _set_aside(site_file, stamp, force)
        shutil.copyfile(work / SITE_MEMBER, site_file)
        if credentials is not None and CREDENTIALS_MEMBER in expected:
            set_aside += _set_aside(credentials, stamp, force)
            shutil.copyfile(work / CREDENTIALS_MEMBER, credentials)
            os.chmod(credentials, 0o600)
    counts = _counts(db_url)
    return RestoreReport(
        archive=archive,
        site=manifest["site"],
        created_at=manifest["created_at"],
        schema_revision=revision,
        counts=counts,
        set_aside=set_aside,
    )


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(db.alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


def _counts(db_url: str) -> dict[str, int]:
    """Open (and migrate) the restored store; rows per table that people care about."""
    import asyncio

    import sqlalchemy as sa

    from .store import schema as t

    async def count() -> dict[str, int]:
        store = open_store(db_url)
        await store.open()
        await store.close()
        engine = db.create_engine(db.parse_url(db_url))
        try:
            async with engine.connect() as conn:
                out = {}
                for table in (t.users, t.audit, t.activity, t.schedules, t.events, t.alarms):
                    query = sa.select(sa.func.count()).select_from(table)
                    out[table.name] = int((await conn.execute(query)).scalar_one())
                return out
        finally:
            await engine.dispose()

    return asyncio.run(count())
