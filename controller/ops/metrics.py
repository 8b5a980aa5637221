"""Prometheus metrics of one controller (``GET /metrics``, text format).

Counters of things that happened come from the event bus, so no other module calls
into this one: command outcomes and latency (bus kind ``command``), schedule firings
and misses (kind ``schedule``). Gauges of how things are now are read from the live
objects when scraped: devices by type and reachability (twins), open alarms by kind
and state, MQTT connects. Each controller has its own registry, so several
controllers in one process (the tests) do not mix their numbers.

The bus subscription is unbounded and drained by :meth:`Metrics.run` and again at
every scrape, so a scrape right after a command already counts it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controller.bus_messages import CommandResolved
from controller.event_bus import EventBus, Subscription
from devices.contract import DeviceType
from scheduler.firings import FiringReport

if TYPE_CHECKING:
    from controller.daemon import Controller

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Seconds; a command waits at most 120 s for its ack.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
REACHABILITY = ("online", "offline", "stale", "unknown")


class Metrics:
    """The controller's registry; :meth:`render` is the body of ``/metrics``."""

    def __init__(self, bus: EventBus) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.commands = Counter(
            "tryggbo_commands",
            "Commands by device type, action and outcome.",
            ["type", "action", "outcome"],
            registry=self.registry,
        )
        self.command_latency = Histogram(
            "tryggbo_command_latency_seconds",
            "Time from sending a command to its outcome (commands that were sent).",
            ["type"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.firings = Counter(
            "tryggbo_schedule_firings",
            "Schedule firings by outcome (ok, partial, failed, refused, held, missed, no_devices).",
            ["outcome"],
            registry=self.registry,
        )
        self.misses = Counter(
            "tryggbo_schedule_misses",
            "Schedule firings not run because they were too late (outcome missed).",
            registry=self.registry,
        )
        self._types: dict[str, str] = {}
        self._sub: Subscription[CommandResolved | FiringReport] = bus.subscribe(
            CommandResolved, FiringReport, queue_size=0
        )

    def attach(self, controller: Controller) -> None:
        """Read the live gauges of ``controller`` at each scrape."""
        self._types = {t.id: t.type.value for t in controller.twins.all()}
        self.registry.register(_LiveCollector(controller))

    def note(self, message: CommandResolved | FiringReport) -> None:
        """Count one bus message."""
        if isinstance(message, CommandResolved):
            if message.origin is not None:
                return  # another instance's command: counted there
            kind = self._types.get(message.device, "unknown")
            outcome = message.outcome.value
            self.commands.labels(kind, message.action, outcome).inc()
            if outcome not in ("offline", "refused"):  # nothing sent: no latency
                self.command_latency.labels(kind).observe(message.elapsed_ms / 1000)
        else:
            self.firings.labels(message.outcome).inc()
            if message.outcome == "missed":
                self.misses.inc()

    def drain(self) -> None:
        """Count everything waiting in the subscription."""
        while True:
            try:
                message = self._sub.queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            self.note(message)

    async def run(self) -> None:
        """Count bus messages as they come (until cancelled)."""
        try:
            while True:
                self.note(await self._sub.get())
                self.drain()
        finally:
            self._sub.close()

    def render(self) -> bytes:
        self.drain()
        return generate_latest(self.registry)


class _LiveCollector(Collector):
    """Gauges read from the running controller at scrape time."""

    def __init__(self, controller: Controller) -> None:
        self.ctl = controller

    def collect(self) -> Iterator[Metric]:
        ctl = self.ctl
        devices = GaugeMetricFamily(
            "tryggbo_devices", "Devices by type and reachability.", labels=["type", "state"]
        )
        counts: dict[tuple[str, str], int] = {
            (t.value, s): 0 for t in DeviceType for s in REACHABILITY
        }
        for twin in ctl.twins.all():
            key = (twin.type.value, twin.reachability.value)
            counts[key] = counts.get(key, 0) + 1
        for (kind, state), n in sorted(counts.items()):
            devices.add_metric([kind, state], n)
        yield devices

        alarms = GaugeMetricFamily(
            "tryggbo_alarms_open", "Alarms not closed, by kind and state.", labels=["kind", "state"]
        )
        open_counts: dict[tuple[str, str], int] = {}
        for alarm in ctl.alarms.active():
            key = (_text(alarm.kind), _text(alarm.state))
            open_counts[key] = open_counts.get(key, 0) + 1
        for (kind, state), n in sorted(open_counts.items()):
            alarms.add_metric([kind, state], n)
        yield alarms

        connects = ctl.link.connects
        yield _counter("tryggbo_mqtt_connects", "Connections made to the broker.", connects)
        yield _counter(
            "tryggbo_mqtt_reconnects",
            "Connections made to the broker after the first one.",
            max(0, connects - 1),
        )
        up = GaugeMetricFamily("tryggbo_mqtt_connected", "1 while connected to the broker.")
        up.add_metric([], 1 if ctl.link.connected.is_set() else 0)
        yield up
        flight = GaugeMetricFamily("tryggbo_commands_in_flight", "Commands awaiting an ack.")
        flight.add_metric([], ctl.commands.in_flight)
        yield flight
        dropped = CounterMetricFamily(
            "tryggbo_dropped_messages", "Device messages dropped as bad input.", labels=["reason"]
        )
        for reason, n in sorted(ctl.reports.dropped.counts.items()):
            dropped.add_metric([str(reason)], n)
        yield dropped


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc)
    family.add_metric([], value)
    return family


def _text(value: Any) -> str:
    return str(getattr(value, "value", value))
