"""`python -m bench` (or `make bench`): run every benchmark, print a table, write JSON."""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

from . import calls, dashboard, ingest, roundtrip
from . import scheduler as scheduler_bench
from .common import start_broker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000, help="ingest messages")
    parser.add_argument("--rounds", type=int, default=500, help="round trips")
    parser.add_argument("--schedules", type=int, default=10_000, help="schedules loaded")
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"))
    args = parser.parse_args()
    broker = start_broker()
    try:
        results = {
            "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
            "ingest": ingest.run(broker, args.messages),
            "round_trip": roundtrip.run(broker, args.rounds),
            "scheduler": scheduler_bench.run(args.schedules),
            "dashboard": dashboard.run(broker, 200),
            "calls": calls.run(broker, 20),
        }
    finally:
        broker.process.stop()
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    ing, rt = results["ingest"], results["round_trip"]
    print(f"{'benchmark':<28}{'tryggbo':>14}{'raw baseline':>16}{'ratio':>9}")
    print(
        f"{'ingest (msg/s)':<28}{ing['controller_msg_s']:>14}{ing['raw_paho_msg_s']:>16}"
        f"{ing['ratio']:>9}"
    )
    for pct in ("p50", "p99"):
        print(
            f"{'round trip ' + pct + ' (ms)':<28}{rt['api_ms'][pct]:>14}"
            f"{rt['raw_mqtt_ms'][pct]:>16}{rt[pct + '_ratio']:>9}"
        )
    sched = results["scheduler"]
    print(
        f"{'next firing, per schedule (us)':<32}{sched['next_fire']['per_call_us']:>10}"
        f"   ({sched['next_fire']['schedules']} schedules)"
    )
    for pct in ("p50", "p99"):
        print(
            f"{'schedule due->send ' + pct + ' (ms)':<32}{sched['due_to_send_ms'][pct]:>10}"
            f"   ({sched['schedules_loaded']} loaded; fake sender, no MQTT)"
        )
    dom = results["dashboard"]["publish_to_dom_ms"]
    print(f"{'state publish -> DOM (ms)':<32}p50 {dom['p50']}  p95 {dom['p95']}  (72 devices)")
    vc = results["calls"]
    print(
        f"{'video call (ms, p50 of 20)':<32}press->ringing {vc['press_to_ringing_ms']['p50']}"
        f"  accept->connected {vc['accept_to_connected_ms']['p50']}"
    )
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
