"""Group commit of audit lines: each caller's line is committed when its append
returns, concurrent appends share transactions, failures reach every caller, and a
line queued without waiting is seen by the next read."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from controller.store import SqlStore, StoreError
from controller.store.group_commit import GroupCommit

from .test_sql_store import issued, resolved


async def test_concurrent_appends_share_transactions_and_get_their_own_ids(
    tmp_path: Path,
) -> None:
    async with SqlStore(f"sqlite:///{tmp_path / 'a.sqlite'}") as store:
        batches: list[int] = []
        insert = store._insert_audit

        async def counting(rows: Sequence[dict[str, Any]]) -> list[int]:
            batches.append(len(rows))
            return await insert(rows)

        store._audit_commits._write = counting
        ids = await asyncio.gather(*(store.append_audit(issued(f"c{i}")) for i in range(200)))
        assert len(set(ids)) == 200
        assert sum(batches) == 200
        assert len(batches) < 200  # shared transactions
        lines = {a.command_id: a.id for a in await store.audit(limit=500)}
        assert all(lines[f"c{i}"] == ids[i] for i in range(200))


async def test_a_line_is_committed_when_its_append_returns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.sqlite'}"
    async with SqlStore(url) as daemon, SqlStore(url) as other:
        await daemon.append_audit(issued("c1"))
        # another connection (another process, a crash recovery) sees it at once
        assert [a.command_id for a in await other.unresolved_commands()] == ["c1"]


async def test_a_failed_commit_fails_every_waiting_caller() -> None:
    async def broken(rows: Sequence[dict[str, Any]]) -> list[int]:
        await asyncio.sleep(0)
        raise StoreError("disk full")

    commits = GroupCommit(broken, "audit line")
    results = await asyncio.gather(
        *(commits.submit({"n": i}) for i in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, StoreError) for r in results)


async def test_a_line_queued_without_waiting_is_read_back(tmp_path: Path) -> None:
    async with SqlStore(f"sqlite:///{tmp_path / 'a.sqlite'}") as store:
        await store.append_audit(issued("c1"))
        store.append_audit_later(resolved("c1"))
        assert [a.kind.value for a in await store.audit(command_id="c1")] == [
            "resolved",
            "issued",
        ]
        assert await store.unresolved_commands() == []


async def test_a_failed_later_line_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(rows: Sequence[dict[str, Any]]) -> list[int]:
        raise StoreError("disk full")

    commits = GroupCommit(broken, "audit line")
    commits.submit_later({"n": 1})
    await commits.idle()
    await asyncio.sleep(0)  # the done callback runs on the next loop pass
    assert "audit line not written: disk full" in caplog.text


async def test_a_later_line_rides_with_the_next_waited_for_line() -> None:
    batches: list[list[Any]] = []

    async def write(rows: Sequence[dict[str, Any]]) -> list[int]:
        batches.append([r["n"] for r in rows])
        return list(range(len(rows)))

    commits = GroupCommit(write, "audit line")
    commits.submit_later({"n": "resolved 1"})
    await commits.submit({"n": "issued 2"})
    assert batches == [["resolved 1", "issued 2"]]  # one transaction, not two


async def test_a_later_line_alone_is_written_soon_without_a_read() -> None:
    written = asyncio.Event()

    async def write(rows: Sequence[dict[str, Any]]) -> list[int]:
        written.set()
        return list(range(len(rows)))

    commits = GroupCommit(write, "audit line")
    commits.submit_later({"n": 1})
    await asyncio.wait_for(written.wait(), timeout=5)
