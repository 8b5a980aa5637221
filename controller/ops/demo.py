"""``tryggbo demo``: the whole home on one machine with no setup.

Starts a broker (a private Mosquitto child process when the binary exists, else amqtt
in-process), the simulated firmware of the example site's devices, and the controller
with its API on 127.0.0.1; prints the URLs and a fresh API token.

The room screen whose kiosk page the banner links (:data:`DEMO_SCREEN`) is not
simulated: its page runs it (controller/calls/screen_bridge.py), and two clients under
one device login would take turns knocking each other off the broker. Its apartment's
visiting hours are all day, so the printed relative's link can call at any hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from config.credentials import ensure_credentials
from config.site import EXAMPLE_SITE, Apartment, Site, load_site
from controller.auth.accounts import ensure_user, random_password
from controller.auth.tokens import create_user_token
from controller.daemon import Controller, ControllerConfig
from controller.ops.brokers import EmbeddedBroker, MosquittoProcess, find_mosquitto
from controller.store import Store, open_store
from devices.clock import SystemClock
from devices.contract import DeviceType
from devices.mqtt import BrokerAddress

log = logging.getLogger(__name__)

#: The demo's people: username, display name, roles, units, apartments.
DEMO_USERS: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    ("admin", "Administratör", ("admin",), (), ()),
    ("anna", "Anna Svensson", ("staff",), ("A", "B"), ()),
    ("nils", "Nils Karlsson", ("staff",), ("C", "D"), ()),
    ("tekla", "Tekla Tekniker", ("technician",), (), ()),
    ("rut", "Rut Lindqvist", ("relative",), (), ("101",)),
)
#: Whose API token the banner prints.
DEMO_TOKEN_USER = "anna"
#: The room screen whose kiosk page the banner links (a screen credential, not a login).
DEMO_SCREEN = ("screen-101", "101")
#: The demo apartment's visiting hours: the printed relative's link works at any hour.
DEMO_VISITING_HOURS = ["daily 00:00-24:00"]


@dataclass
class DemoOptions:
    data_dir: Path
    site_file: Path = EXAMPLE_SITE
    broker_url: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    heartbeat_s: float = 30.0
    force_embedded: bool = False


async def run_demo(opts: DemoOptions, on_ready: asyncio.Event | None = None) -> None:
    """Run the demo home until cancelled."""
    from devices.firmware import SimulatedHome

    site: Site = load_site(opts.site_file)
    opts.data_dir.mkdir(parents=True, exist_ok=True)
    creds = ensure_credentials(site, opts.data_dir / "credentials.json")
    mosquitto: MosquittoProcess | None = None
    embedded: EmbeddedBroker | None = None
    if opts.broker_url:
        broker, broker_kind = BrokerAddress.parse(opts.broker_url), "given"
    elif find_mosquitto() and not opts.force_embedded:
        mosquitto = MosquittoProcess(creds, opts.data_dir / "broker")
        await asyncio.to_thread(mosquitto.start)
        broker, broker_kind = mosquitto.address, f"private mosquitto (pid {mosquitto.pid})"
    else:
        logging.getLogger("amqtt").setLevel(logging.ERROR)
        logging.getLogger("transitions").setLevel(logging.ERROR)
        embedded = EmbeddedBroker(creds, opts.data_dir / "broker")
        await embedded.start()
        broker, broker_kind = embedded.address, "embedded amqtt: the site's logins and ACL"
    db_url = f"sqlite:///{opts.data_dir / 'tryggbo.sqlite'}"
    clock = SystemClock()
    store = open_store(db_url)
    await store.open()
    try:
        logins = await _demo_users(store, clock.now())
        token, _ = await create_user_token(
            store, username=DEMO_TOKEN_USER, name="demo", now=clock.now()
        )
        screen_token = await _demo_screen(store, clock.now())
    finally:
        await store.close()
    controller = Controller(
        ControllerConfig(
            broker=broker,
            site=site,
            credentials=creds,
            db_url=db_url,
            http_host=opts.http_host,
            http_port=opts.http_port,
        ),
        clock=clock,
    )
    apartment = next(a for a in site.apartments if a.number == DEMO_SCREEN[1])
    screen = _screen_device(apartment)
    home = SimulatedHome(
        site, creds, broker, clock=clock, heartbeat_s=opts.heartbeat_s, without={screen}
    )
    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(controller.run(), name="controller")
            tasks.create_task(home.run(), name="simulated-home")
            await controller.ready.wait()
            await controller.calls.set_windows(apartment, DEMO_VISITING_HOURS, by="demo")
            link, _ = await controller.invitations.create(
                apartment=apartment.number,
                resident=apartment.resident or f"apartment {apartment.number}",
                relative="Rut Lindqvist",
                by="demo",
                valid_days=7,
            )
            pages = {
                "room screen": f"{controller.http_url}/ui/screen.html#token={screen_token}",
                "relative's call": f"{controller.http_url}/ui/call.html#t={link}",
            }
            _print_banner(
                controller.http_url, broker, broker_kind, token, site, logins, pages, screen
            )
            if on_ready is not None:
                on_ready.set()
    finally:
        if embedded is not None:
            await embedded.stop()
        if mosquitto is not None:
            with contextlib.suppress(Exception):
                mosquitto.stop()


def _screen_device(apartment: Apartment) -> str:
    """The device id of the apartment's room screen."""
    return next(d.id for d in apartment.devices if d.type is DeviceType.SCREEN)


