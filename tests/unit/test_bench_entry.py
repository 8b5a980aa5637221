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
    assert "--repeats" in done.stdout


def test_ingest_ratios_pair_the_sides_of_each_round() -> None:
    from bench.ingest import summarize

    samples = [
        {"round": r, "side": side, "msg_s": rate, "cpu_us_per_msg": 1, "broker_cpu_us_per_msg": 1}
        for r, rates in enumerate(((1000, 800, 500), (2000, 1000, 600), (1000, 900, 700)))
        for side, rate in zip(("raw", "nodered", "tryggbo"), rates, strict=True)
    ]
    out = summarize(samples)
    assert out["raw"]["msg_s"]["median"] == 1000
    assert out["tryggbo"]["msg_s"] == {
        "median": 600,
        "min": 500,
        "max": 700,
        "all": [500, 600, 700],
    }
    # each round's own ratio, not the ratio of the medians (0.6)
    assert out["ratios"]["tryggbo/raw"]["all"] == [0.5, 0.3, 0.7]
    assert out["ratios"]["tryggbo/raw"]["median"] == 0.5


def test_dashboard_client_sees_final_states_and_events() -> None:
    from bench.ws_client import Seen

    seen = Seen()
    twin = {"type": "twin", "data": {"id": "a-lock", "state": {"seq": 3}}}
    older = {"type": "twin", "data": {"id": "a-lock", "state": {"seq": 2}}}
    event = {"type": "event", "data": {"device": "a-lock", "type": "booted"}}
    seen.frame({"type": "batch", "data": [twin, event]})
    seen.frame(older)  # an older state replayed: not newer, the sum stays
    stats = seen.stats()
    assert stats["seq_sum"] == 3
    assert stats["booted_events"] == 1
    assert stats["messages"] == 3
