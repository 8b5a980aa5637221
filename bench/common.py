"""What the benchmarks share: a broker for the example site, and percentiles."""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from config.credentials import SiteCredentials, ensure_credentials
from config.site import EXAMPLE_SITE, Site, load_site
from controller.ops.brokers import MosquittoProcess

from .fleet import BENCH_LOGINS


@dataclass
class BenchBroker:
    site: Site
    credentials: SiteCredentials
    data_dir: Path
    process: MosquittoProcess


def start_broker() -> BenchBroker:
    """A private Mosquitto for the example site (the video-call benchmark)."""
    data = Path(tempfile.mkdtemp(prefix="tryggbo-bench-"))
    site = load_site(EXAMPLE_SITE)
    creds = ensure_credentials(site, data / "credentials.json", controllers=BENCH_LOGINS)
    proc = MosquittoProcess(creds, data / "broker")
    proc.start()
    return BenchBroker(site, creds, data, proc)


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
        "max": round(max(values), 3),
        "mean": round(statistics.fmean(values), 3),
    }
