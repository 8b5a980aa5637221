"""The ``tryggbo`` command line (typer); exit codes: controller/cli/exit_codes.py.

The command groups (users, devices, broker, provision, ...) are joined to the app on
first use of :data:`app`, or by :func:`main` for any command but ``serve``: the daemon
runs without their modules (rich's tables and progress, tomlkit, the broker and
provisioning files; issue 18: memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from config.credentials import CredentialsError, ensure_credentials, load_credentials
from config.settings import (
    Settings,
    SettingsError,
    load_settings,
    proxy_networks,
    unknown_variables,
)
from config.site import EXAMPLE_SITE, SiteFileError, load_site
from controller.cli.exit_codes import help_text
from controller.cli.output import err, fail, out
from controller.store import ApiToken, Store, open_store
from devices.clock import SystemClock
from devices.mqtt import BrokerAddress, BrokerList, BrokerUrlError

T = TypeVar("T")

#: The app with the commands defined here; :data:`app` is it with every group joined.
_app = typer.Typer(
    help=f"Tryggbo: doors, curtains and screens of an elderly home. {help_text()}",
    no_args_is_help=True,
    add_completion=False,
)
token_app = typer.Typer(help="API tokens for scripts and the CLI.", no_args_is_help=True)
_app.add_typer(token_app, name="token")


@functools.cache
def _with_groups() -> typer.Typer:
    """:data:`_app` with every command group joined (once), in ``--help``'s order."""
    from controller.cli.backup import register as register_backup
    from controller.cli.broker import broker_app
    from controller.cli.devices import alarms_app, cmd, devices_app, events_app
    from controller.cli.diagnose import diagnose
    from controller.cli.firmware import firmware_app
    from controller.cli.ops import register as register_ops
    from controller.cli.provision import provision_app
    from controller.cli.region import region_app
    from controller.cli.schedules import schedules_app
    from controller.cli.serial import serial_app
    from controller.cli.users import users_app

    _app.add_typer(users_app, name="users")
    _app.add_typer(schedules_app, name="schedules")
    _app.add_typer(devices_app, name="devices")
    _app.command("cmd")(cmd)
    _app.add_typer(events_app, name="events")
    _app.add_typer(alarms_app, name="alarms")
    _app.add_typer(provision_app, name="provision")
    _app.add_typer(serial_app, name="serial")
    _app.add_typer(firmware_app, name="firmware")
    _app.command("diagnose")(diagnose)
    _app.add_typer(broker_app, name="broker")
    _app.add_typer(region_app, name="region")
    # backup, restore, export-resident, retention, settings-doc (issue 9)
    register_backup(_app)
    register_ops(_app)
    return _app


def __getattr__(name: str) -> Any:
    """``app``: the whole command line (its groups joined on first use)."""
    if name == "app":
        return _with_groups()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise fail(f"--http {value!r} must look like 127.0.0.1:8080")
    return host, int(port)


def _run(coro: Coroutine[object, object, None]) -> None:
    """Run a long-lived coroutine; SIGINT and SIGTERM stop it cleanly (cancel)."""

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await coro

    asyncio.run(main())


