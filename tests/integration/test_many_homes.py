"""Two homes on one PostgreSQL (issue 16 item 4), through their real APIs: the example
home and the second example home (config/example-site-2.toml), each a ``tryggbo
serve`` on its own Mosquitto and its own schema of one database. A nurse or a token of
one home is nobody in the other; alarms, events and the audit stay in their home; the
regional view lists each home's open alarms. The second home provisions like the first."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from config.credentials import load_credentials
from config.site import EXAMPLE_SITE, SECOND_EXAMPLE_SITE, Site, load_site
from controller.auth.accounts import ensure_user
from controller.store import SqlStore
from devices.clock import SystemClock
from tests.faults.served import ServedController
from tests.faults.test_help_press_confirmed import (
    BOUND_S,
    confirmations,
    help_alarm,
    screen_running,
    wait_confirmed,
)
from tests.ops.test_backup import cli
from tests.pg_server import scratch_pg_database
from tests.reliability_fixtures import private_broker

NURSE_PASSWORD = "Nattskift-i-norr-2026"


@asynccontextmanager
async def two_homes(
    example_site: Site, pg_url: str | None, directory: Path
) -> AsyncIterator[tuple[str, dict[str, ServedController]]]:
    """Each example home served on its own broker, both on one scratch database."""
    if pg_url is None:
        pytest.skip("no PostgreSQL installed")
    second = load_site(SECOND_EXAMPLE_SITE)
    async with scratch_pg_database(pg_url) as db_url, AsyncExitStack() as stack:
        homes: dict[str, ServedController] = {}
        for site, path in ((example_site, EXAMPLE_SITE), (second, SECOND_EXAMPLE_SITE)):
            home = directory / site.slug
            home.mkdir()
            broker = await stack.enter_async_context(private_broker(site, home))
            served = ServedController(
                broker,
                f"{db_url}?schema={site.slug}",
                home / "serve.log",
                site_path=path,
                # a command nothing answers here times out in 2 s, not the default 10 s
                env={"TRYGGBO_COMMAND_TIMEOUT_S": "2"},
            )
            stack.push_async_callback(served.stop)
            await served.prepare()  # creates and migrates the home's schema
            await served.start()
            homes[site.slug] = served
        yield db_url, homes


async def sign_in(served: ServedController, username: str, password: str) -> int:
    async with (
        aiohttp.ClientSession(base_url=served.url) as http,
        http.post("/api/auth/login", json={"username": username, "password": password}) as r,
    ):
        return r.status


async def press_help(served: ServedController, device: str) -> dict[str, Any]:
    async with screen_running(served.broker, device) as screen:
        got = confirmations(screen)
        await wait_confirmed(got, screen.press_help(), BOUND_S)
    return await help_alarm(served, device)


async def test_a_nurse_of_one_home_sees_nothing_of_the_other(
    example_site: Site, pg_url: str | None, tmp_path: Path
) -> None:
    async with two_homes(example_site, pg_url, tmp_path) as (db_url, homes):
        solgarden, bjorkbacken = homes["solgarden"], homes["bjorkbacken"]
        async with SqlStore(solgarden.db_url) as store:
            await ensure_user(
                store,
                username="nurse-a",
                password=NURSE_PASSWORD,
                roles=("staff",),
                units=("A",),
                now=SystemClock().now(),
            )
        assert await sign_in(solgarden, "nurse-a", NURSE_PASSWORD) == 200
        assert await sign_in(bjorkbacken, "nurse-a", NURSE_PASSWORD) == 401
        # each home's token is its own: solgarden's is nobody at bjorkbacken
        assert bjorkbacken.http is not None
        async with bjorkbacken.http.get(
            "/api/alarms", headers={"Authorization": f"Bearer {solgarden.token}"}
        ) as refused:
            assert refused.status == 401
        # the same device id in both homes (a101-screen): a press is its home's alone
        pressed = await press_help(solgarden, "a101-screen")
        other = await press_help(bjorkbacken, "a105-screen")
        for served, mine in ((solgarden, pressed), (bjorkbacken, other)):
            _, body = await served.call("GET", "/api/alarms")
            assert [a["device"] for a in body["alarms"]] == [mine["device"]]
            _, body = await served.call("GET", "/api/events", params={"limit": "500"})
            assert {e["device"] for e in body["events"] if e["type"] == "help_pressed"} == {
                mine["device"]
            }
        # a command at solgarden is audited there and only there
        _, answer = await solgarden.call(
            "POST", "/api/devices/a101-lock/commands", json={"action": "ping"}
        )
        assert answer["outcome"] == "timeout", answer  # no lock runs here: no ack
        for served, lines in ((solgarden, 2), (bjorkbacken, 0)):
            _, body = await served.call("GET", "/api/audit", params={"limit": "500"})
            assert len([a for a in body["audit"] if a["device"] == "a101-lock"]) == lines
        # the regional view: each home's open alarm, read from the shared database
        shown = await asyncio.to_thread(cli, "region", "alarms", "--db", db_url, "--json")
        assert shown.exit_code == 0, shown.output
        listed = {
            h["home"]: [a["device"] for a in h["alarms"]] for h in json.loads(shown.output)["homes"]
        }
        assert listed == {"solgarden": ["a101-screen"], "bjorkbacken": ["a105-screen"]}


def test_the_second_example_home_provisions_a_device(tmp_path: Path) -> None:
    """``tryggbo provision add`` on a copy of config/example-site-2.toml: the device in
    the site file and credentials, the broker's passwd and ACL of that home's topics."""
    site_file = tmp_path / "site.toml"
    site_file.write_text(SECOND_EXAMPLE_SITE.read_text(encoding="utf-8"), encoding="utf-8")
    creds, broker_dir = tmp_path / "credentials.json", tmp_path / "broker"
    added = cli(
        "provision", "add", "--apartment", "103", "--type", "bed", "--site", str(site_file),
        "--credentials", str(creds), "--broker-dir", str(broker_dir), "--json",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    site = load_site(site_file)
    assert site.slug == "bjorkbacken"
    assert ("103", "bed") in {(a.number, d.type) for a, d in site.devices()}
    assert "a103-bed" in load_credentials(creds).devices
    acl = (broker_dir / "acl").read_text()
    assert "user a103-bed" in acl
    assert "tryggbo/bjorkbacken/dev/a103-bed/" in acl
    assert "a103-bed:" in (broker_dir / "passwd").read_text()
