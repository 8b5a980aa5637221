"""The shipped systemd units verify with systemd-analyze, and the daemon's unit runs
as its own user with the hardening the operations doc promises."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from controller.ops.brokers import free_ports

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


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (Debian package systemd): cannot score the units",
)
@pytest.mark.parametrize("name", ["tryggbo.service", "tryggbo-backup.service"])
def test_each_service_scores_ok_in_systemds_security_analysis(name: str) -> None:
    """The backup reads every resident's data: as hardened as the daemon (both were
    1.4 "OK"; the backup unit scored 7.9 "EXPOSED" before)."""
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(DEPLOY / name)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "--offline" in done.stderr:  # systemd older than 250
        pytest.skip(f"this systemd-analyze cannot score unit files offline: {done.stderr}")
    found = re.search(rf"Overall exposure level for {re.escape(name)}: ([\d.]+) (\w+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found[1]) <= 2.0, done.stdout


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


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl")
async def test_mosquitto_snippet_with_provisioned_files_serves_the_controller_and_tls(
    tmp_path: Path,
) -> None:
    """deploy/mosquitto/tryggbo.conf on a real Mosquitto, with the passwd and ACL the
    provisioning writes (`tryggbo provision broker-config` renders the same two files)
    and a throwaway CA: the controller's login connects on the loopback listener, a
    device's login over TLS, a wrong password is refused."""
    import asyncio
    import ssl

    import aiomqtt

    from config.credentials import ensure_credentials, write_private
    from config.mosquitto import render_acl, render_passwd
    from config.site import EXAMPLE_SITE, load_site
    from controller.ops.brokers import find_mosquitto, wait_listening
    from devices.contract import Channel, SiteTopics

    binary = find_mosquitto()
    assert binary, "mosquitto is not installed"
    creds = ensure_credentials(load_site(EXAMPLE_SITE), tmp_path / "credentials.json")
    files = tmp_path / "etc"
    write_private(files / "passwd", render_passwd(creds))
    write_private(files / "acl", render_acl(creds))
    certs = tmp_path / "certs"
    certs.mkdir()

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test ca",
            "-keyout", str(certs / "ca.key"), "-out", str(certs / "ca.crt"))  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", str(certs / "b.key"), "-out", str(certs / "b.csr"))  # fmt: skip
    (certs / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", str(certs / "b.csr"), "-CA", str(certs / "ca.crt"),
            "-CAkey", str(certs / "ca.key"), "-CAcreateserial", "-days", "1",
            "-extfile", str(certs / "ext"), "-out", str(certs / "b.crt"))  # fmt: skip

    plain, tls = free_ports(2)
    conf = (DEPLOY / "mosquitto" / "tryggbo.conf").read_text()
    for old, new in (
        ("/etc/mosquitto/tryggbo/", f"{files}/"),
        ("/etc/mosquitto/certs/tryggbo-broker.crt", str(certs / "b.crt")),
        ("/etc/mosquitto/certs/tryggbo-broker.key", str(certs / "b.key")),
        ("/etc/mosquitto/certs/tryggbo-ca.crt", str(certs / "ca.crt")),
        ("listener 1883 127.0.0.1", f"listener {plain} 127.0.0.1"),
        ("listener 8883", f"listener {tls} 127.0.0.1"),
    ):
        assert old in conf, old
        conf = conf.replace(old, new)
    if os.geteuid() == 0:  # keep our uid so the broker can read the 0600 files
        conf += "user root\n"
    (tmp_path / "mosquitto.conf").write_text(conf)
    proc = subprocess.Popen(  # noqa: ASYNC220 (starting it does not block)
        [binary, "-c", str(tmp_path / "mosquitto.conf")], stderr=subprocess.PIPE, text=True
    )
    try:
        up = await asyncio.to_thread(wait_listening, "127.0.0.1", tls, 10.0)
        assert up, proc.stderr.read() if proc.poll() is not None and proc.stderr else "no TLS"
        controller = creds.controller
        async with aiomqtt.Client(
            "127.0.0.1", plain, username=controller.username, password=controller.password
        ) as client:
            await client.publish(SiteTopics(creds.site).controller_availability, b"online")
        device_id, device = next(iter(creds.devices.items()))
        context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        async with aiomqtt.Client(
            "localhost", tls, username=device.username, password=device.password,
            tls_context=context,
        ) as client:  # fmt: skip
            await client.subscribe(SiteTopics(creds.site).device(device_id, Channel.CMD))
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client(
                "127.0.0.1", plain, username=controller.username, password="wrong"
            ):
                pass
    finally:
        proc.terminate()
        proc.wait(5)