@_app.command()
def serve(
    broker: Annotated[str | None, typer.Option(help="MQTT broker URL, mqtt://host:port")] = None,
    site: Annotated[Path | None, typer.Option(help="site file (TOML)")] = None,
    db: Annotated[
        str | None, typer.Option(help="store URL, sqlite:///file or postgresql://")
    ] = None,
    http: Annotated[str | None, typer.Option(help="HTTP listen HOST:PORT")] = None,
    credentials: Annotated[Path | None, typer.Option(help="device secrets file")] = None,
    log_level: Annotated[str | None, typer.Option(help="DEBUG, INFO, WARNING, ERROR")] = None,
) -> None:
    """Run the controller daemon."""
    from controller.api.edges import EdgeLimits, raise_open_files_limit
    from controller.daemon import Controller, ControllerConfig, tune_gc
    from controller.web_tls import TlsConfigError, tls_context

    host, port = _host_port(http) if http else (None, None)
    try:
        settings = load_settings(
            broker=broker,
            site_file=site,
            db=db,
            http_host=host,
            http_port=port,
            credentials_file=credentials,
            log_level=log_level,
        )
        site_model = load_site(settings.site_file)
        creds = load_credentials(settings.credentials_file)
        creds.controller_login(settings.client_id)  # this instance's own login
        tls_context(settings.tls_cert, settings.tls_key)  # refuse a bad pair before starting
    except (SettingsError, SiteFileError, CredentialsError, TlsConfigError) as exc:
        raise fail(str(exc)) from None
    if creds.site != site_model.slug:
        raise fail(f"credentials are for site {creds.site!r}, site file is {site_model.slug!r}")
    from controller.logs import configure

    configure(settings.log_level, settings.log_format)
    for warning in unknown_variables(os.environ):
        logging.getLogger(__name__).warning(warning)
    config = ControllerConfig(
        broker=settings.brokers,
        site=site_model,
        credentials=creds,
        db_url=settings.db,
        http_host=settings.http_host,
        http_port=settings.http_port,
        command_timeout_s=settings.command_timeout_s,
        stale_factor=settings.stale_factor,
        session_idle_s=settings.session_idle_hours * 3600,
        **_ops_config(settings),
        client_id=settings.client_id,
        shared_group=settings.shared_group,
        device_rate_per_s=settings.device_rate_per_s,
        device_burst=settings.device_burst,
        tls_cert=settings.tls_cert,
        tls_key=settings.tls_key,
        edges=EdgeLimits(
            header_timeout_s=settings.http_header_timeout_s,
            body_timeout_s=settings.http_body_timeout_s,
            max_sockets_per_address=settings.http_max_sockets_per_address,
            max_sockets_per_user=settings.http_max_sockets_per_user,
            trusted_proxies=proxy_networks(settings.trusted_proxies),
        ),
        firmware_dir=settings.firmware_dir,
    )
    tune_gc()
    raise_open_files_limit()
    controller = Controller(config)
    del creds, config  # the controller keeps of the devices' secrets only what it uses
    _run(controller.run())


def _ops_config(settings: Settings) -> dict[str, Any]:
    """Retention and the Home Assistant bridge from the settings (issue 9)."""
    from controller.ha_bridge import HaBridgeConfig
    from controller.ops.retention import RetentionPolicy

    ha = None
    if settings.ha_enabled and settings.ha_broker:
        ha = HaBridgeConfig(
            broker=BrokerAddress.parse(settings.ha_broker),
            discovery_prefix=settings.ha_discovery_prefix,
            user=settings.ha_user,
            allow_unlock=settings.ha_allow_unlock,
            unlock_reason=settings.ha_unlock_reason,
        )
    return {
        "retention": RetentionPolicy(
            settings.retention_events_days,
            settings.retention_audit_days,
            settings.retention_alarms_days,
        ),
        "retention_hour": settings.retention_hour,
        "ha_bridge": ha,
    }


@_app.command()
def simulate(
    broker: Annotated[
        str, typer.Option(help="MQTT broker URL, or a cluster's node URLs comma-separated")
    ],
    site: Annotated[Path, typer.Option(help="site file (TOML)")] = EXAMPLE_SITE,
    credentials: Annotated[Path, typer.Option(help="device secrets file")] = Path(
        "var/credentials.json"
    ),
    heartbeat: Annotated[float, typer.Option(help="seconds between heartbeats")] = 60.0,
    control: Annotated[
        str | None, typer.Option(help="serve the fault/knob control panel on HOST:PORT")
    ] = None,
) -> None:
    """Run the simulated firmware of every device in the site file (one MQTT
    connection per device); --control lets a technician set faults at run time."""
    from devices.firmware import SimulatedHome
    from devices.firmware.control import serve_control

    try:
        address = BrokerList.parse(broker)
        site_model = load_site(site)
        creds = load_credentials(credentials)
    except (BrokerUrlError, SiteFileError, CredentialsError) as exc:
        raise fail(str(exc)) from None
    control_at = _host_port(control) if control else None
    _logging("INFO")
    home = SimulatedHome(site_model, creds, address, clock=SystemClock(), heartbeat_s=heartbeat)

    async def run() -> None:
        runner = await serve_control(home, *control_at) if control_at else None
        if control_at:
            logging.getLogger(__name__).info("control panel on http://%s:%d/devices", *control_at)
        try:
            await home.run()
        finally:
            if runner is not None:
                await runner.cleanup()

    _run(run())


