"""A real PostgreSQL for the store tests: ``TRYGGBO_TEST_PG_URL`` if given, else one the
suite starts itself (initdb + pg_ctl from /usr/lib/postgresql/*/bin) in a temporary
directory on a free loopback port, as the ``postgres`` user when the suite runs as root
(PostgreSQL refuses to run as root). Stopped when the session ends.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from controller.ops.brokers import free_port
from controller.store.engine import parse_url

ENV_URL = "TRYGGBO_TEST_PG_URL"


def find_pg_bin() -> Path | None:
    """The newest installed PostgreSQL's bin directory with initdb and pg_ctl."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4])
    )
    return Path(found[-1]).parent if found else None


class LocalPostgres:
    """A throwaway PostgreSQL cluster (trust auth, loopback only, fsync off). Commits
    survive :meth:`halt` only if ``durable`` (synchronous_commit on, as in production;
    off, the last ~0.6 s of commits are lost in a crash)."""

    def __init__(self, bin_dir: Path, *, durable: bool = False) -> None:
        self.bin_dir = bin_dir
        self.durable = durable
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="tryggbo-pg-"))
        self.data = self.root / "data"
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            user=self.user,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}\n{result.stderr}")

    def start(self) -> None:
        """Create the cluster and start the server."""
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.resume()

    def halt(self) -> None:
        """Stop the server as a crash would (immediate: no shutdown checkpoint); the
        cluster stays for :meth:`resume`."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def resume(self) -> None:
        """Start the server on the cluster (after :meth:`start` and :meth:`halt`)."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            f"-c fsync=off -c synchronous_commit={'on' if self.durable else 'off'} "
            "-c full_page_writes=off"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w",
            "start",
        )  # fmt: skip

    def stop(self) -> None:
        """Halt the server and remove the cluster."""
        try:
            self.halt()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def pg_server() -> Iterator[str | None]:
    """The URL of a PostgreSQL to test against, or None (no server and none installed)."""
    given = os.environ.get(ENV_URL)
    if given:
        yield given
        return
    bin_dir = find_pg_bin()
    if bin_dir is None:
        yield None
        return
    server = LocalPostgres(bin_dir)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@asynccontextmanager
async def scratch_pg_database(url: str) -> AsyncIterator[str]:
    """A new empty PostgreSQL database on the server of ``url``, dropped afterwards."""
    name = f"tryggbo_test_{uuid.uuid4().hex[:12]}"
    # a connection per statement: the server may have been restarted in between
    admin = create_async_engine(parse_url(url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield parse_url(url).set(database=name).render_as_string(hide_password=False)
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()
