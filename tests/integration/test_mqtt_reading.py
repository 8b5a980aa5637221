"""The controller's MQTT client reads every packet waiting on its socket per wake-up
(devices.mqtt.read_every_ready_packet), on the suite's real Mosquitto."""

from __future__ import annotations

import asyncio
import socket

import aiomqtt

from devices.mqtt import make_client
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