@_app.command()
def demo(
    broker: Annotated[
        str | None, typer.Option(help="use this broker instead of starting one")
    ] = None,
    http: Annotated[str, typer.Option(help="HTTP listen HOST:PORT")] = "127.0.0.1:8080",
    data: Annotated[Path, typer.Option(help="demo data directory")] = Path("var/demo"),
    embedded: Annotated[
        bool, typer.Option(help="use the embedded broker even if mosquitto is installed")
    ] = False,
) -> None:
    """Run the demo home: broker, 72 simulated devices, controller and API on 127.0.0.1."""
    import importlib.util

    from controller.api.edges import raise_open_files_limit
    from controller.ops.brokers import find_mosquitto
    from controller.ops.demo import DemoOptions, run_demo

    host, port = _host_port(http)
    if broker:
        try:
            BrokerAddress.parse(broker)
        except BrokerUrlError as exc:
            raise fail(str(exc)) from None
    elif (embedded or not find_mosquitto()) and importlib.util.find_spec("amqtt") is None:
        raise fail(
            "the embedded broker (amqtt) is not installed: pip install 'tryggbo[demo]' "
            "(make demo does), or apt-get install mosquitto for a private Mosquitto"
            + (" and leave out --embedded" if embedded else "")
        )
    _logging("WARNING")
    raise_open_files_limit()
    _run(
        run_demo(
            DemoOptions(
                data_dir=data,
                broker_url=broker,
                http_host=host,
                http_port=port,
                force_embedded=embedded,
            )
        )
    )


@_app.command("credentials")
def credentials_init(
    site: Annotated[Path, typer.Option(help="site file (TOML)")],
    out: Annotated[Path, typer.Option(help="secrets file to create or extend (0600)")] = Path(
        "var/credentials.json"
    ),
    controller: Annotated[
        list[str] | None,
        typer.Option(
            help="a further controller instance's login, named as its TRYGGBO_CLIENT_ID "
            "(scale-out; repeatable)"
        ),
    ] = None,
) -> None:
    """Create or extend the device secrets file for a site (existing secrets are kept)."""
    try:
        creds = ensure_credentials(load_site(site), out, controllers=controller or ())
    except (SiteFileError, CredentialsError) as exc:
        raise fail(str(exc)) from None
    print(
        f"{len(creds.devices)} devices, {len(creds.controller_logins())} controller logins "
        f"in {out} (mode 0600); secrets are not printed"
    )


async def _with_store(db: str, action: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store at ``db``, run ``action`` on it, close it."""
    store = open_store(db)
    await store.open()
    try:
        return await action(store)
    finally:
        await store.close()


DbOption = Annotated[str, typer.Option(envvar="TRYGGBO_DB", help="store URL")]


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option(help="the user the token acts as (their roles)")],
    name: Annotated[str, typer.Option(help="what the token is for")] = "cli",
    db: DbOption = "sqlite:///var/tryggbo.sqlite",
) -> None:
    """Create an API token acting as USER; the secret is printed once and never stored.
    It stops working when the token is revoked or the user disabled."""
    from controller.auth.tokens import NoSuchUser, create_user_token

    async def go(store: Store) -> tuple[str, ApiToken]:
        return await create_user_token(
            store, username=user.strip().lower(), name=name, now=SystemClock().now()
        )

    try:
        secret, record = asyncio.run(_with_store(db, go))
    except NoSuchUser as exc:
        raise fail(f"{exc}; add it with `tryggbo users add`") from None
    err.print(f"token {record.id} for {record.actor} (shown once):")
    print(secret)


@token_app.command("list")
def token_list(
    db: DbOption = "sqlite:///var/tryggbo.sqlite",
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List API tokens (never their secrets)."""
    import json

    tokens = asyncio.run(_with_store(db, lambda s: s.list_tokens()))
    if json_out:
        print(
            json.dumps(
                [
                    {
                        "id": t.id,
                        "name": t.name,
                        "actor": t.actor,
                        "created_at": t.created_at.isoformat(),
                        "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
                    }
                    for t in tokens
                ],
                indent=2,
            )
        )
        return
    from rich.table import Table

    table = Table("id", "name", "actor", "created", "revoked")
    for t in tokens:
        table.add_row(
            t.id,
            t.name,
            t.actor,
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
        )
    out.print(table)


@token_app.command("revoke")
def token_revoke(token_id: str, db: DbOption = "sqlite:///var/tryggbo.sqlite") -> None:
    """Revoke an API token at once."""
    ok = asyncio.run(_with_store(db, lambda s: s.revoke_token(token_id, SystemClock().now())))
    if not ok:
        raise fail(f"no token {token_id!r}")
    err.print(f"token {token_id} revoked")


def main() -> None:
    # Every file a tryggbo command creates is its user's alone (0600, directories 0700):
    # the store and its -wal/-shm, firmware images, the demo's broker files and logs.
    # The 0644 store of a demo or of `tryggbo serve` outside systemd was readable by any
    # local user (its call signing key rebuilt a valid relative's link).
    os.umask(0o077)
    # the daemon runs without the other commands' modules
    command_line = _app if sys.argv[1:2] == ["serve"] else _with_groups()
    command_line()
