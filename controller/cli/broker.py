"""``tryggbo broker check``: is the site's broker up, does its ACL do what the site
expects, and how long is a round trip.

Checks, each ``ok`` or a failure with the reason:

* the check's own login (the controller's rights; its own so that the running
  controller is not dropped: the broker binds client ids to logins) connects;
  anonymous and a wrong password are refused;
* round trip: QoS 1 publish to receive with that login (``tryggbo/{site}/check/...``,
  a topic nobody else reads), median of several;
* ACL: a device's login publishing under another device, the controller's
  availability and the fire topic is dropped by the broker, while its marker on its
  own ``ack`` topic (an ack for no command: ignored by the daemon) gets through.
  Forbidden publications carry a non-JSON payload, so were the ACL broken they would
  still be dropped by every reader as malformed. That device's own connection is taken
  over for the moment of the check (its login is its client id); it reconnects.

Exit 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import statistics
import time
from pathlib import Path
from typing import Annotated, Any

import aiomqtt
import typer
from rich.table import Table

from config.credentials import (
    CredentialsError,
    SiteCredentials,
    check_login_name,
    load_credentials,
)
from controller.cli.exit_codes import ExitCode, help_text
from controller.cli.output import JsonOption, fail, out, print_json
from devices.contract import Ack, AckStatus, Channel, SiteTopics, encode
from devices.mqtt import BrokerAddress, BrokerUrlError, make_client

broker_app = typer.Typer(help=f"The site's MQTT broker. {help_text()}", no_args_is_help=True)

ROUND_TRIPS = 5
CHECK_TIMEOUT_S = 10.0


def _client(
    address: BrokerAddress, name: str, username: str | None, password: str | None
) -> aiomqtt.Client:
    return make_client(
        address,
        identifier=f"tryggbo-check-{name}-{secrets.token_hex(3)}",
        username=username,
        password=password,
        persistent=False,
    )


async def _refused(address: BrokerAddress, username: str | None, password: str | None) -> bool:
    try:
        async with _client(address, "refused", username, password):
            return False
    except aiomqtt.MqttError:
        return True


async def run_checks(
    address: BrokerAddress, creds: SiteCredentials, device: str
) -> list[dict[str, Any]]:
    topics = SiteTopics(creds.site)
    login = creds.device(device)
    others = sorted(d for d in creds.devices if d != device)
    results: list[dict[str, Any]] = []

    def record(name: str, ok: bool, detail: str = "", **extra: Any) -> None:
        results.append({"check": name, "ok": ok, "detail": detail, **extra})

    ctl = creds.controller_login(check_login_name(creds.site))  # not the controller's
    started = time.perf_counter()
    try:
        controller = _client(address, "controller", ctl.username, ctl.password)
        await controller.__aenter__()
    except aiomqtt.MqttError as exc:
        record("controller connects", False, str(exc))
        return results
    record("controller connects", True, f"{(time.perf_counter() - started) * 1000:.1f} ms")
    try:
        record("anonymous refused", await _refused(address, None, None))
        record(
            "wrong password refused",
            await _refused(address, login.username, login.password + "-wrong"),
        )
        nonce = secrets.token_hex(6)
        await controller.subscribe(f"{topics.root}/#", qos=1)
        rtts: list[float] = []
        check_topic = f"{topics.root}/check/{nonce}"
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            for i in range(ROUND_TRIPS):
                sent = time.perf_counter()
                await controller.publish(check_topic, f"{i}".encode(), qos=1)
                async for msg in controller.messages:
                    if str(msg.topic) == check_topic and msg.payload == f"{i}".encode():
                        rtts.append((time.perf_counter() - sent) * 1000)
                        break
        median = statistics.median(rtts)
        record("round trip", True, f"median {median:.1f} ms of {ROUND_TRIPS}", rtt_ms=median)

        forbidden = [topics.controller_availability, topics.fire]
        if others:
            forbidden += [
                topics.device(others[0], Channel.STATE),
                topics.device(others[0], Channel.CMD),
            ]
        marker_id = f"broker-check-{nonce}"
        marker = topics.device(device, Channel.ACK)
        junk = f"broker-check {nonce}".encode()
        async with _client(address, "device", login.username, login.password) as as_device:
            for topic in forbidden:
                await as_device.publish(topic, junk, qos=1)
            await as_device.publish(marker, encode(Ack(id=marker_id, status=AckStatus.OK)), qos=1)
        leaked: list[str] = []
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            async for msg in controller.messages:
                if msg.payload == junk:
                    leaked.append(str(msg.topic))
                elif str(msg.topic) == marker and marker_id.encode() in bytes(msg.payload):
                    break
        record(
            f"ACL holds {device} to its own topics",
            not leaked,
            f"broker let through: {', '.join(leaked)}" if leaked else f"{len(forbidden)} refused",
        )
    except TimeoutError:
        record("broker answers in time", False, f"nothing back within {CHECK_TIMEOUT_S:.0f} s")
    except aiomqtt.MqttError as exc:
        record("connection stays up", False, str(exc))
    finally:
        with contextlib.suppress(aiomqtt.MqttError):
            await controller.__aexit__(None, None, None)
    return results


@broker_app.command("check")
def broker_check(
    broker: Annotated[str, typer.Option(help="broker URL", envvar="TRYGGBO_BROKER")],
    credentials: Annotated[
        Path, typer.Option(help="device secrets file", envvar="TRYGGBO_CREDENTIALS_FILE")
    ] = Path("var/credentials.json"),
    device: Annotated[
        str | None, typer.Option(help="device whose login tests the ACL (default: the first)")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Connect, check the ACL does what the site expects, measure the round trip."""
    try:
        address = BrokerAddress.parse(broker)
        creds = load_credentials(credentials)
        creds.controller_login(check_login_name(creds.site))
    except (BrokerUrlError, CredentialsError) as exc:
        raise fail(str(exc)) from None
    if not creds.devices:
        raise fail(f"{credentials} has no devices to test the ACL with")
    device = device or sorted(creds.devices)[0]
    if device not in creds.devices:
        raise fail(f"no device {device!r} in {credentials}")
    results = asyncio.run(run_checks(address, creds, device))
    if json_out:
        print_json({"broker": address.url, "site": creds.site, "checks": results})
    else:
        table = Table("check", "result", "detail")
        for r in results:
            table.add_row(r["check"], "[green]ok[/]" if r["ok"] else "[red]FAIL[/]", r["detail"])
        out.print(table)
    if not all(r["ok"] for r in results):
        raise typer.Exit(ExitCode.RUNTIME)
