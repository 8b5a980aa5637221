"""Group commit of audit lines: each caller's line is committed when its append
returns, concurrent appends share transactions, failures reach every caller, and a
kept line (a command's outcome) is retried until it is written."""

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


async def test_a_kept_line_is_committed_when_its_append_returns(tmp_path: Path) -> None:
    async with SqlStore(f"sqlite:///{tmp_path / 'a.sqlite'}") as store:
        await store.append_audit(issued("c1"))
        await store.append_audit_kept(resolved("c1"))
        assert await store.unresolved_commands() == []
        assert store.audit_unwritten is None


class FlakyWriter:
    """A writer that fails while ``broken``; every attempt's rows go to ``attempts``."""

    def __init__(self) -> None:
        self.broken = True
        self.attempts: asyncio.Queue[list[Any]] = asyncio.Queue()

    async def __call__(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        await self.attempts.put([r["n"] for r in rows])
        if self.broken:
            raise StoreError("database restarting")
        return list(range(len(rows)))

    async def attempt(self) -> list[Any]:
        return await asyncio.wait_for(self.attempts.get(), timeout=5)


async def test_a_kept_line_is_retried_until_written_and_failing_says_so() -> None:
    writer = FlakyWriter()
    commits = GroupCommit(writer, "audit line")
    kept = asyncio.create_task(commits.submit_kept({"n": "resolved 1"}))
    assert await writer.attempt() == ["resolved 1"]
    assert commits.failing == "audit lines not written yet (1), retried: database restarting"
    # a line that must precede its action fails at once; the kept one rides along
    with pytest.raises(StoreError):
        await commits.submit({"n": "issued 2"})
    assert await writer.attempt() == ["resolved 1", "issued 2"]
    assert await writer.attempt() == ["resolved 1"]  # retried alone after its backoff
    assert not kept.done()
    writer.broken = False
    assert await asyncio.wait_for(kept, timeout=5) == 0
    assert commits.failing is None


async def test_a_kept_line_outlives_its_cancelled_caller() -> None:
    writer = FlakyWriter()
    commits = GroupCommit(writer, "audit line")
    kept = asyncio.create_task(commits.submit_kept({"n": "resolved 1"}))
    assert await writer.attempt() == ["resolved 1"]
    kept.cancel()
    writer.broken = False
    assert await commits.submit({"n": "issued 2"}) == 1
    assert await writer.attempt() == ["resolved 1", "issued 2"]
    assert commits.failing is None


async def test_closing_fails_kept_lines_that_still_cannot_be_written(
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = FlakyWriter()
    commits = GroupCommit(writer, "audit line")
    kept = asyncio.create_task(commits.submit_kept({"n": "resolved 1"}))
    assert await writer.attempt() == ["resolved 1"]
    await commits.close()
    assert await writer.attempt() == ["resolved 1"]  # one more try on closing
    with pytest.raises(StoreError):
        await kept
    assert "1 audit lines never written: database restarting" in caplog.text
