"""Per-device MQTT credentials and lock signing keys, kept in one 0600 JSON file.

Secrets are made here (``secrets`` module), never committed, never sent over MQTT.
The controller reads the HMAC keys; the simulated firmware reads its own entry.

The broker binds each connection's client id to its login (Mosquitto's
``use_username_as_clientid``), so no login can take another client's session. Hence
one login per connection: each controller instance of a site (scale-out) has its own
login (:attr:`SiteCredentials.controllers`, client id = username), and so does
``tryggbo broker check`` (:func:`check_login_name`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .site import Site

CONTROLLER_USER_PREFIX = "controller-"
FIRE_PANEL_USER_PREFIX = "firepanel-"
#: a controller instance's login name (and so its client id)
INSTANCE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_login_name(site: str) -> str:
    """The login ``tryggbo broker check`` connects with, beside the running controller."""
    return f"check-{site}"


class CredentialsError(ValueError):
    """The credentials file is missing, unreadable or invalid."""


class MqttLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=16, max_length=256)


class DeviceCredentials(MqttLogin):
    #: HMAC-SHA256 key for signed commands, hex (32 random bytes).
    hmac_key: str = Field(pattern=r"^[0-9a-f]{64}$")

    @property
    def key(self) -> bytes:
        return bytes.fromhex(self.hmac_key)


class SiteCredentials(BaseModel):
    """All MQTT logins of one site: the controller's, the fire panel's, each device's."""

    model_config = ConfigDict(extra="forbid")

    site: str
    controller: MqttLogin
    fire_panel: MqttLogin
    devices: dict[str, DeviceCredentials] = Field(default_factory=dict)
    #: more logins with the controller's rights, by username (= client id): further
    #: controller instances of the site, and the broker check's
    controllers: dict[str, MqttLogin] = Field(default_factory=dict)

    def device(self, device_id: str) -> DeviceCredentials:
        try:
            return self.devices[device_id]
        except KeyError:
            raise CredentialsError(f"no credentials for device {device_id!r}") from None

    def controller_login(self, client_id: str | None = None) -> MqttLogin:
        """The login of the controller instance ``client_id`` (None: the site's
        controller). The broker makes the client id the login's username."""
        return _controller_login(self.controller, self.controllers, client_id)

    def kept(self, signed: Iterable[str], logins: Iterable[str]) -> KeptCredentials:
        """What a daemon keeps of these credentials: the controller logins, the
        ``signed`` devices' keys and the ``logins`` devices' whole credentials
        (those without an entry are left out)."""
        keys = {d: self.devices[d].key for d in signed if d in self.devices}
        packed = {d: _pack(d, self.devices[d]) for d in logins if d in self.devices}
        return KeptCredentials(self.site, self.controller, dict(self.controllers), keys, packed)

    def controller_logins(self) -> list[MqttLogin]:
        """Every login with the controller's rights."""
        return [self.controller, *self.controllers.values()]


def _controller_login(
    controller: MqttLogin, controllers: Mapping[str, MqttLogin], client_id: str | None
) -> MqttLogin:
    if client_id is None or client_id == controller.username:
        return controller
    try:
        return controllers[client_id]
    except KeyError:
        raise CredentialsError(
            f"no MQTT login for controller instance {client_id!r}: the broker binds "
            f"client ids to logins; add it with `tryggbo credentials --controller "
            f"{client_id}`, then write the broker's passwd and acl again "
            f"(`tryggbo provision broker-config`) and reload Mosquitto"
        ) from None


#: a device's credentials packed: its username (None: the device id), password, key
_Packed = tuple[str | None, str, bytes]


def _pack(device_id: str, creds: DeviceCredentials) -> _Packed:
    username = None if creds.username == device_id else creds.username
    return (username, creds.password, creds.key)


@dataclass(frozen=True, slots=True)
class KeptCredentials:
    """What the daemon keeps of a site's credentials (:meth:`SiteCredentials.kept`),
    compactly: a :class:`DeviceCredentials` model with its three strings is ~570
    bytes a device; a signing key as bytes ~100, a packed login ~200 (issue 18)."""

    site: str
    controller: MqttLogin
    #: further logins with the controller's rights, by username (= client id)
    controllers: dict[str, MqttLogin]
    #: device -> HMAC key, of the devices whose commands are signed
    keys: dict[str, bytes]
    #: device -> its packed login, of the devices whose firmware the daemon may run
    logins: dict[str, _Packed]

    def controller_login(self, client_id: str | None = None) -> MqttLogin:
        """As :meth:`SiteCredentials.controller_login`."""
        return _controller_login(self.controller, self.controllers, client_id)

    def device(self, device_id: str) -> DeviceCredentials:
        """A kept device login, as :meth:`SiteCredentials.device` gives it."""
        try:
            username, password, key = self.logins[device_id]
        except KeyError:
            raise CredentialsError(f"no credentials for device {device_id!r}") from None
        return DeviceCredentials(
            username=username or device_id, password=password, hmac_key=key.hex()
        )


def _password() -> str:
    return secrets.token_urlsafe(24)


def new_device_credentials(device_id: str) -> DeviceCredentials:
    """Fresh random login and signing key for one device (username = device id)."""
    return DeviceCredentials(
        username=device_id, password=_password(), hmac_key=secrets.token_hex(32)
    )


def ensure_credentials(site: Site, path: Path, controllers: Iterable[str] = ()) -> SiteCredentials:
    """Load ``path`` and add credentials for any device of ``site`` that lacks them,
    the broker check's login, and a login per controller instance named in
    ``controllers`` (its client id).

    Creates the file (mode 0600) when it does not exist. Existing secrets are kept.
    """
    if path.exists():
        creds = load_credentials(path)
        if creds.site != site.slug:
            raise CredentialsError(f"{path} belongs to site {creds.site!r}, not {site.slug!r}")
    else:
        creds = SiteCredentials(
            site=site.slug,
            controller=MqttLogin(
                username=f"{CONTROLLER_USER_PREFIX}{site.slug}", password=_password()
            ),
            fire_panel=MqttLogin(
                username=f"{FIRE_PANEL_USER_PREFIX}{site.slug}", password=_password()
            ),
        )
    changed = not path.exists()
    for _apt, dev in site.devices():
        if dev.id not in creds.devices:
            creds.devices[dev.id] = new_device_credentials(dev.id)
            changed = True
    taken = {creds.controller.username, creds.fire_panel.username, *creds.devices}
    for name in (check_login_name(site.slug), *controllers):
        if name in creds.controllers or name == creds.controller.username:
            continue
        if not INSTANCE_NAME.fullmatch(name) or name in taken:
            raise CredentialsError(
                f"controller instance {name!r}: 1-64 of A-Z a-z 0-9 _ . - and not "
                "the name of another login (device, fire panel)"
            )
        creds.controllers[name] = MqttLogin(username=name, password=_password())
        changed = True
    if changed:
        save_credentials(creds, path)
    return creds


def load_credentials(path: Path) -> SiteCredentials:
    try:
        return SiteCredentials.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise CredentialsError(f"credentials file {path} does not exist") from None
    except OSError as exc:
        raise CredentialsError(f"credentials file {path} cannot be read: {exc}") from None
    except ValidationError as exc:
        raise CredentialsError(f"credentials file {path} is invalid: {exc}") from None


def write_private(path: Path, data: str | bytes) -> None:
    """Write a secret file atomically with mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


def save_credentials(creds: SiteCredentials, path: Path) -> None:
    write_private(path, json.dumps(creds.model_dump(), indent=2) + "\n")
