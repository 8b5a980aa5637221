"""The in-process bus's cost per twin change: typed messages against the dicts they replaced.

One sample publishes ``n`` twin changes of the example site's 66 devices (a lock's,
curtain's or screen's reported state) to the subscribers the daemon has (the alarm
service: unbounded, holding receipts; the call service: unbounded) plus ``clients``
WebSocket clients, then empties every queue as those subscribers do: a WebSocket
client turns each message into what it sends (its JSON, through the privacy filter,
as ``GET /api/ws`` does; no socket, no ``json.dumps``), the others only read the
twin's id. The figure is the CPU time per twin change, publishing and consuming.

* ``typed``: this tree (``TwinChanged.of`` at the publisher; the JSON made at the edge,
  once per message, :mod:`controller.api.live_messages`);
* ``dicts``: the bus as it was before (``git show DICT_BUS:controller/event_bus.py``,
  loaded as it was), the publisher making ``twin.to_dict()``, each client filtering it.

Sides alternate, several rounds; median and range per side. ``python -m bench.bus``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import types
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config.site import EXAMPLE_SITE, load_site
from controller.api.live_messages import LIVE_TYPES, live_message
from controller.api.privacy import live_for
from controller.auth.principal import Principal
from controller.bus_messages import DeviceEvent, FireChanged, TwinChanged
from controller.event_bus import EventBus
from controller.twins import Twin, TwinRegistry
from devices.contract import CurtainState, DeviceType, LockState, ScreenState

#: the last commit whose bus carried ``kind: str`` + API dicts
DICT_BUS = "159019f"
ROOT = Path(__file__).resolve().parents[1]


def _dict_bus() -> types.ModuleType:
    """The event bus module as it was at :data:`DICT_BUS`."""
    source = subprocess.run(
        ["git", "show", f"{DICT_BUS}:controller/event_bus.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    source = source.replace(
        "from .receipts import Receipt", "from controller.receipts import Receipt"
    )
    module = types.ModuleType("dict_event_bus")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, "dict_event_bus.py", "exec"), module.__dict__)
    return module


def _twins() -> list[Twin]:
    registry = TwinRegistry(load_site(EXAMPLE_SITE))
    now = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)
    for twin in registry.all():
        state: Any
        if twin.type is DeviceType.LOCK:
            state = LockState(seq=1, ts=now, lock="locked", door="closed", battery=80)
        elif twin.type is DeviceType.CURTAIN:
            state = CurtainState(seq=1, ts=now, position=40, motion="idle")
        elif twin.type is DeviceType.SCREEN:
            state = ScreenState(
                seq=1, ts=now, power="on", brightness=60, night_mode=False, call="idle"
            )
        else:
            continue
        registry.apply_state(twin, state, now)
    return [t for t in registry.all() if t.reported is not None]


STAFF = Principal(actor="bench", user_id="bench", roles=frozenset({"staff"}))


def typed(twins: list[Twin], n: int, clients: int) -> float:
    """Seconds of CPU for ``n`` twin changes on the typed bus."""
    site = load_site(EXAMPLE_SITE)
    bus = EventBus(queue_size=n + 1)
    alarms = bus.subscribe(TwinChanged, DeviceEvent, FireChanged, queue_size=0, holds_receipts=True)
    calls = bus.subscribe(DeviceEvent, TwinChanged, queue_size=0)
    sockets = [bus.subscribe(*LIVE_TYPES, queue_size=n + 1) for _ in range(clients)]
    started = time.process_time()
    for i in range(n):
        bus.publish(TwinChanged.of(twins[i % len(twins)]))
    for heard in [*alarms.drain(), *calls.drain()]:
        assert isinstance(heard, TwinChanged)
        _ = heard.id
    for sub in sockets:
        for msg in sub.drain():
            live = live_message(msg, site)
            assert live is not None
            live_for(STAFF, *live)
    return time.process_time() - started


def dicts(bus_module: types.ModuleType, twins: list[Twin], n: int, clients: int) -> float:
    """Seconds of CPU for ``n`` twin changes on the bus of kinds and dicts."""
    bus = bus_module.EventBus(queue_size=n + 1)
    alarms = bus.subscribe({"twin", "event", "fire"}, queue_size=0, holds_receipts=True)
    calls = bus.subscribe({"event", "twin"}, queue_size=0)
    live = {"twin", "event", "command", "fire", "alarm"}
    sockets = [bus.subscribe(live, queue_size=n + 1) for _ in range(clients)]
    started = time.process_time()
    for i in range(n):
        bus.publish("twin", twins[i % len(twins)].to_dict())
    for sub in (alarms, calls):
        for msg in sub.drain():
            _ = msg.data.get("id")
    for sub in sockets:
        for msg in sub.drain():
            live_for(STAFF, msg.kind, msg.data)
    return time.process_time() - started


def run(n: int = 20_000, rounds: int = 7) -> dict[str, Any]:
    """Median and range of µs per twin change, per side and number of clients."""
    twins = _twins()
    old = _dict_bus()
    out: dict[str, Any] = {"twin_changes": n, "rounds": rounds, "dict_bus": DICT_BUS}
    for clients in (0, 1, 3):
        samples: dict[str, list[float]] = {"typed": [], "dicts": []}
        for r in range(rounds):
            order = ("typed", "dicts") if r % 2 == 0 else ("dicts", "typed")
            for side in order:
                spent = (
                    typed(twins, n, clients) if side == "typed" else dicts(old, twins, n, clients)
                )
                samples[side].append(spent / n * 1e6)
        out[f"{clients}_clients"] = {
            side: {
                "median_us": round(statistics.median(v), 2),
                "min_us": round(min(v), 2),
                "max_us": round(max(v), 2),
            }
            for side, v in samples.items()
        }
    return out


def main() -> None:
    result = run()
    print(f"twin changes per sample: {result['twin_changes']}, rounds: {result['rounds']}")
    print("clients  side    median µs/change  (min-max)")
    for clients in (0, 1, 3):
        for side, fig in result[f"{clients}_clients"].items():
            print(
                f"{clients:>7}  {side:<6}  {fig['median_us']:>16}  "
                f"({fig['min_us']}-{fig['max_us']})"
            )


if __name__ == "__main__":
    main()
