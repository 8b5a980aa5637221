"""Municipal-scale sites for the benchmarks: N apartments, each a lock plus a curtain
or a screen (alternating), so 10,000 devices are 5,000 apartments with 5,000 locks.

``write_fleet`` writes the site file (TOML), the 0600 credentials and a private
Mosquitto for it under one directory; the controller and the swarm processes read
the same files, as in production.
"""

from __future__ import annotations

import json
import resource
import tempfile
from dataclasses import dataclass
from pathlib import Path

from config.credentials import SiteCredentials, ensure_credentials, load_credentials
from config.site import Site, load_site
from controller.ops.brokers import MosquittoProcess

SLUG = "kommun"
#: Logins with the controller's rights for the benchmarks' own connections. The broker
#: makes a connection's client id its login's username (``use_username_as_clientid``),
#: so every connection that must not take another's session needs its own login.
BENCH_LOGINS = (
    "bench-raw",  # ingest: the raw paho counter
    "bench-nodered",  # ingest: the Node-RED-like subscriber
    "bench-tryggbo",  # ingest: the controller process
    "bench-controller",  # restart, memory, round trip: the daemon process
    "bench-ctl-fire",
    "bench-lock-watch",
    "bench-echo",
    "bench-caller",
    "bench-dashboard",
    "bench-calls",
)


def site_toml(apartments: int) -> str:
    """A site file with ``apartments`` apartments (two devices each)."""
    lines = [
        "[site]",
        f'slug = "{SLUG}"',
        'name = "Benchmark municipality"',
        'timezone = "Europe/Stockholm"',
        "",
    ]
    for i in range(apartments):
        other = "curtain" if i % 2 == 0 else "screen"
        lines += [
            "[[apartments]]",
            f'number = "{10000 + i}"',
            f"floor = {i // 100 % 99}",
            f'wing = "W{i // 250}"',
            f'devices = ["lock", "{other}"]',
            "",
        ]
    return "\n".join(lines)


@dataclass
class Fleet:
    directory: Path
    site_file: Path
    creds_file: Path
    site: Site
    credentials: SiteCredentials

    @property
    def devices(self) -> int:
        return sum(1 for _ in self.site.devices())

    def locks(self) -> list[str]:
        return [d.id for _a, d in self.site.devices() if d.type.value == "lock"]


def write_fleet(apartments: int, directory: Path | None = None) -> Fleet:
    """Site file and credentials for ``apartments`` apartments (kept if present)."""
    directory = directory or Path(tempfile.mkdtemp(prefix="tryggbo-fleet-"))
    directory.mkdir(parents=True, exist_ok=True)
    site_file = directory / "site.toml"
    site_file.write_text(site_toml(apartments), encoding="utf-8")
    site = load_site(site_file)
    creds_file = directory / "credentials.json"
    creds = ensure_credentials(site, creds_file, controllers=BENCH_LOGINS)
    return Fleet(directory, site_file, creds_file, site, creds)


def load_fleet(directory: Path) -> Fleet:
    site_file, creds_file = directory / "site.toml", directory / "credentials.json"
    return Fleet(
        directory, site_file, creds_file, load_site(site_file), load_credentials(creds_file)
    )


def raise_fd_limit() -> int:
    """Raise this process's open-file soft limit to its hard limit (children inherit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def start_fleet_broker(fleet: Fleet) -> MosquittoProcess:
    """A private Mosquitto for the fleet (the shipped conf, passwd and ACL)."""
    raise_fd_limit()
    proc = MosquittoProcess(fleet.credentials, fleet.directory / "broker")
    proc.start()
    return proc


def fleet_info(fleet: Fleet) -> str:
    return json.dumps({"devices": fleet.devices, "locks": len(fleet.locks())})
