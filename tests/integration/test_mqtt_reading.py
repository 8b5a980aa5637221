"""The controller's MQTT client reads every packet waiting on its socket per wake-up
(devices.mqtt.read_every_ready_packet), on the suite's real Mosquitto."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiomqtt

from devices.mqtt import make_client, read_every_ready_packet
from tests.conftest import BrokerUnderTest

COUNT = 20


@asynccontextmanager
async def twenty_waiting(
    mosquitto: BrokerUnderTest, name: str, **reader_options: Any
) -> AsyncIterator[tuple[aiomqtt.Client, list[bytes]]]:
    """A reader whose socket holds ``COUNT`` PUBLISH packets nobody has read yet (the
    test calls paho's ``loop_read`` by hand), and their payloads."""
    topic = f"tryggbo/{mosquitto.site.slug}/{name}"

    def as_observer(n: int, **options: Any) -> aiomqtt.Client:
        login = mosquitto.observer(n)
        return make_client(
            mosquitto.address,
            identifier=login.username,
            username=login.username,
            password=login.password,
            persistent=False,
            **options,
        )

    reader = as_observer(0, **reader_options)
    async with reader, as_observer(1) as writer:
        await reader.subscribe(topic, qos=1)
        sock = reader._client.socket()
        assert isinstance(sock, socket.socket)
        asyncio.get_running_loop().remove_reader(sock)  # the test reads by hand
        payloads = [f"m{n:02d}".encode() for n in range(COUNT)]
        for payload in payloads:
            await writer.publish(topic, payload, qos=1)
        size = COUNT * (2 + 2 + len(topic) + 2 + 3)  # PUBLISH packets, QoS 1
        # a socket's buffered byte count has no event to await: look until it is all
        # there (bounded)
        async with asyncio.timeout(5):
            while len(sock.recv(size, socket.MSG_PEEK)) < size:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        yield reader, payloads


async def test_one_read_handles_every_packet_the_socket_holds(
    mosquitto: BrokerUnderTest,
) -> None:
    got: list[bytes] = []

    def on_message(message: aiomqtt.Message) -> None:
        got.append(bytes(message.payload))  # type: ignore[arg-type]

    async with twenty_waiting(mosquitto, "test-reading", on_message=on_message) as (
        reader,
        payloads,
    ):
        reader._client.loop_read()  # one wake-up of the reader
        assert got == payloads


async def test_past_its_limit_a_read_still_empties_what_it_has_buffered(
    mosquitto: BrokerUnderTest,
) -> None:
    async with twenty_waiting(mosquitto, "test-reading-limit") as (reader, _payloads):
        read_every_ready_packet(reader, limit=5)
        reader._client.loop_read()  # one recv takes all 20; the 15 past 5 are not left
        assert len(reader.messages) == COUNT
