"""A retained command on a serial device's ``cmd`` topic (the small site's own
Mosquitto, a pty "cable", the simulated serial curtain): the bridge never sends it
down the line, neither on its first connect nor after a restart of the bridge."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import aiomqtt

from devices.clock import SystemClock
from devices.contract import Ack, AckStatus, Channel, SiteTopics, decode, encode, new_command
from devices.mqtt import QOS, make_client
from devices.serial.bridge import SerialBridge
from devices.serial.simulated import SerialCurtain, open_line

from .conftest import SERIAL_DEVICE, SmallSite

TIMEOUT = 10.0


@contextlib.asynccontextmanager
async def bridged(small_site: SmallSite, port: str) -> AsyncIterator[SerialBridge]:
    """A serial bridge on ``port``, up (its device announced on MQTT) until the exit."""
    bridge = SerialBridge(
        port,
        site=small_site.site.slug,
        device_id=SERIAL_DEVICE,
        device_type="curtain",
        broker=small_site.broker.address,
        credentials=small_site.credentials.device(SERIAL_DEVICE),
        clock=SystemClock(),
        ping_s=1.0,
        retry_s=0.5,
    )
    task = asyncio.create_task(bridge.run())
    try:
        async with asyncio.timeout(TIMEOUT):
            await bridge.up.wait()
        yield bridge
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def ping(controller: aiomqtt.Client, cmd_topic: str) -> Ack:
    """A ping as the controller sends it, and its ack (the controller subscribed to it)."""
    command = new_command("ping", {}, "test-staff", SystemClock().now())
    await controller.publish(cmd_topic, encode(command), qos=QOS)
    async with asyncio.timeout(TIMEOUT):
        async for message in controller.messages:
            ack = decode(Ack, message.payload)  # type: ignore[arg-type]
            if ack.id == command.id:
                return ack
    raise AssertionError("no ack")


async def test_retained_command_never_goes_down_the_line(small_site: SmallSite) -> None:
    topics = SiteTopics(small_site.site.slug)
    cmd_topic = topics.device(SERIAL_DEVICE, Channel.CMD)
    creds = small_site.credentials.device(SERIAL_DEVICE)
    # A fresh session: a copy queued in an old one would arrive without the retain flag.
    async with make_client(
        small_site.broker.address,
        identifier=f"{small_site.site.slug}-{SERIAL_DEVICE}",
        username=creds.username,
        password=creds.password,
        persistent=False,
    ):
        pass
    # far from expiry and for this curtain: only the retain flag can stop it
    lifetime = timedelta(minutes=10)
    stray = new_command("set_position", {"position": 70}, "x", SystemClock().now(), lifetime)
    login = small_site.credentials.controller
    controller = make_client(
        small_site.broker.address,
        identifier="test-serial-controller",
        username=login.username,
        password=login.password,
        persistent=False,
    )
    line = open_line()
    firmware = SerialCurtain(line.master)
    firmware.start()
    async with controller:
        await controller.subscribe(topics.device(SERIAL_DEVICE, Channel.ACK), qos=QOS)
        await controller.publish(cmd_topic, encode(stray), qos=QOS, retain=True)
        try:
            for starts in (1, 2):  # the first start, then a restart of the bridge
                async with bridged(small_site, line.slave_path) as bridge:
                    # a later command's ack: everything delivered before it was handled
                    assert (await ping(controller, cmd_topic)).status is AckStatus.OK
                    assert bridge._gate.admission.counts == {"retained_command": 1}
                assert [c["action"] for c in firmware.commands] == ["ping"] * starts
                assert firmware.position == 0
        finally:
            await controller.publish(cmd_topic, b"", qos=QOS, retain=True)
            firmware.unplug()
            line.close()
