"""``tryggbo provision``: devices, their credentials and the broker's files.

Works on the site file, the credentials file and the broker directory directly (no
daemon needed). Secrets are written 0600 and printed only with ``--show-secret``.
After a change, reload Mosquitto (``kill -HUP``; it re-reads passwd and acl) and
restart the daemon when a lock's HMAC key changed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from config.credentials import CredentialsError, load_credentials
from config.mosquitto import TlsFiles, write_site_broker_config
from config.nats import NodeAddress, write_cluster_config
from config.provisioning import (
    ProvisionError,
    add_device,
    rotate_device,
    site_and_credentials,
    write_auth_files,
)
from controller.cli.exit_codes import ExitCode, help_text
from controller.cli.output import JsonOption, err, fail, print_json

provision_app = typer.Typer(
    help=f"Add devices, rotate their credentials, write the broker's files. {help_text()}",
    no_args_is_help=True,
)

SiteOption = Annotated[Path, typer.Option(help="site file (TOML)", envvar="TRYGGBO_SITE_FILE")]
CredsOption = Annotated[
    Path, typer.Option(help="device secrets file (0600)", envvar="TRYGGBO_CREDENTIALS_FILE")
]
BrokerDirOption = Annotated[
    Path | None,
    typer.Option(help="also rewrite passwd and acl in this broker directory"),
]
ShowSecret = Annotated[
    bool, typer.Option("--show-secret", help="print the new password and key (else never)")
]


def _hint_reload(broker_dir: Path | None) -> None:
    if broker_dir is not None:
        err.print(
            f"wrote {broker_dir}/passwd and {broker_dir}/acl (0600); reload Mosquitto: "
            "kill -HUP <mosquitto pid>",
            highlight=False,
        )


@provision_app.command("add")
def provision_add(
    apartment: Annotated[str, typer.Option(help="apartment number, e.g. 101")],
    type_: Annotated[str, typer.Option("--type", help="lock, curtain or screen")],
    device_id: Annotated[
        str | None, typer.Option("--id", help="device id (default a{apartment}-{type})")
    ] = None,
    model: Annotated[str, typer.Option(help="hardware model")] = "",
    site: SiteOption = Path("site.toml"),
    credentials: CredsOption = Path("var/credentials.json"),
    broker_dir: BrokerDirOption = None,
    show_secret: ShowSecret = False,
    json_out: JsonOption = False,
) -> None:
    """Add a device to an apartment: its site-file record, MQTT username, random
    password and (for every type) an HMAC key; optionally rewrite passwd and acl."""
    try:
        made = add_device(
            site,
            credentials,
            apartment=apartment,
            device_type=type_,
            device_id=device_id,
            model=model,
        )
        if broker_dir is not None:
            _, creds = site_and_credentials(site, credentials)
            write_auth_files(creds, broker_dir)
    except (ProvisionError, CredentialsError) as exc:
        raise fail(str(exc)) from None
    body = {
        "device": made.device_id,
        "type": made.device_type,
        "apartment": made.apartment,
        "username": made.credentials.username,
        "credentials_file": str(credentials),
    }
    if show_secret:
        body |= {"password": made.credentials.password, "hmac_key": made.credentials.hmac_key}
    if json_out:
        print_json(body)
    else:
        print(
            f"added {made.device_id} ({made.device_type}) to apartment {made.apartment}; "
            f"MQTT user {made.credentials.username}; secrets in {credentials} (0600)"
            + ("" if show_secret else ", not printed (--show-secret)")
        )
        if show_secret:
            print(f"password: {made.credentials.password}\nhmac_key: {made.credentials.hmac_key}")
    _hint_reload(broker_dir)


@provision_app.command("rotate")
def provision_rotate(
    device: Annotated[str, typer.Argument(help="device id")],
    keep_key: Annotated[
        bool, typer.Option("--keep-key", help="rotate the password only, keep the HMAC key")
    ] = False,
    credentials: CredsOption = Path("var/credentials.json"),
    broker_dir: BrokerDirOption = None,
    show_secret: ShowSecret = False,
    json_out: JsonOption = False,
) -> None:
    """New random password (and HMAC key) for a device. The device must get them too
    (flash or its setup console); restart the daemon when the key changed."""
    try:
        fresh = rotate_device(credentials, device, new_key=not keep_key)
        if broker_dir is not None:
            write_auth_files(load_credentials(credentials), broker_dir)
    except CredentialsError as exc:
        raise fail(str(exc)) from None
    body: dict[str, object] = {"device": device, "username": fresh.username, "key": not keep_key}
    if show_secret:
        body |= {"password": fresh.password, "hmac_key": fresh.hmac_key}
    if json_out:
        print_json(body)
    else:
        what = "password" if keep_key else "password and HMAC key"
        print(f"rotated the {what} of {device} in {credentials}")
        if show_secret:
            print(f"password: {fresh.password}\nhmac_key: {fresh.hmac_key}")
    _hint_reload(broker_dir)


@provision_app.command("broker-config")
def provision_broker_config(
    out: Annotated[Path, typer.Option(help="directory for mosquitto.conf, passwd, acl")],
    credentials: CredsOption = Path("var/credentials.json"),
    port: Annotated[int, typer.Option(min=1, max=65535, help="plain MQTT port")] = 1883,
    host: Annotated[str, typer.Option(help="plain listener address")] = "127.0.0.1",
    tls_cert: Annotated[Path | None, typer.Option(help="TLS certificate (PEM)")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="TLS private key (PEM)")] = None,
    tls_ca: Annotated[Path | None, typer.Option(help="CA chain (PEM)")] = None,
    tls_port: Annotated[int, typer.Option(min=1, max=65535)] = 8883,
    tls_host: Annotated[str, typer.Option(help="TLS listener address")] = "0.0.0.0",
    data_dir: Annotated[Path | None, typer.Option(help="persistence directory")] = None,
    log_file: Annotated[Path | None, typer.Option(help="log file (default stderr)")] = None,
    run_as: Annotated[
        str | None, typer.Option(help="user Mosquitto runs as (conf `user` line)")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Write a complete mosquitto.conf, passwd and acl for the site (0600), with a TLS
    listener when --tls-cert and --tls-key are given."""
    if (tls_cert is None) != (tls_key is None):
        raise fail("--tls-cert and --tls-key go together")
    for path in (tls_cert, tls_key, tls_ca):
        if path is not None and not path.is_file():
            raise fail(f"{path} does not exist")
    tls = TlsFiles(tls_cert, tls_key, tls_ca, tls_port, tls_host) if tls_cert and tls_key else None
    try:
        creds = load_credentials(credentials)
        files = write_site_broker_config(
            creds,
            out,
            port=port,
            host=host,
            tls=tls,
            data_dir=data_dir,
            log_file=log_file,
            run_as=run_as,
        )
    except CredentialsError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc}", ExitCode.RUNTIME) from None
    body = {
        "conf": str(files.conf),
        "passwd": str(files.passwd),
        "acl": str(files.acl),
        "site": creds.site,
        "devices": len(creds.devices),
        "tls": tls is not None,
    }
    if json_out:
        print_json(body)
    else:
        print(
            f"wrote {files.conf}, {files.passwd}, {files.acl} (0600) for site {creds.site}, "
            f"{len(creds.devices)} devices{', TLS on ' + str(tls_port) if tls else ''}; "
            f"run: mosquitto -c {files.conf}"
        )
    if os.geteuid() == 0 and run_as is None:
        err.print("note: as root, Mosquitto drops to user `mosquitto`: make the files its own")


