"""Daemon settings from CLI flags, environment (``TRYGGBO_*``) and an optional TOML
file (``TRYGGBO_CONFIG_FILE``), in that order of precedence (pydantic-settings).

The daemon refuses to start on an invalid setting, with a message naming it.
docs/settings.md is generated from this model (``tryggbo settings-doc``).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from devices.mqtt import BrokerAddress, BrokerList, BrokerUrlError


class SettingsError(ValueError):
    """An invalid setting; the message names it."""


class Settings(BaseSettings):
    """Everything ``tryggbo serve`` needs."""

    model_config = SettingsConfigDict(env_prefix="TRYGGBO_", extra="forbid")

    broker: str = Field(
        default="mqtt://127.0.0.1:1883",
        description=(
            "MQTT broker URL; for a clustered broker the URLs of its nodes, comma-separated "
            "(mqtt://n1:1883,mqtt://n2:1883,mqtt://n3:1883): the controller connects to "
            "one and moves to the next when it is lost"
        ),
    )
    site_file: Path = Field(default=Path("site.toml"), description="the site file (TOML)")
    credentials_file: Path = Field(
        default=Path("var/credentials.json"), description="device secrets (0600 JSON)"
    )
    db: str = Field(
        default="sqlite:///var/tryggbo.sqlite",
        description="store URL: sqlite:///path or postgresql://user@host/db, "
        "?schema=NAME for one home of several in one database",
    )
    http_host: str = Field(default="127.0.0.1", description="HTTP listen address")
    http_port: int = Field(default=8080, ge=0, le=65535, description="HTTP port (0: any)")
    command_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="how long a command waits for its ack"
    )
    stale_factor: float = Field(
        default=2.5, ge=1.5, le=10, description="heartbeats missed before a device is stale"
    )
    session_idle_hours: float = Field(
        default=12, gt=0, le=24 * 30, description="sign a browser out after this long unused"
    )
    log_level: str = Field(
        default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$", description="log level"
    )
    # -- issue 9: operations ------------------------------------------------------------
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="text for a terminal, json: one object per line with request/command ids",
    )
    retention_events_days: int = Field(
        default=90, ge=0, le=36500, description="delete device events older than this (0: keep)"
    )
    retention_audit_days: int = Field(
        default=730,
        ge=0,
        le=36500,
        description="delete command audit and activity lines older than this (0: keep)",
    )
    retention_alarms_days: int = Field(
        default=730, ge=0, le=36500, description="delete closed alarms older than this (0: keep)"
    )
    retention_hour: int = Field(
        default=3, ge=0, le=23, description="site-time hour at which retention runs each night"
    )
    ha_enabled: bool = Field(
        default=False, description="run the Home Assistant MQTT discovery bridge"
    )
    ha_broker: str | None = Field(
        default=None,
        description="Home Assistant's MQTT broker URL, mqtt[s]://user:pass@host:port "
        "(required with ha_enabled)",
    )
    ha_discovery_prefix: str = Field(
        default="homeassistant",
        pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$",
        description="Home Assistant's discovery prefix",
    )
    ha_user: str = Field(
        default="home-assistant",
        min_length=1,
        max_length=64,
        description="the Tryggbo user Home Assistant acts as (its roles and units apply)",
    )
    ha_allow_unlock: bool = Field(
        default=False, description="let Home Assistant unlock doors (locking is always allowed)"
    )
    ha_unlock_reason: str = Field(
        default="resident request",
        min_length=1,
        max_length=200,
        description=(
            "the reason audited with each unlock from Home Assistant: one of the site's "
            "unlock_reasons (optionally with ': <text>') or 'other: <text>'; one the site "
            "does not accept turns unlocking from Home Assistant off"
        ),
    )
    # -- issue 7: scale-out and TLS -----------------------------------------------------
    client_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description=(
            "MQTT client id of this controller instance, the username of its own login "
            "in the credentials (default: the site's controller)"
        ),
    )
    tls_cert: Path | None = Field(
        default=None, description="web server TLS certificate (PEM); with tls_key: HTTPS only"
    )
    tls_key: Path | None = Field(default=None, description="web server TLS key (PEM, 0600)")
    shared_group: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description=(
            "scale-out: MQTT shared-subscription group of the site's controllers, an "
            "optimisation where the broker has $share (Mosquitto); never on NATS, which "
            "refuses it"
        ),
    )
    # -- issue 14: one bad device cannot swamp the controller ---------------------------
    device_rate_per_s: float = Field(
        default=20.0,
        ge=0,
        description=(
            "messages per second a device may send on average (state, meta, events); "
            "0 turns the limit off. Acks, availability and safety events (help, door "
            "forced, jammed, fire unlocked) are never limited"
        ),
    )
    device_burst: float = Field(
        default=100.0, ge=1, description="messages a device may send at once above its rate"
    )
    # -- issue 15: the web server's edges (controller/api/edges.py) ---------------------
    http_header_timeout_s: float = Field(
        default=15.0,
        gt=0,
        le=600,
        description=(
            "a connection must send a whole request head within this many seconds of "
            "opening (or of its last answer, or of the start of a TLS handshake), else it "
            "is closed: idle sockets, slow or half-sent headers"
        ),
    )
    http_body_timeout_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description=(
            "a request body (firmware uploads included) must have arrived whole this many "
            "seconds after its head, else 408 body_timeout and the connection is closed"
        ),
    )
    http_max_sockets_per_address: int = Field(
        default=128,
        ge=1,
        description=(
            "open connections one client address may hold; more are closed at once "
            "(behind a trusted proxy: counted by the forwarded address, 429)"
        ),
    )
    http_max_sockets_per_user: int = Field(
        default=128,
        ge=1,
        description=(
            "open connections one signed-in user (session or token) may hold, WebSockets "
            "included; more get 429 too_many_connections"
        ),
    )
    trusted_proxies: str = Field(
        default="",
        description=(
            "comma-separated addresses or networks (CIDR) of the reverse proxies whose "
            "X-Forwarded-For and X-Forwarded-Proto are believed; empty: none"
        ),
    )
    # -- issue 15: operations edges -----------------------------------------------------
    firmware_dir: Path | None = Field(
        default=None,
        description="where uploaded firmware images are kept (default: firmware/ beside a "
        "SQLite store, else var/firmware)",
    )

    @field_validator("broker")
    @classmethod
    def _broker_urls(cls, value: str) -> str:
        try:
            BrokerList.parse(value)
        except BrokerUrlError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("ha_broker")
    @classmethod
    def _ha_broker_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            BrokerAddress.parse(value)
        except BrokerUrlError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        try:
            proxy_networks(value)
        except ValueError as exc:
            raise ValueError(f"not an address or network: {exc}") from None
        return value

    @model_validator(mode="after")
    def _ha_needs_a_broker(self) -> Settings:
        if self.ha_enabled and self.ha_broker is None:
            raise ValueError(
                "ha_broker (env TRYGGBO_HA_BROKER) is required when ha_enabled is true: "
                "Home Assistant's own broker, never the site's"
            )
        return self

    @property
    def brokers(self) -> BrokerList:
        """The broker, or the nodes of a clustered one, in the order tried."""
        return BrokerList.parse(self.broker)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags, then ``TRYGGBO_*`` variables, then the TOML file ``TRYGGBO_CONFIG_FILE``."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


def proxy_networks(value: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """The networks of a ``trusted_proxies`` value (``"10.0.0.1, 10.1.0.0/16"``)."""
    return tuple(ip_network(part.strip()) for part in value.split(",") if part.strip())


#: Names a TOML file of settings (keys as in docs/settings.md, without the prefix).
CONFIG_FILE_ENV = "TRYGGBO_CONFIG_FILE"
#: ``TRYGGBO_*`` variables that are not settings: the settings file, and what the API
#: client commands read (controller/cli/client.py, controller/cli/schedules.py).
OTHER_VARIABLES = frozenset(
    {CONFIG_FILE_ENV, "TRYGGBO_API", "TRYGGBO_URL", "TRYGGBO_TOKEN", "TRYGGBO_CLI_CONFIG"}
)


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A warning for each ``TRYGGBO_*`` variable that nothing reads (a misspelt setting
    is otherwise silently ignored), naming the closest known one."""
    known = {f"TRYGGBO_{name.upper()}" for name in Settings.model_fields} | OTHER_VARIABLES
    warnings = []
    for name in sorted(environ):
        if name.upper().startswith("TRYGGBO_") and name not in known:
            close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            warnings.append(f"unknown setting {name} is ignored{hint} (docs/settings.md)")
    return warnings


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment with CLI ``overrides`` (None values are skipped)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    config_file = os.environ.get(CONFIG_FILE_ENV)
    if config_file and not Path(config_file).is_file():
        raise SettingsError(f"invalid configuration: {CONFIG_FILE_ENV}={config_file}: no such file")
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValueError as exc:
        if not isinstance(exc, ValidationError):  # the TOML file does not parse
            raise SettingsError(f"invalid configuration: {config_file}: {exc}") from None
        raise _named(exc) from None


def _named(exc: ValidationError) -> SettingsError:
    """One line per invalid setting, naming it and its environment variable."""
    problems = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"])
        problems.append(f"setting {name} (env TRYGGBO_{name.upper()}): {err['msg']}")
    return SettingsError("invalid configuration:\n" + "\n".join(problems))
