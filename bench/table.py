"""The short table ``python -m bench`` prints: each figure, its same-run baseline,
the ratio, and the target."""

from __future__ import annotations

from typing import Any


def _row(name: str, ours: Any, base: Any = "", ratio: Any = "", target: str = "") -> str:
    return f"{name:<40}{ours!s:>12}{base!s:>14}{ratio!s:>9}   {target}"


def print_table(r: dict[str, Any]) -> None:
    print(_row("benchmark", "tryggbo", "baseline", "ratio", "target"))
    if ing := r.get("ingest"):
        print(
            _row(
                f"ingest msg/s ({ing['devices']} devices)",
                ing["controller"]["msg_s"],
                ing["raw_paho"]["msg_s"],
                ing["ratio"],
                ">= 0.60 of raw paho",
            )
        )
    if rt := r.get("round_trip"):
        for pct in ("p50", "p99"):
            print(
                _row(
                    f"round trip {pct} ms ({rt['devices']} devices)",
                    rt["api_ms"][pct],
                    rt["raw_mqtt_ms"][pct],
                    rt[f"{pct}_ratio"],
                    "<= 5x raw echo" if pct == "p99" else "",
                )
            )
    if fire := r.get("fire"):
        n = fire["locks"]
        for key, label in (("command_fan_out_unlock", "unlock"), ("command_fan_out_lock", "lock")):
            f = fire[key]
            print(_row(f"{label} command to {n} locks, all acks s", f["seconds"], "", "", "<= 2 s"))
        print(
            _row(
                f"fire alarm -> {n} locks unlocked s",
                fire["fire_all_unlocked_in_twins_s"],
                fire["fire_all_unlocked_seen_raw_s"],
                "",
                "<= 2 s (baseline: raw subscriber)",
            )
        )
    if mem := r.get("memory"):
        print(_row("daemon RSS per device (bytes)", mem["bytes_per_device"], "", "", "<= 15 KB"))
    if rs := r.get("restart"):
        print(
            _row(
                f"restart -> {rs['devices']} twins synced s",
                rs["start_to_synced_s"],
                "",
                "",
                "<= 5 s",
            )
        )
    if sc := r.get("scheduler"):
        for pct in ("p50", "p99"):
            print(
                _row(
                    f"schedule due->send {pct} ms ({sc['schedules_loaded']})",
                    sc["due_to_send_ms"][pct],
                    "",
                    "",
                    "<= 100 ms" if pct == "p99" else "",
                )
            )
    if db := r.get("dashboard"):
        d = db["publish_to_dom_ms"]
        print(_row(f"state -> DOM p95 ms ({db.get('apartments', 24)} apts)", d["p95"], "", "", ""))
    if vc := r.get("calls"):
        for key, label in (
            ("press_to_ringing_ms", "press call -> ringing"),
            ("accept_to_connected_ms", "accept -> connected"),
        ):
            print(_row(f"video call {label} p50 ms", vc[key]["p50"], "", "", ""))
