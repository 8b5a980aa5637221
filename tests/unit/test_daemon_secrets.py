"""The daemon keeps of the devices' secrets only what it uses (issue 18: memory)."""

from __future__ import annotations

from pathlib import Path

from config.credentials import ensure_credentials
from config.site import EXAMPLE_SITE, load_site
from controller.daemon import Controller, ControllerConfig
from devices.contract import DeviceType, spec_for
from devices.mqtt import BrokerAddress


def test_the_daemon_keeps_the_signed_types_and_the_screens_secrets_only(tmp_path: Path) -> None:
    site = load_site(EXAMPLE_SITE)
    creds = ensure_credentials(site, tmp_path / "credentials.json")
    controller = Controller(
        ControllerConfig(
            broker=BrokerAddress.parse("mqtt://127.0.0.1:1"),
            site=site,
            credentials=creds,
            db_url="sqlite:///:memory:",
        )
    )
    devices = [dev for _apt, dev in site.devices()]
    signed = {d.id for d in devices if spec_for(d.type).signed}
    screens = {d.id for d in devices if d.type is DeviceType.SCREEN}
    assert signed
    assert screens
    assert set(controller.commands.keys) == signed
    assert all(controller.commands.keys[d] == creds.devices[d].key for d in signed)
    kept = controller.config.credentials
    assert kept is not None
    assert set(kept.devices) == signed | screens
    assert len(kept.devices) < len(devices)
    assert kept.controller == creds.controller
    assert kept.controllers == creds.controllers
    assert len(creds.devices) == len(devices)  # the caller's copy is left whole
    again = Controller(controller.config)  # a config a controller can be made from again
    assert again.commands.keys == controller.commands.keys
