"""The controller's only connection to the broker.

A persistent session (clean_session=False, fixed client id) so QoS 1 events that
arrive while the controller is away are queued by the broker; a retained ``offline``
last will on ``controller/availability``; reconnects with capped, jittered backoff and
resubscribes, which also replays every retained meta/availability/state (resync).
Given the nodes of a clustered broker (a :class:`~devices.mqtt.BrokerList`), a lost
or refused connection moves to the next node (:class:`~devices.mqtt.Failover`); the
cluster keeps the session, so the events queued for it come through the new node.

Messages are acknowledged by hand (paho's manual ack): the handler gets each message
with a :class:`~controller.receipts.Receipt` and the PUBACK leaves once everything
that took a hold on it is durable (controller/receipts.py).

The client id is the login's username (the broker binds them). A connection the
broker closed, followed by a connect the same broker accepts at the first try, is
counted as taken over (:meth:`MqttLink.takeovers`): the broker was up and dropped us,
as it does when another client connects with our client id (MQTT 3.1.1 has no reason
code for it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable

import aiomqtt
import paho.mqtt.client as mqtt

from config.credentials import MqttLogin
from devices.contract import Availability, Channel, SiteTopics
from devices.mqtt import (
    QOS,
    BrokerAddress,
    Brokers,
    Failover,
    make_client,
    paho_of,
    reraise_swallowed_cancel,
    subscribe_all,
    unless_dropped,
)
from devices.paho_fastpath import publish_qos1

from .receipts import Connection, Receipt

log = logging.getLogger(__name__)

#: the controller's message handler: a message and the receipt its work holds
ReportHandler = Callable[[aiomqtt.Message, Receipt], None]


class NotConnected(RuntimeError):
    """Publishing while the broker is unreachable."""


class MqttLink:
    """Connects, subscribes to the site, hands every message to ``handler``."""

    def __init__(
        self,
        broker: Brokers,
        topics: SiteTopics,
        login: MqttLogin | None,
        handler: ReportHandler,
        *,
        identifier: str | None = None,
        backoff_max_s: float = 5.0,
        shared_group: str | None = None,
    ) -> None:
        #: the node to connect to now, and the next on failure
        self.failover = Failover(broker, first_delay_s=0.1, max_delay_s=backoff_max_s)
        self.topics = topics
        self.login = login
        self.handler = handler
        #: the client id: the login's username (the broker binds it), else given
        self.identifier = (
            login.username if login else identifier or f"tryggbo-controller-{topics.site}"
        )
        #: several controllers of one site: each device event goes to one of them
        self.shared_group = shared_group
        self.connected = asyncio.Event()
        self.connects = 0
        self._connect_change = asyncio.Condition()
        self._client: aiomqtt.Client | None = None
        #: the receipts of the current connection (none acknowledged before connect)
        self.receipts = Connection(None)
        self._background: set[asyncio.Task[None]] = set()
        #: monotonic times of connections taken over (bounded)
        self._takeovers: deque[float] = deque(maxlen=1000)

    @property
    def broker(self) -> BrokerAddress:
        """The broker (node) connected to, or to be tried next."""
        return self.failover.current

    def subscriptions(self) -> list[str]:
        """What the controller reads. With ``shared_group`` (scale-out) device events
        are a shared subscription (``$share/{group}/...``: the broker hands each event
        to one controller, which stores it and raises its alarm); state, availability,
        meta, acks and fire still reach every controller, so each has every twin and
        gets the acks of the commands it sent. Mosquitto offers ``$share`` to MQTT
        3.1.1 clients too (the repo stays on 3.1.1: amqtt, the demo broker, has no v5).
        """
        t = self.topics
        everyone = (Channel.META, Channel.AVAILABILITY, Channel.STATE, Channel.ACK)
        topics = [t.all_devices(ch) for ch in everyone] + [t.fire]
        events = t.all_devices(Channel.EVENT)
        if self.shared_group:
            topics.append(f"$share/{self.shared_group}/{events}")
        else:
            topics.append(events)
        # another controller of the site saying offline must not silence this one: the
        # devices hold their events while the site's controller is offline
        topics.append(t.controller_availability)
        return topics

    async def run(self) -> None:
        """Stay connected until cancelled; never raises for broker trouble."""
        dropped_by: BrokerAddress | None = None  # the node that closed our last connection
        while True:
            accepted = False
            broker = self.broker
            client = make_client(
                broker,
                identifier=self.identifier,
                username=self.login.username if self.login else None,
                password=self.login.password if self.login else None,
                will_topic=self.topics.controller_availability,
                persistent=True,
                # no cap on our publishes awaiting their PUBACK: with one, paho walks
                # every message in flight on each PUBACK (a 5,000-command fan-out)
                max_inflight=0,
                on_message=self._dispatch,  # handled as paho delivers them
                manual_ack=True,  # PUBACK once what a message carried is durable
            )
            self.receipts.close()
            self.receipts = Connection(paho_of(client))
            try:
                async with client:
                    accepted = True
                    self.failover.connected()
                    if dropped_by == broker:
                        self._taken_over()
                    self._client = client
                    reraise_swallowed_cancel()
                    # one SUBSCRIBE (one round trip): the devices send their events
                    # once they see the ``online`` below, so it must come soon
                    await subscribe_all(client, self.subscriptions(), until_dropped=True)
                    reraise_swallowed_cancel()
                    await unless_dropped(
                        client,
                        client.publish(
                            self.topics.controller_availability,
                            Availability.ONLINE.value,
                            qos=QOS,
                            retain=True,
                        ),
                    )
                    reraise_swallowed_cancel()
                    self.connects += 1
                    self.connected.set()
                    async with self._connect_change:
                        self._connect_change.notify_all()
                    log.info("connected to %s (connect #%d)", broker.url, self.connects)
                    try:
                        # messages go to _dispatch as they arrive; this only waits
                        # for the connection to drop (MqttError)
                        async for message in client.messages:
                            self._dispatch(message)
                    except asyncio.CancelledError:
                        # stopping: messages still arrive (the handler runs from paho's
                        # callback), and our own ``offline`` must not be answered
                        self.connected.clear()
                        await self._say_offline(client)
                        raise
            except aiomqtt.MqttError as exc:
                log.warning("broker %s unreachable: %s", broker.url, exc)
            finally:
                dropped_by = broker if accepted else None
                self.connected.clear()
                self.receipts.close()
                self._client = None
            delay = self.failover.failed()
            log.info("connecting to %s in %.1fs", self.broker.url, delay)
            await asyncio.sleep(delay * (0.5 + random.random()))

    def _taken_over(self) -> None:
        self._takeovers.append(time.monotonic())
        log.error(
            "connection to %s taken over: the broker dropped it and took us back at "
            "once; another client is connecting as %s (a second instance with this "
            "login, or the login's password is out)",
            self.broker.url,
            self.identifier,
        )

    def takeovers(self, within_s: float) -> int:
        """Connections taken over in the last ``within_s`` seconds."""
        since = time.monotonic() - within_s
        return sum(1 for at in self._takeovers if at >= since)

    async def wait_connected(self, after: int = 0) -> None:
        """Wait until connected with more than ``after`` connects so far."""
        async with self._connect_change:
            await self._connect_change.wait_for(
                lambda: self.connects > after and self.connected.is_set()
            )

    def _dispatch(self, message: aiomqtt.Message) -> None:
        receipt = self.receipts.receive(message.mid, message.qos)
        try:
            # a plain comparison: Topic.matches builds and checks a wildcard per call
            # (6 % of the ingest CPU)
            if message.topic.value == self.topics.controller_availability:
                self._keep_site_online(message)
                return
            self.handler(message, receipt)
        except Exception:  # a bad message must never stop the link
            log.exception("handler failed on %s", message.topic)
        finally:
            receipt.release()  # the handler's own hold

    def _keep_site_online(self, message: aiomqtt.Message) -> None:
        """Another controller of the site (a scale-out peer, or one started by mistake)
        stopped and said ``offline``: while this one runs, the site's controller is
        online (the devices must neither start their fallback routines nor hold their
        events)."""
        if message.payload == Availability.OFFLINE.value.encode() and self.connected.is_set():
            log.warning("another controller of the site said offline; this one is online")
            task = asyncio.get_running_loop().create_task(self._say_online())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _say_online(self) -> None:
        try:
            await self.publish(self.topics.controller_availability, "online", retain=True)
        except NotConnected as exc:  # the next connect says it anyway
            log.warning("could not say online again: %s", exc)

    def put(self, topic: str, payload: bytes) -> None:
        """Hand a QoS 1 message to the client without waiting for the broker's PUBACK
        (paho sends it again until the broker has it, on this session): for a command,
        whose outcome is its device's ack, awaited anyway. :class:`NotConnected` when
        the broker is away or the client refuses it. Waiting for each PUBACK as well
        cost a 5,000-command fan-out an event, a timeout and a wake-up per command."""
        client = self._client
        if client is None or not self.connected.is_set():
            raise NotConnected(f"not connected to {self.broker.url}")
        info = paho_of(client).publish(topic, payload, QOS, False)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise NotConnected(f"publish refused: {mqtt.error_string(info.rc)}")

    async def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, timeout: float = 10
    ) -> None:
        """Publish at QoS 1; :class:`NotConnected` when the broker is away."""
        client = self._client
        if client is None or not self.connected.is_set():
            raise NotConnected(f"not connected to {self.broker.url}")
        try:
            await publish_qos1(client, topic, payload, retain=retain, timeout=timeout)
        except aiomqtt.MqttError as exc:
            reraise_swallowed_cancel()
            raise NotConnected(str(exc)) from exc
        # a stop during a publish must stop the caller (it hung the shutdown when the
        # fallback publisher was mid-way through a site's schedules)
        reraise_swallowed_cancel()

    async def _say_offline(self, client: aiomqtt.Client) -> None:
        """A clean stop sends no last will, so say ``offline`` before disconnecting."""
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            await publish_qos1(
                client,
                self.topics.controller_availability,
                Availability.OFFLINE.value,
                retain=True,
                timeout=2,
            )