@provision_app.command("nats-config")
def provision_nats_config(
    out: Annotated[Path, typer.Option(help="directory for one NAME.conf per node")],
    node: Annotated[
        list[str],
        typer.Option(
            help="a node of the cluster, NAME=HOST:MQTT_PORT:CLUSTER_PORT:MONITOR_PORT "
            "(give each node; three for R3)"
        ),
    ],
    credentials: CredsOption = Path("var/credentials.json"),
    store_root: Annotated[
        Path | None, typer.Option(help="JetStream directories go in STORE_ROOT/NAME")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Write a NATS Server configuration per node of a clustered broker for the site
    (0600): JetStream, cluster routes, MQTT listener, the site's logins with
    permissions mirroring Mosquitto's ACL (docs/architecture.md, Scale-out). Devices
    and controllers then get every node's URL: TRYGGBO_BROKER=mqtt://HOST:MQTT_PORT,..."""
    try:
        nodes = [NodeAddress.parse(text) for text in node]
        creds = load_credentials(credentials)
        files = write_cluster_config(creds, out, nodes, store_root=store_root)
    except (ValueError, CredentialsError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc}", ExitCode.RUNTIME) from None
    urls = ",".join(f"mqtt://{n.host}:{n.mqtt_port}" for n in nodes)
    if json_out:
        print_json({"confs": [str(f) for f in files], "site": creds.site, "broker": urls})
    else:
        print(
            f"wrote {', '.join(str(f) for f in files)} (0600) for site {creds.site}; run "
            f"nats-server -c FILE on each node; TRYGGBO_BROKER={urls}"
        )
