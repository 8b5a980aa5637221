"""Backups of the store and the site file, and restoring them, verified.

A backup is one ``.tar.gz`` (mode 0600: it holds personal data) with
``manifest.json`` (format, time, site, schema revision, SHA-256 of every member),
the store and the site file, and the device secrets only when asked for. SQLite is
copied with SQLite's online backup API, so the daemon may keep running; PostgreSQL
is dumped with ``pg_dump --format=custom`` (a site's schema alone when the store URL names one)
and restored with ``pg_restore`` (only into the same schema).

Restore is all or nothing: it checks every checksum and refuses a backup from newer
code (no downgrades) before it writes anything, migrates and counts a SQLite store in
a private directory, stages every file beside its target (owned like the file it
replaces; store and secrets 0600), and only then swaps them in; a failed step puts
every file back. It never overwrites without ``force``, and then keeps what it
replaces next to it (``*.before-restore-<time>``).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
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

from controller.store import engine as db
from controller.store import open_store

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "store.sqlite"
PG_MEMBER = "store.pgdump"
SITE_MEMBER = "site.toml"
CREDENTIALS_MEMBER = "credentials.json"
MEMBERS = (SQLITE_MEMBER, PG_MEMBER, SITE_MEMBER, CREDENTIALS_MEMBER)

log = logging.getLogger(__name__)


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
    plain = db.without_schema(url.set(drivername="postgresql", password=None))
    plain_url = plain.render_as_string(hide_password=False)
    done = subprocess.run(
        [binary, *args, "--dbname", plain_url], env=env, capture_output=True, text=True, check=False
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
            # a site's schema alone (the other homes' schemas are theirs to back up)
            schema = db.pg_schema(url)
            only = ["--schema", schema] if schema is not None else []
            _pg_command(url, "pg_dump", "--format=custom", *only, "--file", str(members[PG_MEMBER]))
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
            "schema": db.pg_schema(url),
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


def _unpack(tar: tarfile.TarFile, work: Path, expected: dict[str, str]) -> None:
    """Copy each listed member into ``work`` (0600) and verify its checksum.

    Only known names and regular files are read, with :meth:`TarFile.extractfile`: no
    links, paths or modes from the archive, and no ``extract(filter=)``, which Debian
    12's Python 3.11.2 lacks (it arrived in 3.11.4).
    """
    for name in expected:
        if name not in MEMBERS:
            raise BackupError(f"unexpected member {name!r} in the backup")
        try:
            member = tar.getmember(name)
        except KeyError:
            raise BackupError(f"{name} is listed in the manifest but missing") from None
        content = tar.extractfile(member) if member.isfile() else None
        if content is None:
            raise BackupError(f"{name} in the backup is not a regular file")
        fd = os.open(work / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with content, os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(content, out)
        if _sha256(work / name) != expected[name]:
            raise BackupError(f"{name} in the backup is damaged (checksum differs)")


@dataclass(frozen=True)
class _Target:
    """A file a restore puts in place: the verified copy, where it goes, its mode (with
    ``keep_mode``: only if new, else the replaced file's)."""

    source: Path
    path: Path
    mode: int
    keep_mode: bool = False
    companions: tuple[str, ...] = ()  # SQLite's -wal and -shm, set aside with the file

    def present(self) -> list[Path]:
        paths = [self.path, *(Path(f"{self.path}{c}") for c in self.companions)]
        return [p for p in paths if p.exists()]


def _stage(target: _Target, stamp: str) -> Path:
    """A copy of ``target.source`` beside ``target.path`` with the owner of the file it
    replaces (a new file: its directory's owner); OSError if it cannot be made so."""
    directory = target.path.parent
    staged = directory / f".{target.path.name}.restoring-{stamp}"
    old = target.path if target.path.exists() else None
    owner = os.stat(old or directory)
    mode = os.stat(old).st_mode & 0o777 if old and target.keep_mode else target.mode
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out, target.source.open("rb") as src:
            shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())
        if (owner.st_uid, owner.st_gid) != (os.geteuid(), os.getegid()):
            os.chown(staged, owner.st_uid, owner.st_gid)  # only root may give a file away
        os.chmod(staged, mode)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return staged


