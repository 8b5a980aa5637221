"""The daemon keeps of the devices' secrets only what it uses (issue 18: memory)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.credentials import (
    CredentialsError,
    KeptCredentials,
    check_login_name,
    ensure_credentials,
)
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
    assert isinstance(kept, KeptCredentials)
    assert set(kept.keys) == signed
    assert set(kept.logins) == screens  # the page's firmware runs under the screen's login
    assert all(kept.device(d) == creds.devices[d] for d in screens)
    with pytest.raises(CredentialsError):
        kept.device(next(iter(signed)))  # of a lock only its key
    assert kept.controller == creds.controller
    assert kept.controllers == creds.controllers
    assert (
        kept.controller_login(check_login_name(site.slug))
        == creds.controllers[check_login_name(site.slug)]
    )
    assert len(creds.devices) == len(devices)  # the caller's copy is left whole
    again = Controller(controller.config)  # a config a controller can be made from again
    assert again.commands.keys == controller.commands.keys
    assert again.config.credentials is kept


async def test_a_screens_page_runs_its_firmware_under_the_screens_own_login(
    tmp_path: Path,
) -> None:
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
    screen = next(d.id for _a, d in site.devices() if d.type is DeviceType.SCREEN)
    firmware = controller.screens.attach(screen, lambda _message: None)
    try:
        login = creds.devices[screen]
        assert firmware.link.client_id == f"{site.slug}-{screen}"
        assert (firmware.link._username, firmware.link._password) == (
            login.username,
            login.password,
        )
        assert firmware._key == login.key
    finally:
        await controller.screens.stop_all()
