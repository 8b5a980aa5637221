"""Test helpers: a probe that plays the controller, and running simulated devices."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiomqtt

from devices.clock import SystemClock
from devices.contract import (
    Ack,
    Availability,
    Channel,
    Command,
    Event,
    SiteTopics,
    decode,
    decode_state,
    encode,
    new_command,
    parse_topic,
    sign_command,
)
from devices.firmware import SimulatedDevice
from devices.mqtt import QOS, make_client
from tests.conftest import OBSERVERS

CLOCK = SystemClock()
TIMEOUT = 5.0


@dataclass(frozen=True)
class Received:
    channel: Channel
    payload: bytes
    retain: bool


class Probe:
    """Logs in as the controller; sends commands to one device and records its output."""

    def __init__(self, broker: Any, device: SimulatedDevice, client: aiomqtt.Client) -> None:
        self.device = device
        self.client = client
        self.key = broker.credentials.device(device.device_id).key
        self.received: list[Received] = []
        self._changed = asyncio.Event()

    async def read(self) -> None:
        async for message in self.client.messages:
            channel = parse_topic(message.topic.value).channel
            assert channel is not None
            payload = message.payload if isinstance(message.payload, bytes) else b""
            self.received.append(Received(channel, payload, message.retain))
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()

    def mark(self) -> int:
        """A point in the record: waits with ``since=mark`` look only at what came after."""
        return len(self.received)

    async def wait_for(
        self, predicate: Callable[[Received], bool], *, since: int = 0, timeout: float = TIMEOUT
    ) -> Received:
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed
                found = next((r for r in self.received[since:] if predicate(r)), None)
                if found is not None:
                    return found
                await changed.wait()

    async def send(self, command: Command, *, sign: bool = True, retain: bool = False) -> None:
        if sign:
            command = sign_command(command, self.device.device_id, self.key)
        topic = self.device.topic(Channel.CMD)
        await self.client.publish(topic, encode(command), qos=QOS, retain=retain)

    async def command(self, action: str, args: dict[str, Any] | None = None) -> Ack:
        """Send a signed command and wait for its ack."""
        command = new_command(action, args or {}, "test-staff", CLOCK.now())
        await self.send(command)
        return await self.ack(command.id)

    def acks(self, command_id: str) -> list[Ack]:
        acks = [decode(Ack, r.payload) for r in self.received if r.channel is Channel.ACK]
        return [a for a in acks if a.id == command_id]

    async def ack(self, command_id: str) -> Ack:
        await self.wait_for(lambda r: bool(self.acks(command_id)))
        return self.acks(command_id)[0]

    async def event(self, event_type: str, *, since: int = 0) -> Event:
        def match(r: Received) -> bool:
            return r.channel is Channel.EVENT and decode(Event, r.payload).type == event_type

        return decode(Event, (await self.wait_for(match, since=since)).payload)

    def states(self) -> list[Any]:
        """Decoded states of the device's current boot (older retained ones left out)."""
        states = [
            decode_state(self.device.device_type, r.payload)
            for r in self.received
            if r.channel is Channel.STATE
        ]
        return [s for s in states if s.boot == self.device.boot]

    async def state(self, predicate: Callable[[Any], bool], *, since: int = 0) -> Any:
        def match(r: Received) -> bool:
            if r.channel is not Channel.STATE:
                return False
            state = decode_state(self.device.device_type, r.payload)
            return state.boot == self.device.boot and predicate(state)

        found = await self.wait_for(match, since=since)
        return decode_state(self.device.device_type, found.payload)


#: observer logins held by open controller clients (the broker binds client ids to
#: logins: two clients with one login would take turns)
_held: set[int] = set()


@contextlib.asynccontextmanager
async def controller_client(broker: Any) -> AsyncIterator[aiomqtt.Client]:
    """A client with the controller's rights: an observer login no other open
    controller client of the test holds."""
    n = next(i for i in range(len(OBSERVERS)) if i not in _held)
    _held.add(n)
    try:
        async with _observer_client(broker, n) as client:
            yield client
    finally:
        _held.discard(n)


@contextlib.asynccontextmanager
async def _observer_client(broker: Any, n: int) -> AsyncIterator[aiomqtt.Client]:
    login = broker.observer(n)
    client = make_client(
        broker.address,
        identifier=f"test-probe-{uuid.uuid4().hex[:12]}",
        username=login.username,
        password=login.password,
        persistent=False,
    )
    async with client:
        yield client


@contextlib.asynccontextmanager
async def probing(
    broker: Any, device: SimulatedDevice, *, start: bool = True
) -> AsyncIterator[Probe]:
    """A probe subscribed to the device's output, with the device running (started here
    unless ``start`` is false) and online."""
    async with controller_client(broker) as client:
        for channel in (Channel.ACK, Channel.EVENT, Channel.STATE, Channel.AVAILABILITY):
            await client.subscribe(device.topic(channel), qos=QOS)
        # as the controller does once subscribed: devices send events only after this
        await client.publish(
            SiteTopics(broker.site.slug).controller_availability,
            Availability.ONLINE.value,
            qos=QOS,
            retain=True,
        )
        probe = Probe(broker, device, client)
        reader = asyncio.create_task(probe.read())
        async with running(device) if start else contextlib.nullcontext(device):
            await probe.state(lambda s: True)  # a report of this boot has arrived
            try:
                yield probe
            finally:
                reader.cancel()


@contextlib.asynccontextmanager
async def running(device: SimulatedDevice) -> AsyncIterator[SimulatedDevice]:
    task = asyncio.create_task(device.run())
    try:
        await device.wait_online(TIMEOUT)
        yield device
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def new(cls: type[SimulatedDevice], broker: Any, device_id: str, **options: Any) -> Any:
    """A simulated device of the example site with its own credentials."""
    options.setdefault("clock", CLOCK)
    return cls(
        broker.site.slug, device_id, broker.address, broker.credentials.device(device_id), **options
    )
