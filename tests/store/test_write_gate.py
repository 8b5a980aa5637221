"""The SQLite write gate: one writer at a time, urgent writers (the command audit)
before queued others, and a cancelled waiter does not keep the gate."""

from __future__ import annotations

import asyncio

import pytest

from controller.store.write_gate import WriteGate


async def test_urgent_writers_go_before_queued_others() -> None:
    gate = WriteGate()
    order: list[str] = []
    release = asyncio.Event()

    async def writer(name: str, urgent: bool, wait: asyncio.Event | None = None) -> None:
        async with gate.hold(urgent=urgent):
            order.append(name)
            if wait is not None:
                await wait.wait()

    first = asyncio.create_task(writer("first", False, release))
    await asyncio.sleep(0)
    others = [asyncio.create_task(writer(f"hold{i}", False)) for i in range(3)]
    audit = asyncio.create_task(writer("audit", True))
    await asyncio.sleep(0)
    assert order == ["first"]  # the others wait
    release.set()
    await asyncio.gather(first, *others, audit)
    assert order == ["first", "audit", "hold0", "hold1", "hold2"]


async def test_a_cancelled_waiter_does_not_keep_the_gate() -> None:
    gate = WriteGate()
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.hold():
            await release.wait()

    async def waiter() -> None:
        async with gate.hold():
            pass

    h = asyncio.create_task(holder())
    await asyncio.sleep(0)
    w = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    w.cancel()
    release.set()
    await h
    with pytest.raises(asyncio.CancelledError):
        await w
    async with asyncio.timeout(1):
        async with gate.hold():
            pass
