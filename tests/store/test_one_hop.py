"""Audit lines on a SQLite file go through the one-hop writer: committed whole or not
at all, visible to the store's other connections, failures as StoreError."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from controller.store import AuditKind, AuditRecord, SqlStore, StoreError
from controller.store import schema as t
from controller.store.engine import parse_url
from controller.store.one_hop import OneHopWriter

TS = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def _line(n: int) -> AuditRecord:
    return AuditRecord(
        ts=TS, kind=AuditKind.ISSUED, command_id=f"cmd-{n:04d}", device="a101-lock",
        action="unlock", actor="anna", args={}, reason="visit",
    )  # fmt: skip


async def test_lines_are_read_back_by_the_store_in_order(tmp_path: Path) -> None:
    async with SqlStore(f"sqlite:///{tmp_path / 's.sqlite'}") as store:
        ids = [await store.append_audit(_line(n)) for n in range(3)]
        assert ids == sorted(ids)
        lines = await store.audit(limit=10)
        assert [x.command_id for x in lines] == ["cmd-0002", "cmd-0001", "cmd-0000"]


async def test_a_failing_transaction_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    async with SqlStore(f"sqlite:///{path}") as store:
        writer = OneHopWriter(parse_url(f"sqlite:///{path}"))

        def insert_then_fail(conn: sa.Connection) -> None:
            conn.execute(t.audit.insert(), {**_row(), "command_id": "half-done"})
            raise RuntimeError("stop here")

        try:
            with pytest.raises(RuntimeError):
                await writer.run(insert_then_fail)
        finally:
            writer.close()
        assert await store.audit(command_id="half-done") == []


async def test_a_refused_insert_is_a_store_error_and_keeps_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    async with SqlStore(f"sqlite:///{path}") as store:
        await store.append_audit(_line(0))
        with sqlite3.connect(path) as other:  # the database refuses every new line
            other.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON audit "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        with pytest.raises(StoreError, match="disk full"):
            await store.append_audit(_line(1))
        assert [x.command_id for x in await store.audit(limit=10)] == ["cmd-0000"]


def _row() -> dict[str, object]:
    line = _line(9)
    return {
        "ts": line.ts, "kind": line.kind.value, "command_id": line.command_id,
        "device": line.device, "action": line.action, "actor": line.actor,
        "args": line.args, "reason": line.reason,
    }  # fmt: skip
