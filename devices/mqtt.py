"""How every Tryggbo component opens its MQTT connection (one place, one way).

MQTT 3.1.1 (the embedded demo broker speaks nothing newer), QoS 1, TCP_NODELAY on
the client socket (the broker config sets it too: without both a round trip takes
~88 ms because of Nagle), an optional last will, and a persistent session when asked.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import aiomqtt
import paho.mqtt.client as mqtt

from .contract import Availability
from .paho_fastpath import read_every_ready_packet

QOS = 1
T = TypeVar("T")


class BrokerUrlError(ValueError):
    """A broker URL that Tryggbo cannot use."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is: ``mqtt://host:port`` or ``mqtts://host:port``; over TLS
    ``?ca=/path/ca.pem`` trusts that CA (a site's own) instead of the system's."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Parse ``mqtt[s]://[user:pass@]host[:port]``; :class:`BrokerUrlError` if bad."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise BrokerUrlError(f"broker URL {url!r}: {exc}") from None
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise BrokerUrlError(f"broker URL {url!r} must look like mqtt://host:1883")
        tls = parts.scheme == "mqtts"
        query = parse_qs(parts.query)
        unknown = set(query) - {"ca"}
        if unknown or (query and not tls):
            raise BrokerUrlError(f"broker URL {url!r}: only mqtts:// takes ?ca=/path/ca.pem")
        return cls(
            host=parts.hostname,
            port=port or (8883 if tls else 1883),
            tls=tls,
            username=parts.username,
            password=parts.password,
            ca_file=query["ca"][-1] if "ca" in query else None,
        )

    @property
    def url(self) -> str:
        base = f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"
        return f"{base}?ca={self.ca_file}" if self.ca_file else base

    def tls_context(self) -> ssl.SSLContext:
        """Verifying TLS context: the site's CA when given, else the system's."""
        return ssl.create_default_context(cafile=self.ca_file)


@dataclass(frozen=True, slots=True)
class BrokerList:
    """The nodes of one logical broker, in the order a client tries them: one
    Mosquitto (the default, a list of one) or the nodes of a clustered broker (NATS,
    docs/architecture.md "Scale-out"), each reachable by every client."""

    nodes: tuple[BrokerAddress, ...]

    def __post_init__(self) -> None:
        if not self.nodes:
            raise BrokerUrlError("a broker list needs at least one broker URL")

    @classmethod
    def parse(cls, urls: str) -> BrokerList:
        """Parse comma-separated broker URLs (``mqtt://n1:1883,mqtt://n2:1883``);
        :class:`BrokerUrlError` names the bad one, or a node given twice."""
        nodes = tuple(BrokerAddress.parse(u.strip()) for u in urls.split(",") if u.strip())
        seen = [(n.host, n.port) for n in nodes]
        if len(set(seen)) != len(seen):
            raise BrokerUrlError(f"broker URLs {urls!r}: a node is given twice")
        return cls(nodes)

    @classmethod
    def of(cls, brokers: Brokers) -> BrokerList:
        """``brokers`` as a list (one address is a list of one)."""
        return brokers if isinstance(brokers, BrokerList) else cls((brokers,))

    @property
    def url(self) -> str:
        return ",".join(n.url for n in self.nodes)


#: one broker or the nodes of a cluster: what a client is given
Brokers = BrokerAddress | BrokerList


class Failover:
    """Which node of a :class:`BrokerList` a client connects to next, and after how
    long. A connection that is lost or refused moves it to the next node (round the
    list) after ``first_delay_s``; once every node has failed in a row the delay
    doubles per round, up to ``max_delay_s``; a connection that is accepted starts
    over. With one broker this is plain capped exponential backoff. ``spread_by`` (a
    client id) picks the first node, so a home's devices spread over the nodes.

    The session is persistent (clean session off) on every node, and a clustered
    broker keeps it replicated, so QoS 1 messages in flight when a node died are
    delivered again through the next one."""

    def __init__(
        self, brokers: Brokers, *, first_delay_s: float, max_delay_s: float, spread_by: str = ""
    ) -> None:
        self.brokers = BrokerList.of(brokers)
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self._at = zlib.crc32(spread_by.encode()) % len(self.brokers.nodes) if spread_by else 0
        self._failures = 0  # connections lost or refused since the last accepted one

    @property
    def current(self) -> BrokerAddress:
        """The node to connect to now."""
        return self.brokers.nodes[self._at]

    def connected(self) -> None:
        """The current node accepted the connection."""
        self._failures = 0

    def failed(self) -> float:
        """The connection to the current node was lost or refused: move to the next
        node; answer the seconds to wait before connecting to it."""
        self._failures += 1
        self._at = (self._at + 1) % len(self.brokers.nodes)
        rounds = (self._failures - 1) // len(self.brokers.nodes)
        return float(min(self.first_delay_s * 2**rounds, self.max_delay_s))


def reraise_swallowed_cancel() -> None:
    """Python 3.11's ``asyncio.wait_for`` (inside aiomqtt's connect, subscribe and
    publish) can swallow a cancellation that races with the result, and the task runs
    on. Call this after each such await so a stopped task really stops."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def unless_dropped(client: aiomqtt.Client, call: Awaitable[T]) -> T:
    """Await ``call`` (a subscribe or publish of ``client``), or raise
    :class:`aiomqtt.MqttError` as soon as the connection drops: aiomqtt leaves such a
    call waiting for its whole timeout (10 s) for an answer that cannot come, which
    made every takeover of a session cost 10 s."""
    task = asyncio.ensure_future(call)
    waiting: set[asyncio.Future[Any]] = {task, client._disconnected}
    try:
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    if task.cancelled() or not task.done():
        raise aiomqtt.MqttError("the connection dropped before the broker answered")
    return task.result()


async def subscribe_all(
    client: aiomqtt.Client, topics: list[str], *, until_dropped: bool = False
) -> None:
    """Subscribe to ``topics`` at QoS 1 in one SUBSCRIBE and check the SUBACK: a topic
    the broker refused (0x80) raises :class:`aiomqtt.MqttError`, which the links treat
    as a lost connection (reconnect, to the next node). Mosquitto refuses nothing a
    login may read; a NATS node refuses while its cluster cannot create the
    subscription's JetStream consumer (a new leader is being elected), and a client
    that went on would never get that topic: a screen deaf to its help confirmation,
    a device that never sees the controller ``online`` and holds its events.
    ``until_dropped``: give up as soon as the connection drops (:func:`unless_dropped`)."""
    subscribing = client.subscribe([(topic, QOS) for topic in topics])
    granted: list[Any] = list(
        await (unless_dropped(client, subscribing) if until_dropped else subscribing)
    )
    refused = [t for t, code in zip(topics, granted, strict=False) if _is_failure(code)]
    if refused or len(granted) != len(topics):
        raise aiomqtt.MqttError(f"the broker refused the subscription to {', '.join(refused)}")


def _is_failure(code: object) -> bool:
    """A SUBACK return code that grants nothing (paho gives a ReasonCode or an int)."""
    value = getattr(code, "value", code)
    return isinstance(value, int) and value >= 0x80


def availability_will(topic: str) -> aiomqtt.Will:
    """The retained ``offline`` last will for an availability topic."""
    return aiomqtt.Will(topic, Availability.OFFLINE.value, qos=QOS, retain=True)


MessageHandler = Callable[[aiomqtt.Message], None]


def dispatching_queue(handler: MessageHandler) -> type[asyncio.Queue[aiomqtt.Message]]:
    """A stand-in for aiomqtt's incoming-message queue that hands each message to
    ``handler`` as paho delivers it (on the event loop), instead of queueing it.

    aiomqtt's ``client.messages`` iterator creates a task and an ``asyncio.wait`` for
    every message; without them the controller's ingest rate doubled (2,000 devices).
    With this queue ``client.messages`` never yields a message; iterating it still
    ends with :class:`aiomqtt.MqttError` when the connection drops. ``handler`` must
    not raise and must not block.
    """

    class Dispatching(asyncio.Queue[aiomqtt.Message]):
        def __init__(self, maxsize: int = 0, **_kw: Any) -> None:
            super().__init__(maxsize)

        def put_nowait(self, item: aiomqtt.Message) -> None:
            handler(item)

    return Dispatching


def make_client(
    broker: BrokerAddress,
    *,
    identifier: str,
    username: str | None = None,
    password: str | None = None,
    will_topic: str | None = None,
    persistent: bool = True,
    keepalive: int = 30,
    max_inflight: int = 100,
    tls_context: ssl.SSLContext | None = None,
    on_message: MessageHandler | None = None,
    manual_ack: bool = False,
    fast_read: bool = True,
) -> aiomqtt.Client:
    """An aiomqtt client configured the Tryggbo way (not yet connected). With
    ``on_message`` each incoming message is handed to it directly
    (:func:`dispatching_queue`) rather than read from ``client.messages``, and paho
    reads every packet its socket holds per wake-up (devices/paho_fastpath.py, when
    the installed paho is one it was tested with; ``fast_read=False``: paho as it
    ships). With ``manual_ack`` no PUBACK leaves until the paho client
    (:func:`paho_of`) acks the message (controller/receipts.py: once what it carried
    is durable)."""
    if broker.tls and tls_context is None:
        tls_context = broker.tls_context()
    client = aiomqtt.Client(
        broker.host,
        broker.port,
        identifier=identifier,
        username=username if username is not None else broker.username,
        password=password if password is not None else broker.password,
        protocol=aiomqtt.ProtocolVersion.V311,
        clean_session=not persistent,
        will=availability_will(will_topic) if will_topic else None,
        keepalive=keepalive,
        timeout=10,
        max_inflight_messages=max_inflight,
        socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        tls_context=tls_context if broker.tls else None,
        queue_type=dispatching_queue(on_message) if on_message else None,
    )
    if on_message is not None and fast_read:
        read_every_ready_packet(client)
    if manual_ack:
        client._client.manual_ack_set(True)
    return client


def paho_of(client: aiomqtt.Client) -> mqtt.Client:
    """The paho client an aiomqtt client drives (for ``ack`` with manual acknowledgement)."""
    return client._client
