"""The controller's MQTT client reads every packet waiting on its socket per wake-up
(devices.mqtt.read_every_ready_packet), on the suite's real Mosquitto."""

from __future__ import annotations

import asyncio
import socket

import aiomqtt

from devices.mqtt import make_client, read_every_ready_packet
from tests.conftest import BrokerUnderTest

COUNT = 20


async def test_one_read_handles_every_packet_the_socket_holds(
    mosquitto: BrokerUnderTest,
) -> None:
    login = mosquitto.credentials.controller
    topic = f"tryggbo/{mosquitto.site.slug}/test-reading"
    got: list[bytes] = []

    def kw(ident: str) -> dict[str, object]:
        return {
            "identifier": ident,
            "username": login.username,
            "password": login.password,
            "persistent": False,
        }

    def on_message(message: aiomqtt.Message) -> None:
        got.append(bytes(message.payload))  # type: ignore[arg-type]

    reader = make_client(mosquitto.address, on_message=on_message, **kw("test-reader"))  # type: ignore[arg-type]
    async with reader, make_client(mosquitto.address, **kw("test-writer")) as writer:  # type: ignore[arg-type]
        await reader.subscribe(topic, qos=1)
        paho = reader._client
        sock = paho.socket()
        assert isinstance(sock, socket.socket)
        loop = asyncio.get_running_loop()
        loop.remove_reader(sock)  # the test reads by hand from here on
        payloads = [f"m{n:02d}".encode() for n in range(COUNT)]
        for payload in payloads:
            await writer.publish(topic, payload, qos=1)
        size = COUNT * (2 + 2 + len(topic) + 2 + 3)  # PUBLISH packets, QoS 1
        # a socket's buffered byte count has no event to await: look until it is all
        # there (bounded)
        async with asyncio.timeout(5):
            while len(sock.recv(size, socket.MSG_PEEK)) < size:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        paho.loop_read()  # one wake-up of the reader
        assert got == payloads


async def test_past_its_limit_a_read_still_empties_what_it_has_buffered(
    mosquitto: BrokerUnderTest,
) -> None:
    login = mosquitto.credentials.controller
    topic = f"tryggbo/{mosquitto.site.slug}/test-reading-limit"
    kw = {"username": login.username, "password": login.password, "persistent": False}
    reader = make_client(mosquitto.address, identifier="test-reader-2", **kw)  # type: ignore[arg-type]
    async with reader, make_client(mosquitto.address, identifier="test-writer-2", **kw) as writer:  # type: ignore[arg-type]
        await reader.subscribe(topic, qos=1)
        read_every_ready_packet(reader, limit=5)
        paho = reader._client
        sock = paho.socket()
        assert isinstance(sock, socket.socket)
        asyncio.get_running_loop().remove_reader(sock)  # the test reads by hand
        for n in range(COUNT):
            await writer.publish(topic, f"m{n:02d}".encode(), qos=1)
        size = COUNT * (2 + 2 + len(topic) + 2 + 3)
        async with asyncio.timeout(5):  # all of it in the socket (see above)
            while len(sock.recv(size, socket.MSG_PEEK)) < size:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        paho.loop_read()  # one recv takes all 20; the 15 past the limit are not left
        assert len(reader.messages) == COUNT
