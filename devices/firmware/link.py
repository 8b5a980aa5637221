"""One simulated device's MQTT connection: reconnects, ordered outbox, last will.

The link keeps one persistent-session connection (client id ``{site}-{device}``,
retained ``offline`` as last will) and reconnects forever with exponential backoff
(0.2 s doubling to 5 s). Given the nodes of a clustered broker, a lost or refused
connection moves to the next node (:class:`devices.mqtt.Failover`; the backoff
doubles only after a whole round of the list has failed). Everything the device
publishes goes through one outbox, sent in order by one sender; what cannot be sent
waits there (bounded) for the next connection. On every connect the link subscribes,
then sends the device's announcement (meta, ``online``, state) ahead of anything
already waiting.

Events (``needs_controller``) leave the outbox only once the controller's retained
``online`` has been seen on *this* connection. The controller publishes it after its
subscriptions are in place, so an event sent after it reaches the controller's
subscription; an event sent earlier could be accepted (PUBACK) and dropped by a
broker that lost the controller's session (a SIGKILL within its autosave interval,
docs/reliability.md). Retained messages are not held: the broker keeps them for
the controller's next subscribe. An event the broker acknowledged less than
``RESEND_WINDOW_S`` before the connection was lost is sent again on the next one:
a broker that dies may not have delivered or saved it yet (it saves once a
second); the controller recognises one it already has (device, seq, ts).

Cancelling :meth:`DeviceLink.run` is a clean stop: pending messages, a retained
``offline``, then DISCONNECT. :meth:`DeviceLink.drop` is a dirty one (no DISCONNECT,
so the broker publishes the last will), like a power cut or a lost radio link.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import aiomqtt

from devices.contract import Availability
from devices.mqtt import (
    BrokerAddress,
    Brokers,
    Failover,
    make_client,
    reraise_swallowed_cancel,
    subscribe_all,
)
from devices.paho_fastpath import publish_qos1

log = logging.getLogger(__name__)

BACKOFF_START_S = 0.2
BACKOFF_MAX_S = 5.0
OUTBOX_MAX = 1000
GOODBYE_TIMEOUT_S = 2.0
#: events acknowledged this recently before a lost connection are sent again
RESEND_WINDOW_S = 5.0


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message waiting to be published (QoS 1)."""

    topic: str
    payload: bytes
    retain: bool = False
    #: held until the controller is seen ``online`` on the current connection
    needs_controller: bool = False


