"""`tryggbo broker check` on real Mosquitto brokers: the shipped ACL passes, a
permissive one is caught, a stopped broker fails; and the TLS listener that
`provision broker-config` writes carries a device."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from config.credentials import ensure_credentials, load_credentials, write_private
from config.site import load_site
from controller.ops.brokers import free_port
from devices.clock import SystemClock
from devices.firmware import make_device
from devices.mqtt import BrokerAddress

from .conftest import SMALL_SITE, SmallSite, run_cli


async def test_the_shipped_acl_passes_the_check(small_site: SmallSite) -> None:
    result = await run_cli(
        "broker", "check", "--broker", small_site.broker.address.url,
        "--credentials", str(small_site.credentials_file), "--json",
    )  # fmt: skip
    assert result.code == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    checks = {c["check"]: c for c in report["checks"]}
    assert all(c["ok"] for c in checks.values()), checks
    assert checks["anonymous refused"]["ok"]
    assert checks["wrong password refused"]["ok"]
    assert checks["round trip"]["rtt_ms"] > 0
    assert any(name.startswith("ACL holds") for name in checks)


def _site(tmp_path: Path) -> Path:
    site_file = tmp_path / "site.toml"
    site_file.write_text(SMALL_SITE, encoding="utf-8")
    creds_file = tmp_path / "credentials.json"
    ensure_credentials(load_site(site_file), creds_file)
    return creds_file


async def _broker_config(creds_file: Path, out: Path, *extra: str) -> None:
    run_as = ["--run-as", "root"] if os.geteuid() == 0 else []
    made = await run_cli(
        "provision", "broker-config", "--credentials", str(creds_file), "--out", str(out),
        *run_as, *extra,
    )  # fmt: skip
    assert made.code == 0, made.stderr


async def test_a_permissive_acl_and_a_stopped_broker_fail_the_check(
    tmp_path: Path, launch_broker: Callable[[Path, int], bool]
) -> None:
    creds_file = _site(tmp_path)
    port = free_port()
    out = tmp_path / "broker"
    await _broker_config(creds_file, out, "--port", str(port))
    write_private(out / "acl", "pattern readwrite #\n")  # every user may do anything
    assert await asyncio.to_thread(launch_broker, out / "mosquitto.conf", port)
    args = ("broker", "check", "--broker", f"mqtt://127.0.0.1:{port}")
    result = await run_cli(*args, "--credentials", str(creds_file), "--json")
    assert result.code == 1
    checks = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
    acl = next(c for name, c in checks.items() if name.startswith("ACL holds"))
    assert not acl["ok"]
    assert "controller/availability" in acl["detail"]

    down = await run_cli(
        "broker", "check", "--broker", f"mqtt://127.0.0.1:{free_port()}",
        "--credentials", str(creds_file),
    )  # fmt: skip
    assert down.code == 1
    assert "FAIL" in down.stdout


async def test_tls_listener_from_broker_config_carries_a_device(
    tmp_path: Path, launch_broker: Callable[[Path, int], bool]
) -> None:
    creds_file = _site(tmp_path)
    cert, key = tmp_path / "broker.pem", tmp_path / "broker.key"
    await asyncio.to_thread(
        subprocess.run,
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    port, tls_port = free_port(), free_port()
    out = tmp_path / "broker"
    await _broker_config(
        creds_file, out, "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key),
        "--tls-port", str(tls_port), "--tls-host", "127.0.0.1",
    )  # fmt: skip
    assert f"listener {tls_port} 127.0.0.1" in (out / "mosquitto.conf").read_text()
    assert await asyncio.to_thread(launch_broker, out / "mosquitto.conf", tls_port)
    address = BrokerAddress.parse(f"mqtts://localhost:{tls_port}?ca={cert}")
    creds = load_credentials(creds_file)
    device = make_device(
        "curtain", creds.site, "a101-curtain", address, creds.device("a101-curtain"),
        clock=SystemClock(),
    )  # fmt: skip
    task = asyncio.create_task(device.run())
    try:
        await device.wait_online(10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    checked = await run_cli(
        "broker", "check", "--broker", address.url, "--credentials", str(creds_file)
    )
    assert checked.code == 0, checked.stdout + checked.stderr
