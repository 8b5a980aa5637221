"""The shipped systemd units verify with systemd-analyze, and the daemon's unit runs
as its own user with the hardening the operations doc promises."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = ("tryggbo.service", "tryggbo-backup.service", "tryggbo-backup.timer")


def _unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / name)
    return parser


def test_daemon_unit_runs_as_its_own_user_hardened() -> None:
    service = _unit("tryggbo.service")["Service"]
    assert service["User"] == "tryggbo"
    assert service["ExecStart"].endswith("tryggbo serve")
    assert service["EnvironmentFile"] == "/etc/tryggbo/tryggbo.env"
    assert service["RestartPreventExitStatus"] == "2"  # invalid config: no restart loop
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ReadWritePaths": "/var/lib/tryggbo",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
        "UMask": "0077",
    }.items():
        assert service[key] == value, key


def test_example_env_file_names_only_real_settings() -> None:
    from config.settings import Settings

    names = set()
    for line in (DEPLOY / "tryggbo.env.example").read_text().splitlines():
        line = line.lstrip("# ").strip()
        if line.startswith("TRYGGBO_") and "=" in line:
            names.add(line.split("=", 1)[0].removeprefix("TRYGGBO_").lower())
    assert names
    assert names <= set(Settings.model_fields), names - set(Settings.model_fields)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_units_verify(tmp_path: Path) -> None:
    for name in UNITS:  # point ExecStart at an executable that exists here
        text = (DEPLOY / name).read_text().replace("/opt/tryggbo/venv/bin/tryggbo", sys.executable)
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / n) for n in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "tryggbo" not in done.stderr, done.stderr