class DeviceLink:
    """The connection of one device; ``announce`` and ``on_message`` are the device's."""

    def __init__(
        self,
        broker: Brokers,
        *,
        client_id: str,
        username: str,
        password: str,
        will_topic: str,
        subscriptions: Iterable[str],
        announce: Callable[[], list[Outgoing]],
        on_message: Callable[[aiomqtt.Message], None],
    ) -> None:
        #: the node to connect to now, and the next on failure
        self.failover = Failover(
            broker, first_delay_s=BACKOFF_START_S, max_delay_s=BACKOFF_MAX_S, spread_by=client_id
        )
        self.client_id = client_id
        self._username = username
        self._password = password
        self._will_topic = will_topic
        self._subscriptions = list(subscriptions)
        self._announce = announce
        self._on_message = on_message
        self._outbox: deque[Outgoing] = deque(maxlen=OUTBOX_MAX)
        self._outbox_ready = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._online = asyncio.Event()
        self._may_connect = asyncio.Event()
        self._may_connect.set()
        self._kick = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._controller_online = False
        #: (monotonic time of the PUBACK, event) on the current connection
        self._confirmed: deque[tuple[float, Outgoing]] = deque()

    @property
    def broker(self) -> BrokerAddress:
        """The broker (node) connected to, or to be tried next."""
        return self.failover.current

    @property
    def connected(self) -> bool:
        """True from the CONNACK until the connection is gone."""
        return self._client is not None

    @property
    def online(self) -> bool:
        """Connected, subscribed and announced."""
        return self._online.is_set()

    @property
    def controller_online(self) -> bool:
        """The site's controller was seen ``online`` on the current connection."""
        return self.online and self._controller_online

    @property
    def may_connect(self) -> bool:
        return self._may_connect.is_set()

    def send(self, message: Outgoing) -> None:
        """Queue a message; it goes out in order, now or after the next connect."""
        self._outbox.append(message)
        self._outbox_ready.set()

    async def publish_raw(self, topic: str, payload: bytes | str) -> None:
        """Publish ``payload`` as it is, now, on this connection, past the outbox: a
        faulty or compromised firmware (the broker binds the client id to the login,
        so a second connection with this login would take this one over).
        :class:`aiomqtt.MqttError` when not connected."""
        client = self._client
        if client is None:
            raise aiomqtt.MqttError(f"{self.client_id}: not connected")
        await publish_qos1(client, topic, payload, retain=False)

    def controller_availability(self, online: bool) -> None:
        """The controller's availability as received on the current connection: while
        it is ``online`` the held events go out."""
        self._controller_online = online
        if online:
            self._outbox_ready.set()

    async def wait_online(self, timeout: float | None = 10.0) -> None:
        async with asyncio.timeout(timeout):
            await self._online.wait()

    def drop(self, *, stay_away: bool = False) -> None:
        """Cut the connection without DISCONNECT (the last will fires). Reconnect at
        once, or only after :meth:`allow` when ``stay_away``."""
        if stay_away:
            self._may_connect.clear()
        else:
            self._kick.set()
        self._online.clear()
        if self._client is None:
            return
        if self._sender is not None:
            self._sender.cancel()  # nothing more goes out on a connection being cut
        # paho's socket under aiomqtt (no public accessor): shut it to drop without DISCONNECT.
        sock = self._client._client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def allow(self) -> None:
        """Connect again (after ``drop(stay_away=True)``), without waiting for backoff."""
        self._may_connect.set()
        self._kick.set()

    async def run(self) -> None:
        """Connect and reconnect with backoff (to the next node) until cancelled."""
        while True:
            await self._may_connect.wait()
            self._kick.clear()
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                wanted = self._kick.is_set() or not self._may_connect.is_set()
                log.log(
                    logging.INFO if wanted else logging.WARNING,
                    "%s: disconnected: %s",
                    self.client_id,
                    exc,
                )
            except Exception:
                log.exception("%s: connection failed", self.client_id)
            backoff = self.failover.failed()
            if self._kick.is_set():
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff):
                    await self._kick.wait()

    async def _session(self) -> None:
        """One connection, until it drops (MqttError) or the task is cancelled."""
        client = make_client(
            self.broker,
            identifier=self.client_id,
            username=self._username,
            password=self._password,
            will_topic=self._will_topic,
            persistent=True,
        )
        self._controller_online = False  # until this connection has seen it
        async with client:
            self._client = client
            self.failover.connected()
            self._sender = None
            try:
                reraise_swallowed_cancel()
                await subscribe_all(client, self._subscriptions)
                reraise_swallowed_cancel()
                self._outbox.extendleft(reversed(self._announce()))
                self._outbox_ready.set()
                self._sender = asyncio.create_task(self._send_all(client))
                self._online.set()
                log.info("%s: online", self.client_id)
                if not self._may_connect.is_set():
                    self.drop(stay_away=True)
                async for message in client.messages:
                    self._on_message(message)
            except asyncio.CancelledError:
                await self._goodbye(client)
                raise
            except aiomqtt.MqttError:
                if self._sender is not None:  # its unconfirmed message goes back first
                    self._sender.cancel()
                    await asyncio.wait([self._sender], timeout=GOODBYE_TIMEOUT_S)
                self._resend_recent()
                raise
            finally:
                self._confirmed.clear()
                self._client = None
                self._online.clear()
                if self._sender is not None:
                    self._sender.cancel()
                    self._sender = None

    async def _send_all(self, client: aiomqtt.Client) -> None:
        """Publish the outbox in order; a failed publish drops the connection."""
        try:
            while True:
                self._outbox_ready.clear()
                await self._flush(client)
                reraise_swallowed_cancel()
                await self._outbox_ready.wait()
        except aiomqtt.MqttError as exc:
            log.warning("%s: publish failed: %s", self.client_id, exc)
            self.drop()

    async def _flush(self, client: aiomqtt.Client, timeout: float | None = None) -> None:
        """Publish what may go now, in order; held events keep their place."""
        held: list[Outgoing] = []
        try:
            while self._outbox:
                item = self._outbox.popleft()
                if item.needs_controller and not self._controller_online:
                    held.append(item)
                    continue
                try:
                    await publish_qos1(
                        client, item.topic, item.payload, retain=item.retain, timeout=timeout
                    )
                except BaseException:
                    self._outbox.appendleft(item)  # not confirmed: send it again later
                    raise
                if item.needs_controller:
                    self._confirmed.append((time.monotonic(), item))
        finally:
            self._outbox.extendleft(reversed(held))

    def _resend_recent(self) -> None:
        """The connection was lost: the events the broker acknowledged in the last
        ``RESEND_WINDOW_S`` go out again first (in their order) on the next one."""
        since = time.monotonic() - RESEND_WINDOW_S
        again = [item for at, item in self._confirmed if at >= since]
        self._confirmed.clear()
        if again:
            log.info("%s: %d recent events will be sent again", self.client_id, len(again))
            self._outbox.extendleft(reversed(again))

    async def _goodbye(self, client: aiomqtt.Client) -> None:
        """Clean stop: what is pending, then a retained ``offline`` (DISCONNECT follows)."""
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.wait([self._sender], timeout=GOODBYE_TIMEOUT_S)
        with contextlib.suppress(aiomqtt.MqttError):
            await self._flush(client, timeout=GOODBYE_TIMEOUT_S)
            await publish_qos1(
                client,
                self._will_topic,
                Availability.OFFLINE.value,
                retain=True,
                timeout=GOODBYE_TIMEOUT_S,
            )