class _Swap:
    """Stage every file, then move the old ones aside and the staged ones in; a failed
    step, or :meth:`rollback`, puts everything back as it was."""

    def __init__(self, targets: list[_Target], stamp: str) -> None:
        self.targets, self.stamp = targets, stamp
        self.staged: list[Path] = []
        self.renames: list[tuple[Path, Path]] = []  # made, in order: undone in reverse
        self.set_aside: list[Path] = []

    def run(self) -> None:
        """BackupError (after a rollback) if any file cannot be staged or moved."""
        step = "staging"
        try:
            for target in self.targets:
                step = f"writing into {target.path.parent}"
                target.path.parent.mkdir(parents=True, exist_ok=True)
                self.staged.append(_stage(target, self.stamp))
            for target, staged in zip(self.targets, self.staged, strict=True):
                step = f"replacing {target.path}"
                for old in target.present():
                    aside = old.with_name(f"{old.name}.before-restore-{self.stamp}")
                    self._rename(old, aside)
                    self.set_aside.append(aside)
                self._rename(staged, target.path)
        except OSError as exc:
            state = "nothing was changed" if self.rollback() else "PUT BACK BY HAND (see log)"
            raise BackupError(
                f"restore failed {step}: {exc.strerror or exc} ({exc.filename}); {state}. "
                "Restore as root, as in docs/operations.md: each file keeps its owner"
            ) from None

    def _rename(self, source: Path, target: Path) -> None:
        os.rename(source, target)
        self.renames.append((source, target))

    def rollback(self) -> bool:
        """Undo every rename and remove the staged copies; False if any step failed."""
        ok = True
        for source, target in reversed(self.renames):
            try:
                os.rename(target, source)
            except OSError as exc:
                log.error("restore: could not move %s back to %s: %s", target, source, exc)
                ok = False
        for staged in self.staged:
            try:
                staged.unlink(missing_ok=True)
            except OSError as exc:
                log.error("restore: could not remove %s: %s", staged, exc)
                ok = False
        self.renames, self.set_aside = [], []
        return ok


def restore_backup(
    archive: Path,
    db_url: str,
    site_file: Path,
    *,
    credentials: Path | None = None,
    force: bool = False,
    now: datetime,
) -> RestoreReport:
    """Restore ``archive`` into the store at ``db_url`` and ``site_file``, all or nothing.

    Unpack and verify into a private directory; migrate and count a SQLite store
    there; stage each file beside its target; then swap them in, putting every file
    back if one step fails. PostgreSQL is restored last, in one transaction.
    """
    url = db.parse_url(db_url)
    stamp = f"{now:%Y%m%dT%H%M%S}"
    if not archive.is_file():
        raise BackupError(f"no backup at {archive}")
    with tempfile.TemporaryDirectory(prefix="tryggbo-restore-") as tmp:
        work = Path(tmp)
        with tarfile.open(archive, "r:gz") as tar:
            manifest = read_manifest(tar)
            expected: dict[str, str] = manifest["files"]
            _unpack(tar, work, expected)
        revision = manifest.get("schema_revision")
        if revision is not None and revision not in _known_revisions():
            raise BackupError(
                f"the backup's schema {revision} is newer than this code's "
                f"({db.head_revision()}): install the version that made it"
            )
        dialect = url.get_backend_name()
        if manifest["dialect"] != dialect:
            raise BackupError(
                f"the backup is of a {manifest['dialect']} store, the target is {dialect}"
            )
        if manifest.get("schema") != db.pg_schema(url):
            # pg_restore recreates the schema named in the archive, whatever the URL says
            raise BackupError(
                f"the backup is of schema {manifest.get('schema') or 'public'}, the target "
                f"store's is {db.pg_schema(url) or 'public'}: restore a site into its own"
            )
        store_member = SQLITE_MEMBER if dialect == "sqlite" else PG_MEMBER
        for needed in (store_member, SITE_MEMBER):
            if needed not in expected:
                raise BackupError(f"the backup has no {needed}")
        targets = [_Target(work / SITE_MEMBER, site_file, 0o640, keep_mode=True)]
        if credentials is not None and CREDENTIALS_MEMBER in expected:
            targets.insert(0, _Target(work / CREDENTIALS_MEMBER, credentials, 0o600))
        if dialect == "sqlite":
            path = db.sqlite_path(url)
            if path is None:
                raise BackupError("cannot restore into an in-memory store")
            checked = work / "checked.sqlite"
            targets.insert(0, _Target(checked, path, 0o600, companions=("-wal", "-shm")))
        elif not force:
            raise BackupError("restoring PostgreSQL replaces its tables: add --force")
        existing = [p for t in targets for p in t.present()]
        if existing and not force:
            raise BackupError(f"{existing[0]} exists: stop the daemon and restore with --force")
        counts: dict[str, int] | None = None
        if dialect == "sqlite":  # check it here: migrate, count, fold in the WAL
            counts = _counts(f"sqlite:///{work / SQLITE_MEMBER}")
            _sqlite_copy(work / SQLITE_MEMBER, checked)
        swap = _Swap(targets, stamp)
        swap.run()
        if counts is None:  # PostgreSQL: in one transaction, after the files
            try:
                _pg_command(
                    url, "pg_restore", "--clean", "--if-exists", "--no-owner",
                    "--single-transaction", str(work / PG_MEMBER),
                )  # fmt: skip
            except BackupError as exc:
                state = "the files were put back" if swap.rollback() else "see the log"
                raise BackupError(f"{exc}; nothing was restored, {state}") from None
            counts = _counts(db_url)
    return RestoreReport(
        archive=archive,
        site=manifest["site"],
        created_at=manifest["created_at"],
        schema_revision=revision,
        counts=counts,
        set_aside=swap.set_aside,
    )


def _known_revisions() -> set[str]:
    return set(db.migrations())


def _counts(db_url: str) -> dict[str, int]:
    """Open (and migrate) a restored store; rows per table that people care about."""
    import asyncio

    import sqlalchemy as sa

    from controller.store import schema as t

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
