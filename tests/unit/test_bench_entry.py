"""`python -m bench` must at least start: a refactor once removed a helper it imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_command_starts_and_lists_its_benchmarks() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for name in ("restart", "round_trip", "ingest", "fire", "scheduler", "dashboard", "calls"):
        assert name in done.stdout
