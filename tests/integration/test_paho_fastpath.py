"""The paho fast path (devices/paho_fastpath.py) on the suite's real Mosquitto: it reads
every packet waiting on the socket per wake-up, reads what plain paho reads (order,
payloads, QoS 1 acknowledgements by hand), and its guard refuses a paho it was not
tested with; its QoS 1 publish waits for each message's own PUBACK however many are in
flight."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
import paho.mqtt
import pytest

from devices.mqtt import make_client, paho_of
from devices.paho_fastpath import TESTED_PAHO, publish_qos1, read_every_ready_packet, refusal
from tests.conftest import BrokerUnderTest

COUNT = 20


def _client(mosquitto: BrokerUnderTest, n: int, **options: Any) -> aiomqtt.Client:
    login = mosquitto.observer(n)
    return make_client(
        mosquitto.address,
        identifier=login.username,
        username=login.username,
        password=login.password,
        **options,
    )


@asynccontextmanager
async def twenty_waiting(
    mosquitto: BrokerUnderTest, name: str, **reader_options: Any
) -> AsyncIterator[tuple[aiomqtt.Client, list[bytes]]]:
    """A reader whose socket holds ``COUNT`` PUBLISH packets nobody has read yet (the
    test calls paho's ``loop_read`` by hand), and their payloads."""
    topic = f"tryggbo/{mosquitto.site.slug}/{name}"
    reader = _client(mosquitto, 0, persistent=False, **reader_options)
    async with reader, _client(mosquitto, 1, persistent=False) as writer:
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
        got.append(bytes(message.payload))

    async with twenty_waiting(mosquitto, "test-reading", on_message=on_message) as (
        reader,
        payloads,
    ):
        reader._client.loop_read()  # one wake-up of the reader
        assert got == payloads


async def test_a_per_topic_callback_still_takes_its_messages_as_in_plain_paho(
    mosquitto: BrokerUnderTest,
) -> None:
    """The fast path hands messages straight to ``on_message`` only while paho has no
    per-topic callback (``message_callback_add``); with one, paho's own delivery runs
    and the callback gets its topic's messages instead of ``on_message``."""
    general: list[bytes] = []
    filtered: list[bytes] = []

    def on_message(message: aiomqtt.Message) -> None:
        general.append(bytes(message.payload))

    async with twenty_waiting(mosquitto, "test-reading-filtered", on_message=on_message) as (
        reader,
        payloads,
    ):
        pc = paho_of(reader)
        assert pc._handle_on_message.__name__ == "straight"  # the fast delivery is on
        topic = f"tryggbo/{mosquitto.site.slug}/test-reading-filtered"
        pc.message_callback_add(topic, lambda _c, _u, m: filtered.append(bytes(m.payload)))
        pc.loop_read()
        assert filtered == payloads
        assert general == []


async def test_plain_paho_reads_one_packet_per_wake_up(mosquitto: BrokerUnderTest) -> None:
    """The counterpart of the test above: what the fast path changes."""
    got: list[bytes] = []

    def on_message(message: aiomqtt.Message) -> None:
        got.append(bytes(message.payload))

    async with twenty_waiting(
        mosquitto, "test-reading-plain", on_message=on_message, fast_read=False
    ) as (reader, payloads):
        reader._client.loop_read()
        assert got == payloads[:1]


async def test_past_its_limit_a_read_still_empties_what_it_has_buffered(
    mosquitto: BrokerUnderTest,
) -> None:
    async with twenty_waiting(mosquitto, "test-reading-limit") as (reader, _payloads):
        assert read_every_ready_packet(reader, limit=5)
        reader._client.loop_read()  # one recv takes all 20; the 15 past 5 are not left
        assert len(reader.messages) == COUNT


@dataclass
class Received:
    """What one reader was handed: (payload, qos) in order."""

    messages: list[tuple[bytes, int]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    until: int = 0


#: small ones, and ones bigger than the fast path's 64 KiB read, so packets straddle reads
PAYLOADS = [
    (f"m{n:03d}-".encode() + bytes([65 + n % 26]) * (100_000 if n % 7 == 3 else n))
    for n in range(40)
]
#: the reader acknowledges this many, the rest it leaves unacknowledged
ACKED = 25


async def _read_with_manual_acks(
    mosquitto: BrokerUnderTest, topic: str, n: int, *, fast_read: bool
) -> tuple[list[tuple[bytes, int]], list[tuple[bytes, int]]]:
    """Publish ``PAYLOADS`` at QoS 1 to a persistent reader that acknowledges only the
    first ``ACKED``; reconnect it and return what it got first and what the broker
    sent again (up to a final marker message)."""
    seen = Received()
    client_box: list[aiomqtt.Client] = []

    def on_message(message: aiomqtt.Message) -> None:
        seen.messages.append((bytes(message.payload), message.qos))
        if len(seen.messages) <= ACKED or seen.until == -1:
            paho_of(client_box[0]).ack(message.mid, message.qos)
        if len(seen.messages) >= seen.until > 0 or message.payload == b"marker":
            seen.arrived.set()

    def reader() -> aiomqtt.Client:
        client = _client(
            mosquitto, n, persistent=True, on_message=on_message, manual_ack=True,
            fast_read=fast_read,
        )  # fmt: skip
        client_box[:] = [client]
        return client

    async with reader() as first:
        await first.subscribe(topic, qos=1)
    async with reader(), _client(mosquitto, 2, persistent=False) as writer:
        seen.until = len(PAYLOADS)
        for payload in PAYLOADS:
            await writer.publish(topic, payload, qos=1)
        async with asyncio.timeout(20):
            await seen.arrived.wait()
    first_time = list(seen.messages)
    seen.messages.clear()
    seen.arrived.clear()
    seen.until = -1  # acknowledge everything from now on
    async with reader(), _client(mosquitto, 2, persistent=False) as writer:
        await writer.publish(topic, b"marker", qos=1)
        async with asyncio.timeout(20):
            await seen.arrived.wait()
    async with _client(mosquitto, n, persistent=False):  # a clean session: forget it
        pass
    return first_time, seen.messages


async def test_the_fast_path_reads_what_plain_paho_reads(mosquitto: BrokerUnderTest) -> None:
    """Same messages, same order, same QoS; a message acknowledged by hand is never sent
    again, one not acknowledged is sent again after a reconnect, for both readers."""
    assert refusal() is None, "the installed paho is not one the fast path applies to"
    topic = f"tryggbo/{mosquitto.site.slug}/test-fastpath-same"
    plain = await _read_with_manual_acks(mosquitto, topic + "-plain", 0, fast_read=False)
    fast = await _read_with_manual_acks(mosquitto, topic + "-fast", 1, fast_read=True)
    for first_time, again in (plain, fast):
        assert [m[0] for m in first_time] == PAYLOADS
        assert {m[1] for m in first_time} == {1}
        assert [m[0] for m in again] == [*PAYLOADS[ACKED:], b"marker"]
    assert fast == plain


@pytest.mark.parametrize("version", ["2.1.0", "2.3.0", "3.0.0", "1.6.1", "2.2.0rc1", "", "two"])
def test_the_guard_refuses_a_paho_it_was_not_tested_with(version: str) -> None:
    why = refusal(version)
    assert why is not None
    assert "not a version the fast path was tested with" in why


def test_the_guard_accepts_the_tested_versions() -> None:
    low, _high = TESTED_PAHO
    assert refusal(".".join(map(str, low)) + ".0") is None
    assert refusal(".".join(map(str, low)) + ".7") is None
    assert refusal(paho.mqtt.__version__) is None


def test_the_guard_refuses_a_client_without_the_parts_it_needs() -> None:
    class Changed:
        def _sock_recv(self, bufsize: int, flags: int = 0) -> bytes:
            return b""

    why = refusal(client_class=Changed)
    assert why is not None
    assert "_sock_recv" in why

    class Missing:
        pass

    why = refusal(client_class=Missing)
    assert why is not None
    assert "no Client._sock_recv" in why


async def test_a_refused_paho_is_left_as_it_ships_with_one_warning(
    mosquitto: BrokerUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    got: list[bytes] = []

    def on_message(message: aiomqtt.Message) -> None:
        got.append(bytes(message.payload))

    async with twenty_waiting(
        mosquitto, "test-reading-refused", on_message=on_message, fast_read=False
    ) as (reader, payloads):
        with caplog.at_level("WARNING", logger="devices.paho_fastpath"):
            assert not read_every_ready_packet(reader, paho_version="9.9.9")
            assert not read_every_ready_packet(reader, paho_version="9.9.9")
        warnings = [r for r in caplog.records if "9.9.9" in r.getMessage()]
        assert len(warnings) == 1
        reader._client.loop_read()
        assert got == payloads[:1]  # paho's own reading: one packet per wake-up


async def test_many_qos1_publishes_in_flight_each_wait_for_their_own_puback(
    mosquitto: BrokerUnderTest,
) -> None:
    """``publish_qos1`` with 2,000 publishes in flight at once (no cap on the
    controller's in-flight window, as the link sets it): every one returns after the
    broker's PUBACK and the subscriber gets every message once, in order."""
    topic = f"tryggbo/{mosquitto.site.slug}/test-fan-out"
    got: list[bytes] = []
    all_in = asyncio.Event()
    payloads = [f"c{n:04d}".encode() for n in range(2000)]

    def on_message(message: aiomqtt.Message) -> None:
        got.append(bytes(message.payload))
        if len(got) == len(payloads):
            all_in.set()

    reader = _client(mosquitto, 0, persistent=False, on_message=on_message)
    # as the controller's link: its own messages handled, so the fast path is on
    writer = _client(mosquitto, 1, persistent=False, max_inflight=0, on_message=print)
    sends: list[int] = []
    pc = writer._client
    send = pc._sock_send

    def counted_send(data: bytes) -> int:
        sends.append(len(data))
        return send(data)

    pc._sock_send = counted_send  # type: ignore[method-assign]
    async with reader, writer:
        await reader.subscribe(topic, qos=1)
        await asyncio.gather(
            *(publish_qos1(writer, topic, p, retain=False, timeout=30) for p in payloads)
        )
        assert writer._pending_publishes == {}  # every confirmation came and was removed
        assert pc._out_messages == {}  # paho holds none unacknowledged
        async with asyncio.timeout(30):
            await all_in.wait()
    assert got == payloads
    # the 2,000 PUBLISH packets went out together, not with a send each
    assert len(sends) < 100, len(sends)


async def test_a_qos1_publish_without_a_puback_times_out_and_leaves_nothing_pending(
    mosquitto: BrokerUnderTest,
) -> None:
    """The broker never answers (the socket is no longer read): the publish raises
    aiomqtt's timeout error and its confirmation is removed."""
    writer = _client(mosquitto, 1, persistent=False, max_inflight=0)
    async with writer:
        sock = writer._client.socket()
        assert isinstance(sock, socket.socket)
        asyncio.get_running_loop().remove_reader(sock)  # no PUBACK is ever read
        with pytest.raises(aiomqtt.MqttError, match="timed out"):
            await publish_qos1(
                writer, f"tryggbo/{mosquitto.site.slug}/test-lost", b"x", retain=False, timeout=0.3
            )
        assert writer._pending_publishes == {}
        asyncio.get_running_loop().add_reader(sock, writer._client.loop_read)


async def test_without_aiomqtts_table_the_publish_is_aiomqtts_own(
    mosquitto: BrokerUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another aiomqtt (no ``_pending_publishes``): ``publish_qos1`` calls its
    ``publish`` with QoS 1 and the same retain flag and timeout."""
    calls: list[tuple[Any, ...]] = []
    writer = _client(mosquitto, 1, persistent=False)

    async def publish(topic: str, payload: Any, *, qos: int, retain: bool, timeout: float) -> None:
        calls.append((topic, payload, qos, retain, timeout))

    monkeypatch.delattr(writer, "_pending_publishes")
    monkeypatch.setattr(writer, "publish", publish)
    await publish_qos1(writer, "t", b"p", retain=True, timeout=4)
    assert calls == [("t", b"p", 1, True, 4)]


async def test_a_partial_write_sends_the_rest_in_order(mosquitto: BrokerUnderTest) -> None:
    """The socket takes only part of the joined packets (a few bytes at a time): what
    is left goes out next, from the right byte, and every message arrives whole and in
    order."""
    topic = f"tryggbo/{mosquitto.site.slug}/test-partial"
    got: list[bytes] = []
    all_in = asyncio.Event()
    payloads = [f"p{n:03d}".encode() for n in range(50)]

    def on_message(message: aiomqtt.Message) -> None:
        got.append(bytes(message.payload))
        if len(got) == len(payloads):
            all_in.set()

    reader = _client(mosquitto, 0, persistent=False, on_message=on_message)
    writer = _client(mosquitto, 1, persistent=False, max_inflight=0, on_message=print)
    pc = writer._client
    send = pc._sock_send
    sizes: list[int] = []

    def stingy_send(data: bytes) -> int:
        sizes.append(len(data))
        return send(data[:7])  # never more than 7 bytes at once

    async with reader, writer:
        await reader.subscribe(topic, qos=1)
        pc._sock_send = stingy_send  # type: ignore[method-assign]
        await asyncio.gather(
            *(publish_qos1(writer, topic, p, retain=False, timeout=30) for p in payloads)
        )
        async with asyncio.timeout(30):
            await all_in.wait()
        pc._sock_send = send  # type: ignore[method-assign]
    assert got == payloads
    assert max(sizes) > 7  # packets were joined, and cut by the socket


async def test_pubacks_of_mqtt_311_are_read_by_the_fast_path(mosquitto: BrokerUnderTest) -> None:
    """A PUBACK is matched to its publish by the fast path (no ReasonCode or
    Properties made per PUBACK): the publish returns, ``on_publish`` is told the id
    with a success code, and paho forgets the message."""
    told: list[tuple[int, bool]] = []
    writer = _client(mosquitto, 1, persistent=False, max_inflight=0, on_message=print)
    pc = writer._client
    assert pc._handle_pubackcomp.__name__ == "pubackcomp"
    on_publish = pc.on_publish
    assert on_publish is not None

    def told_publish(client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        told.append((mid, reason.is_failure))
        on_publish(client, userdata, mid, reason, properties)

    pc.on_publish = told_publish
    async with writer:
        info_mids = []
        for n in range(3):
            await publish_qos1(writer, f"tryggbo/{mosquitto.site.slug}/a{n}", b"x", retain=False)
            info_mids.append(pc._last_mid)
    assert told == [(mid, False) for mid in info_mids]
    assert pc._out_messages == {}
