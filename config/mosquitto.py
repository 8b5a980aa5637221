"""Mosquitto configuration for a site: mosquitto.conf, password file and ACL.

The same renderer serves production (``tryggbo provision broker-config``), the demo
and the test suite, so the ACL that is tested is the ACL that is shipped.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from devices.contract import SiteTopics

from .credentials import SiteCredentials, write_private

_PBKDF2_ITERATIONS = 101  # what mosquitto_passwd 2.0 writes ($7$ = PBKDF2-SHA512)
#: Per listener: a connection's client id is its login's username, whatever it sent,
#: so no login can take another client's session (a screen's login connecting with
#: the controller's client id would have the broker drop the controller).
BIND_CLIENT_IDS = "use_username_as_clientid true"


def password_hash(password: str, salt: bytes | None = None) -> str:
    """A Mosquitto 2 password-file hash (``$7$`` PBKDF2-SHA512), as mosquitto_passwd makes."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PBKDF2_ITERATIONS)
    return (
        f"$7${_PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}"
        f"${base64.b64encode(digest).decode()}"
    )


def render_passwd(creds: SiteCredentials) -> str:
    logins = [*creds.controller_logins(), creds.fire_panel, *creds.devices.values()]
    return "".join(f"{login.username}:{password_hash(login.password)}\n" for login in logins)


def render_acl(creds: SiteCredentials) -> str:
    """Per-user ACL: a device writes only under its own topics and reads its own
    ``cmd``, ``schedule``, the site's fire topic and the controller's availability (for
    its fallback routines); each controller login (every instance, the broker check)
    has the site."""
    topics = SiteTopics(creds.site)
    lines = [f"# Tryggbo ACL for site {creds.site}. Generated; edit the site, not this file."]
    for login in creds.controller_logins():
        lines += ["", f"user {login.username}", f"topic readwrite {topics.root}/#"]
    lines += [
        "",
        f"user {creds.fire_panel.username}",
        f"topic readwrite {topics.fire}",
        "",
    ]
    for device_id in sorted(creds.devices):
        username = creds.devices[device_id].username
        prefix = topics.device_prefix(device_id)
        lines += [f"user {username}"]
        lines += [f"topic write {prefix}{ch}" for ch in ("meta", "availability", "state")]
        lines += [f"topic write {prefix}{ch}" for ch in ("event", "ack")]
        lines += [f"topic read {prefix}{ch}" for ch in ("cmd", "schedule", "confirm")]
        lines += [f"topic read {topics.fire}", f"topic read {topics.controller_availability}", ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class BrokerFiles:
    conf: Path
    passwd: Path
    acl: Path


def render_conf(
    *,
    port: int,
    host: str,
    passwd: Path,
    acl: Path,
    data_dir: Path,
    log_file: Path | None = None,
    persistence: bool = True,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    tls_ca: Path | None = None,
    tls_port: int | None = None,
    tls_host: str | None = None,
    run_as: str | None = None,
) -> str:
    """A complete mosquitto.conf for one site. With ``tls_cert`` and ``tls_key`` a
    TLS listener is added on ``tls_host`` (default ``host``), port ``tls_port`` (8883)."""
    lines = [
        "# Tryggbo broker configuration (generated).",
        *([f"user {run_as}"] if run_as else []),
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {passwd}",
        f"acl_file {acl}",
        "set_tcp_nodelay true",
        # A controller that falls behind a burst must not lose messages silently.
        "max_queued_messages 100000",
        "max_inflight_messages 100",
        "persistent_client_expiration 7d",
        f"persistence {'true' if persistence else 'false'}",
        f"persistence_location {data_dir}/",
        # Save the in-memory store every second. `autosave_on_changes` with interval 1
        # (a disk write per message) capped a broker at ~1,000 msg/s here; a second of
        # queued messages at risk on SIGKILL is covered by QoS 1 retries from clients
        # and idempotent command ids.
        "autosave_interval 1",
        f"log_dest file {log_file}" if log_file else "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "connection_messages true",
        f"listener {port} {host}",
        BIND_CLIENT_IDS,
    ]
    if tls_cert and tls_key:
        lines += [
            f"listener {tls_port or 8883} {tls_host or host}",
            BIND_CLIENT_IDS,
            f"certfile {tls_cert}",
            f"keyfile {tls_key}",
            "tls_version tlsv1.2",
        ]
        if tls_ca:
            lines.append(f"cafile {tls_ca}")
    return "\n".join(lines) + "\n"


def write_broker_files(
    creds: SiteCredentials, directory: Path, *, port: int, host: str = "127.0.0.1"
) -> BrokerFiles:
    """Write conf, passwd and acl (0600) into ``directory`` for a private broker."""
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data"
    data.mkdir(exist_ok=True)
    files = BrokerFiles(directory / "mosquitto.conf", directory / "passwd", directory / "acl")
    write_private(files.passwd, render_passwd(creds))
    write_private(files.acl, render_acl(creds))
    conf = render_conf(
        port=port,
        host=host,
        passwd=files.passwd,
        acl=files.acl,
        data_dir=data,
        log_file=directory / "mosquitto.log",
    )
    write_private(files.conf, conf)
    return files


@dataclass(frozen=True)
class TlsFiles:
    """Certificate, key and (optional) CA of the broker's TLS listener."""

    cert: Path
    key: Path
    ca: Path | None = None
    port: int = 8883
    host: str = "0.0.0.0"


def write_site_broker_config(
    creds: SiteCredentials,
    directory: Path,
    *,
    port: int = 1883,
    host: str = "127.0.0.1",
    tls: TlsFiles | None = None,
    data_dir: Path | None = None,
    log_file: Path | None = None,
    run_as: str | None = None,
) -> BrokerFiles:
    """A complete broker configuration for a site (``tryggbo provision broker-config``):
    mosquitto.conf, passwd and acl, all 0600, with a TLS listener when ``tls`` is given.
    Paths inside the conf are absolute."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    files = BrokerFiles(directory / "mosquitto.conf", directory / "passwd", directory / "acl")
    data = (data_dir or directory / "data").resolve()
    data.mkdir(parents=True, exist_ok=True)
    write_private(files.passwd, render_passwd(creds))
    write_private(files.acl, render_acl(creds))
    conf = render_conf(
        port=port,
        host=host,
        passwd=files.passwd,
        acl=files.acl,
        data_dir=data,
        log_file=log_file.resolve() if log_file else None,
        tls_cert=tls.cert.resolve() if tls else None,
        tls_key=tls.key.resolve() if tls else None,
        tls_ca=tls.ca.resolve() if tls and tls.ca else None,
        tls_port=tls.port if tls else None,
        tls_host=tls.host if tls else None,
        run_as=run_as,
    )
    write_private(files.conf, conf)
    return files
