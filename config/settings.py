"""Daemon settings from environment (``TRYGGBO_*``) and CLI flags (pydantic-settings).

The daemon refuses to start on an invalid setting, with a message naming it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from devices.mqtt import BrokerAddress, BrokerUrlError


class SettingsError(ValueError):
    """An invalid setting; the message names it."""


class Settings(BaseSettings):
    """Everything ``tryggbo serve`` needs."""

    model_config = SettingsConfigDict(env_prefix="TRYGGBO_", extra="forbid")

    broker: str = Field(default="mqtt://127.0.0.1:1883", description="MQTT broker URL")
    site_file: Path = Field(default=Path("site.toml"), description="the site file (TOML)")
    credentials_file: Path = Field(
        default=Path("var/credentials.json"), description="device secrets (0600 JSON)"
    )
    db: str = Field(default="sqlite:///var/tryggbo.sqlite", description="store URL")
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
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    client_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="MQTT client id, one per controller instance (default per site)",
    )
    tls_cert: Path | None = Field(
        default=None, description="web server TLS certificate (PEM); with tls_key: HTTPS only"
    )
    tls_key: Path | None = Field(default=None, description="web server TLS key (PEM, 0600)")
    shared_group: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="scale-out: MQTT shared-subscription group of the site's controllers",
    )

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        try:
            BrokerAddress.parse(value)
        except BrokerUrlError as exc:
            raise ValueError(str(exc)) from None
        return value

    @property
    def broker_address(self) -> BrokerAddress:
        return BrokerAddress.parse(self.broker)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment with CLI ``overrides`` (None values are skipped)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"])
            problems.append(f"setting {name} (env TRYGGBO_{name.upper()}): {err['msg']}")
        raise SettingsError("invalid configuration:\n" + "\n".join(problems)) from None
