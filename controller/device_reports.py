"""Everything devices publish, turned into twin updates, bus messages and stored events.

Each message is parsed through the contract; anything malformed, oversized, from a
device not in the site file, or out of order is logged (rate-limited) and dropped.
This is the only place that interprets device traffic.

Every message comes with its :class:`~controller.receipts.Receipt`: a message that
records an event is acknowledged to the broker only once the event writer has
committed it and the alarm service has stored what it decided (both hold the
receipt). Device events carry a key (``seq@device ts``) so one delivered again is
stored once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import aiomqtt

from devices.clock import Clock
from devices.contract import (
    SAFETY_EVENTS,
    Ack,
    Availability,
    Channel,
    ContractError,
    Event,
    FireSignal,
    Meta,
    TopicKind,
    decode,
    decode_availability,
    decode_state,
    parse_topic,
    spec_for,
)

from .bus_messages import DeviceEvent, FireChanged, MessageDropped, TwinChanged
from .command_bus import CommandBus
from .event_bus import EventBus
from .receipts import Receipt, detached
from .store import EventRecord
from .twins import Reachability, Twin, TwinRegistry

log = logging.getLogger(__name__)

#: the event writer's ``put``: queue a record; the receipt is held until it is committed
EventSink = Callable[[EventRecord, Receipt | None], None]


#: events remembered per device to recognise one sent again
RECENT_EVENTS = 64


def event_key(event: Event) -> str:
    """What makes a device's event unique: its ``seq`` and its own timestamp (a seq
    alone starts again when a device is reset)."""
    return f"{event.seq}@{event.ts.isoformat()}"


class DroppedMessages:
    """Counts dropped messages by reason, logs at most once a second per reason and
    tells the bus (:class:`~.bus_messages.MessageDropped`)."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.counts: dict[str, int] = {}
        self._last_log: dict[str, float] = {}

    def drop(self, reason: str, topic: str, detail: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        self.bus.publish(MessageDropped(reason, topic))
        now = time.monotonic()
        if now - self._last_log.get(reason, 0.0) >= 1.0:
            self._last_log[reason] = now
            log.warning(
                "dropped message on %s (%s): %s [%d so far]",
                topic,
                reason,
                detail,
                self.counts[reason],
            )

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class DeviceRateLimit:
    """A token bucket per device: ``burst`` messages at once, ``per_s`` on average.

    A device over its budget has its state, meta and event messages dropped (reason
    ``rate_limited``, logged once per flood) so one broken device cannot swamp the
    controller or the store; its acks and availability always pass, so commands to it
    still get their outcome. Its twin catches up with the next report after the flood.
    """

    def __init__(self, per_s: float = 20.0, burst: float = 100.0) -> None:
        """``per_s`` 0 turns the limit off. Safety events are never limited
        (:data:`devices.contract.SAFETY_EVENTS`); acks and availability neither."""
        self.per_s = per_s
        self.burst = burst
        #: device -> complex(tokens, at): the pair of floats as one object of 32 bytes
        #: (a tuple of two floats is 104 bytes a device; issue 18: memory)
        self._buckets: dict[str, complex] = {}
        self.flooding: set[str] = set()

    def allow(self, device: str, now: float) -> bool:
        if self.per_s <= 0:
            return True
        bucket = self._buckets.get(device)
        tokens = (
            self.burst
            if bucket is None
            else min(self.burst, bucket.real + (now - bucket.imag) * self.per_s)
        )
        allowed = tokens >= 1.0
        self._buckets[device] = complex(tokens - 1.0 if allowed else tokens, now)
        if not allowed and device not in self.flooding:
            self.flooding.add(device)
            log.warning(
                "device %s floods (over %.0f msg/s, burst %.0f): dropping its reports",
                device,
                self.per_s,
                self.burst,
            )
        elif allowed and device in self.flooding and tokens >= self.burst / 2:
            self.flooding.discard(device)
            log.warning("device %s is within its message rate again", device)
        return allowed


#: What a flooding device may still send: the outcome of commands, and its presence.
UNLIMITED_CHANNELS = frozenset({Channel.ACK, Channel.AVAILABILITY})


class DeviceReports:
    """The MQTT link's message handler."""

    def __init__(
        self,
        *,
        site: str,
        twins: TwinRegistry,
        commands: CommandBus,
        bus: EventBus,
        clock: Clock,
        store_event: EventSink,
        rate_limit: DeviceRateLimit | None = None,
    ) -> None:
        self.site = site
        self.twins = twins
        self.commands = commands
        self.bus = bus
        self.clock = clock
        self.store_event = store_event
        self.dropped = DroppedMessages(bus)
        self.rate_limit = rate_limit or DeviceRateLimit()
        self.received = 0
        #: the last events of each device by key, with the receipt of their first
        #: delivery: a device sends the events of its last seconds again after a lost
        #: connection (devices/firmware/link.py), a screen repeats a help press until
        #: it is confirmed
        self._recent_events: dict[str, dict[str, Receipt]] = {}
        self.fire: FireSignal | None = None

    def __call__(self, message: aiomqtt.Message, receipt: Receipt | None = None) -> None:
        """Handle one message; what must be durable takes a hold on ``receipt``."""
        self.received += 1
        receipt = receipt or detached()
        topic = str(message.topic)
        payload = message.payload
        if not isinstance(payload, (bytes, bytearray)):
            payload = b"" if payload is None else str(payload).encode()
        try:
            parsed = parse_topic(topic)
            if parsed.site != self.site:
                raise ContractError("other_site", f"site {parsed.site}")
            if parsed.kind is TopicKind.FIRE:
                self._on_fire(payload, receipt)
                return
            if parsed.kind is not TopicKind.DEVICE or parsed.device is None:
                return
            twin = self.twins.get(parsed.device)
            if twin is None:
                raise ContractError("unknown_device", f"{parsed.device} is not in the site file")
            limited = parsed.channel not in UNLIMITED_CHANNELS and not self.rate_limit.allow(
                twin.id, time.monotonic()
            )
            if limited and parsed.channel is not Channel.EVENT:  # events: see their type
                raise ContractError("rate_limited", f"{twin.id} is over its message rate")
            self._on_device(
                twin,
                parsed.channel,
                payload,
                retained=bool(message.retain),
                receipt=receipt,
                limited=limited,
            )
        except ContractError as exc:
            self.dropped.drop(exc.reason, topic, exc.message)

    def _on_device(
        self,
        twin: Twin,
        channel: Channel | None,
        payload: bytes,
        retained: bool,
        receipt: Receipt | None = None,
        limited: bool = False,
    ) -> None:
        receipt = receipt or detached()
        now = self.clock.now()
        if channel is Channel.STATE:
            if not payload:
                return  # a cleared retained state
            state = decode_state(twin.type, payload)
            if self.twins.apply_state(twin, state, now, retained=retained):
                self._publish_twin(twin)
            else:
                self.dropped.drop("out_of_order", twin.id, f"seq {state.seq} not newer")
        elif channel is Channel.AVAILABILITY:
            if not payload:
                return
            was = twin.reachability
            value = decode_availability(payload)
            if self.twins.apply_availability(twin, value, now, retained=retained):
                self._publish_twin(twin)
                if was is not Reachability.UNKNOWN or twin.reachability is Reachability.OFFLINE:
                    self._record(twin.id, twin.reachability.value, {"was": was.value}, receipt)
            elif retained and value is Availability.ONLINE and not twin.reachable:
                # a replayed online is not news: the offline learned live stays
                self.dropped.drop("replayed_status", twin.id, f"retained online, {was.value}")
        elif channel is Channel.META:
            if payload and self.twins.apply_meta(
                twin, decode(Meta, payload), now, retained=retained
            ):
                self._publish_twin(twin)
        elif channel is Channel.EVENT:
            event = decode(Event, payload)
            if limited and event.type not in SAFETY_EVENTS:
                raise ContractError("rate_limited", f"{twin.id} is over its message rate")
            if event.type not in spec_for(twin.type).events:
                raise ContractError("unknown_event", f"{twin.type.value} has no event {event.type}")
            key = event_key(event)
            recent = self._recent_events.setdefault(twin.id, {})
            first = recent.get(key)
            if first is not None:
                # sent again (a lost link, a repeated help press): acknowledged once the
                # first delivery's work is durable; a help press is confirmed again
                log.debug("%s: event seq %d again (%s)", twin.id, event.seq, key)
                receipt.wait_for(first)
                if event.type in SAFETY_EVENTS:
                    self.bus.publish(self._event_again(twin.id, event, key, receipt))
                return
            recent[key] = receipt
            if len(recent) > RECENT_EVENTS:
                del recent[next(iter(recent))]
            self._record(twin.id, event.type, self._event_details(event), receipt, key=key)
        elif channel is Channel.ACK:
            self.commands.resolve(twin.id, decode(Ack, payload))
        # cmd and schedule are the controller's own publications: nothing to do.

    @staticmethod
    def _event_details(event: Event) -> dict[str, Any]:
        return {**event.details(), "device_ts": event.ts.isoformat(), "seq": event.seq}

    def _event_again(self, device: str, event: Event, key: str, receipt: Receipt) -> DeviceEvent:
        """The bus message of a device event delivered again (not stored again)."""
        details = self._event_details(event)
        return DeviceEvent(self.clock.now(), device, event.type, details, key, True, receipt)

    def _on_fire(self, payload: bytes, receipt: Receipt) -> None:
        if not payload:
            return
        signal = decode(FireSignal, payload)
        previous, self.fire = self.fire, signal
        if previous is None or previous.state != signal.state:
            self._record("site", f"fire_{signal.state}", {"ts": signal.ts.isoformat()}, receipt)
            self.bus.publish(FireChanged(signal.state, signal.ts, receipt))

    def _publish_twin(self, twin: Twin) -> None:
        self.bus.publish(TwinChanged.of(twin))

    def _record(
        self,
        device: str,
        type_: str,
        details: dict[str, Any],
        receipt: Receipt | None = None,
        *,
        key: str | None = None,
    ) -> None:
        record = EventRecord(
            ts=self.clock.now(), device=device, type=type_, details=details, key=key
        )
        self.store_event(record, receipt)
        self.bus.publish(DeviceEvent(record.ts, device, type_, details, key, receipt=receipt))

    def check_stale(self) -> list[Twin]:
        """Mark silent devices stale and announce each."""
        stale = self.twins.mark_stale(self.clock.now())
        for twin in stale:
            self._publish_twin(twin)
            self._record(
                twin.id,
                "stale",
                {"last_seen": twin.last_seen.isoformat() if twin.last_seen else None},
            )
        return stale
