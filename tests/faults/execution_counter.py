"""Counts how often each simulated device really executes each command id."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from devices.firmware import SimulatedHome


@contextmanager
def count_executions(home: SimulatedHome) -> Iterator[Counter[str]]:
    """Wrap every device's command execution (after signature, id memory and expiry
    checks decided to run it); yields ``command id -> executions``."""
    counts: Counter[str] = Counter()
    originals = {}
    for device in home.devices.values():
        original = device._execute
        originals[device.device_id] = original

        async def counted(command: Any, _original: Any = original) -> None:
            counts[command.id] += 1
            await _original(command)

        device._execute = counted  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        for device in home.devices.values():
            device._execute = originals[device.device_id]  # type: ignore[method-assign]