async def _demo_screen(store: Store, now: datetime) -> str:
    """The demo kiosk's screen user (random password, never shown) and a fresh token."""
    username, apartment = DEMO_SCREEN
    await ensure_user(
        store,
        username=username,
        password=random_password(username),
        roles=("screen",),
        units=(),
        apartments=(apartment,),
        display_name=f"Skärm {apartment}",
        now=now,
    )
    token, _ = await create_user_token(store, username=username, name="demo kiosk", now=now)
    return token


async def _demo_users(store: Store, now: datetime) -> dict[str, str]:
    """Create the demo users, or give them fresh random passwords; username -> password."""
    logins = {}
    for username, name, roles, units, apartments in DEMO_USERS:
        password = random_password(username)
        await ensure_user(
            store,
            username=username,
            password=password,
            roles=roles,
            units=units,
            apartments=apartments,
            display_name=name,
            now=now,
        )
        logins[username] = password
    return logins


def _print_banner(
    url: str,
    broker: BrokerAddress,
    kind: str,
    token: str,
    site: Site,
    logins: dict[str, str],
    pages: dict[str, str],
    screen: str,
) -> None:
    devices = sum(1 for _ in site.devices())
    roles = {u: f"{', '.join(r)} {' '.join(un + ap)}".strip() for u, _n, r, un, ap in DEMO_USERS}
    login_lines = "".join(
        f"    {user:<7} {password}   ({roles[user]})\n" for user, password in logins.items()
    )
    print(
        f"\nTryggbo demo: {site.site.name or site.slug} "
        f"({len(site.apartments)} apartments, {devices} devices: {devices - 1} simulated, "
        f"{screen} run by its room screen page)\n"
        f"  API        {url}/api/health\n"
        f"  WebSocket  {url.replace('http', 'ws')}/api/ws  "
        "(header Authorization: Bearer <API token>; never a token in a URL)\n"
        f"  broker     {broker.url}  [{kind}]\n"
        f"  logins     (sign in at {url}/ with username and password)\n{login_lines}"
        f"  API token  {token}   (acts as {DEMO_TOKEN_USER})\n"
        + "".join(f"  {name:<16} {page}\n" for name, page in pages.items())
        + f"  ({screen} is online while the room screen page is open; "
        f"visiting hours of {DEMO_SCREEN[1]}: all day)\n\n"
        f"  try:  curl -H 'Authorization: Bearer {token}' {url}/api/devices/a101-lock\n"
        f"        curl -H 'Authorization: Bearer {token}' -X POST "
        f'-d \'{{"action":"unlock","reason":"care visit"}}\' '
        f"{url}/api/devices/a101-lock/commands\n"
        f"  Ctrl-C stops everything.\n",
        flush=True,
    )
