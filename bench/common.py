"""What the benchmarks share: a broker handle and percentiles."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from config.credentials import SiteCredentials
from config.site import Site
from controller.brokers import MosquittoProcess


@dataclass
class BenchBroker:
    site: Site
    credentials: SiteCredentials
    data_dir: Path
    process: MosquittoProcess


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 3),
        "p99": round(percentile(values, 99), 3),
        "mean": round(statistics.fmean(values), 3),
    }
