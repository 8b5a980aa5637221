"""What is wrong with a running controller, in words an operator can act on.

``failing`` (HTTP 503): the controller itself cannot do its work: the broker is
unreachable or keeps dropping the controller for another client with its client id,
the store cannot be written (a real write transaction is tried, bounded by
:data:`STORE_PROBE_S`), events or alarms are not being stored, commands' outcomes
wait for their audit line. ``degraded`` (200): it works, but devices are offline or
stale, or their connection is taken over again and again (two clients with one device
login knocking each other off the broker); they are named. ``ok`` otherwise.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from controller.store import StoreError
from controller.twins import TAKEOVER_WINDOW

if TYPE_CHECKING:
    from controller.daemon import Controller

#: Seconds the store gets to start and finish a write transaction.
STORE_PROBE_S = 2.0
#: Devices named per reachability in the report (the counts are always complete).
NAMED_DEVICES = 50
#: Connection takeovers within TAKEOVER_WINDOW that make a device a problem. Two
#: clients with one login take turns several times a second; a device reconnecting
#: before the broker noticed its old connection was gone adds one.
TAKEOVER_LIMIT = 5
#: Takeovers of the controller's own connection within TAKEOVER_WINDOW that fail it:
#: one may be a network blip; while it is taken over again and again the controller
#: misses messages (the other client holds its session part of the time).
CONTROLLER_TAKEOVER_LIMIT = 3
_PROBE_SESSION = "health-probe"


@dataclass
class StoreProbe:
    """One write probe at a time; callers arriving meanwhile share its answer."""

    running: asyncio.Task[str | None] | None = None

    async def check(self, ctl: Controller) -> str | None:
        """None if the store took a write transaction, else why not. A probe stuck in
        the driver (which cannot be cancelled) is left running and waited for again by
        the next check, so stuck probes never pile up."""
        if self.running is None or self.running.done():
            self.running = asyncio.get_running_loop().create_task(_probe(ctl))
        done, _ = await asyncio.wait({self.running}, timeout=STORE_PROBE_S)
        if not done:
            return f"no write transaction within {STORE_PROBE_S:g} s (locked or stuck?)"
        return self.running.result()


async def _probe(ctl: Controller) -> str | None:
    try:
        # an UPDATE that matches no row: a write transaction that changes nothing
        await ctl.store.touch_session(_PROBE_SESSION, ctl.clock.now())
    except StoreError as exc:
        return str(exc)
    return None


async def report(ctl: Controller, probe: StoreProbe) -> tuple[int, dict[str, Any]]:
    """``(http status, body)`` of the health check."""
    failures: list[str] = []
    connected = ctl.link.connected.is_set()
    if not connected:
        failures.append(f"broker down: not connected to {ctl.config.broker.url}")
    window_s = TAKEOVER_WINDOW.total_seconds()
    taken = ctl.link.takeovers(window_s)
    if taken >= CONTROLLER_TAKEOVER_LIMIT:
        failures.append(
            f"broker connection taken over {taken}x in {window_s:g} s: another client "
            f"connects as this controller ({ctl.link.identifier}): a second instance with "
            "its login, or the login's password is out; events meant for it can be lost"
        )
    store_problem = await probe.check(ctl)
    if store_problem:
        failures.append(f"store unwritable: {store_problem}")
    if ctl.events.failing:
        failures.append(f"store failing: events not stored: {ctl.events.failing}")
    if ctl.commands.store_failing:
        failures.append(f"commands refused, audit not writable: {ctl.commands.store_failing}")
    if ctl.store.audit_unwritten:
        failures.append(f"outcomes held back, audit not writable: {ctl.store.audit_unwritten}")
    if ctl.alarms.store_failing:
        failures.append(f"alarms not stored: {ctl.alarms.store_failing}")
    counts = ctl.twins.counts()
    by_state: dict[str, list[str]] = {"offline": [], "stale": []}
    for twin in ctl.twins.all():
        if twin.reachability.value in by_state:
            by_state[twin.reachability.value].append(twin.id)
    warnings = [
        f"{len(ids)} devices {state}: {', '.join(sorted(ids)[:NAMED_DEVICES])}"
        + (" …" if len(ids) > NAMED_DEVICES else "")
        for state, ids in by_state.items()
        if ids
    ]
    taken_over = {
        device: n
        for device, n in sorted(ctl.twins.takeovers(ctl.clock.now()).items())
        if n >= TAKEOVER_LIMIT
    }
    if taken_over:
        window = f"{TAKEOVER_WINDOW.total_seconds():g} s"
        named = list(taken_over.items())[:NAMED_DEVICES]
        warnings.append(
            f"{len(taken_over)} devices' connections taken over again and again "
            f"(two clients with one login?): "
            + ", ".join(f"{device} ({n}x in {window})" for device, n in named)
            + (" …" if len(taken_over) > NAMED_DEVICES else "")
        )
    unreachable = counts["offline"] + counts["stale"]
    body = {
        "status": "failing" if failures else ("degraded" if warnings else "ok"),
        "problems": failures + warnings,
        "site": ctl.site.slug,
        "broker": {"connected": connected, "connects": ctl.link.connects, "taken_over": taken},
        "store": {"writable": store_problem is None, "problem": store_problem},
        "devices": {"total": len(ctl.twins), **counts, "unreachable": unreachable},
        "stale_devices": sorted(by_state["stale"])[:NAMED_DEVICES],
        "offline_devices": sorted(by_state["offline"])[:NAMED_DEVICES],
        "taken_over_devices": dict(list(taken_over.items())[:NAMED_DEVICES]),
        "commands_in_flight": ctl.commands.in_flight,
        "dropped_messages": ctl.reports.dropped.counts,
        # events the store refused since start (GET /api/events/set-aside); the rest
        # were written past them, so this is no failure of the controller
        "events_set_aside": ctl.events.set_aside,
        # events received, not yet stored (nor acknowledged to the broker): while the
        # store is down they wait here and are written once it is back
        "events_pending": ctl.events.pending,
    }
    return (503 if failures else 200), body
