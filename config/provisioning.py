"""Provisioning: add a device to the site file with fresh credentials, rotate a
device's credentials, and write the broker files for the site.

Every change is checked before anything is written: a bad apartment, a taken id or
an invalid result changes nothing. The site file is edited with tomlkit so its
comments and layout stay. Secrets go only to 0600 files (``write_private``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from devices.contract import ContractError, DeviceType, check_device

from .credentials import (
    CredentialsError,
    DeviceCredentials,
    SiteCredentials,
    ensure_credentials,
    load_credentials,
    new_device_credentials,
    save_credentials,
    write_private,
)
from .mosquitto import render_acl, render_passwd
from .site import Site, SiteFileError, load_site, parse_site


class ProvisionError(ValueError):
    """A provisioning request that cannot be done; nothing was changed."""


@dataclass(frozen=True)
class Provisioned:
    device_id: str
    device_type: str
    apartment: str
    credentials: DeviceCredentials


def _site_document(path: Path) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProvisionError(f"site file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, TOMLKitError) as exc:
        raise ProvisionError(f"site file {path} cannot be read: {exc}") from None


def add_device(
    site_file: Path,
    credentials_file: Path,
    *,
    apartment: str,
    device_type: str,
    device_id: str | None = None,
    model: str = "",
) -> Provisioned:
    """Add a device to ``apartment`` in the site file and give it credentials (login,
    random password, HMAC key). Returns what was made."""
    try:
        kind = DeviceType(device_type)
    except ValueError:
        names = ", ".join(t.value for t in DeviceType)
        raise ProvisionError(f"type {device_type!r} is not one of {names}") from None
    try:
        site = load_site(site_file)
    except SiteFileError as exc:
        raise ProvisionError(str(exc)) from None
    apt = next((a for a in site.apartments if a.number == apartment), None)
    if apt is None:
        raise ProvisionError(f"no apartment {apartment!r} in {site_file}; add it there first")
    default_id = f"a{apartment.lower()}-{kind.value}"
    new_id = device_id or default_id
    try:
        check_device(new_id)
    except ContractError as exc:
        raise ProvisionError(str(exc)) from None
    if site.device(new_id) is not None:
        raise ProvisionError(f"device {new_id} already exists in {site_file}")
    doc = _site_document(site_file)
    apartments: Any = doc["apartments"]
    table: Any = next(t for t in apartments if str(t["number"]) == apartment)
    entry: Any = kind.value
    if new_id != default_id or model:
        entry = tomlkit.inline_table()
        entry.update({"id": new_id, "type": kind.value, **({"model": model} if model else {})})
    if "devices" not in table:
        table["devices"] = tomlkit.array()
    table["devices"].append(entry)
    text = tomlkit.dumps(doc)
    try:
        new_site = parse_site(tomlkit.parse(text).unwrap(), str(site_file))
    except SiteFileError as exc:
        raise ProvisionError(str(exc)) from None
    creds = ensure_credentials(new_site, credentials_file)  # credentials first: harmless alone
    site_file.write_text(text, encoding="utf-8")
    return Provisioned(new_id, kind.value, apartment, creds.device(new_id))


def rotate_device(
    credentials_file: Path, device_id: str, *, new_key: bool = True
) -> DeviceCredentials:
    """A new random password (and, unless ``new_key`` is False, a new HMAC key)."""
    creds = load_credentials(credentials_file)
    old = creds.device(device_id)
    fresh = new_device_credentials(device_id)
    creds.devices[device_id] = DeviceCredentials(
        username=old.username,
        password=fresh.password,
        hmac_key=fresh.hmac_key if new_key else old.hmac_key,
    )
    if creds.devices[device_id].password == old.password:  # pragma: no cover - 2**-192
        creds.devices[device_id].password = secrets.token_urlsafe(24)
    save_credentials(creds, credentials_file)
    return creds.devices[device_id]


def write_auth_files(creds: SiteCredentials, directory: Path) -> tuple[Path, Path]:
    """Write ``passwd`` and ``acl`` (0600) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    passwd, acl = directory / "passwd", directory / "acl"
    write_private(passwd, render_passwd(creds))
    write_private(acl, render_acl(creds))
    return passwd, acl


def site_and_credentials(site_file: Path, credentials_file: Path) -> tuple[Site, SiteCredentials]:
    """Both files, checked to belong together."""
    try:
        site = load_site(site_file)
        creds = load_credentials(credentials_file)
    except (SiteFileError, CredentialsError) as exc:
        raise ProvisionError(str(exc)) from None
    if creds.site != site.slug:
        raise ProvisionError(f"{credentials_file} is for site {creds.site!r}, not {site.slug!r}")
    return site, creds
