"""The short table ``python -m bench`` prints: each figure, its same-run baseline,
the ratio, and the target."""

from __future__ import annotations

from typing import Any


def _row(name: str, ours: Any, base: Any = "", ratio: Any = "", target: str = "") -> str:
    return f"{name:<40}{ours!s:>12}{base!s:>14}{ratio!s:>9}   {target}"


def print_table(r: dict[str, Any]) -> None:
    print(_row("benchmark", "tryggbo", "baseline", "ratio", "target"))
    if ing := r.get("ingest"):
        _ingest_rows(ing)
    if rt := r.get("round_trip"):
        for condition, label in (("idle", "idle"), ("loaded", "500 msg/s")):
            c = rt["summary"].get(condition)
            if not c:
                continue
            for pct in ("p50", "p99"):
                print(
                    _row(
                        f"round trip {pct} ms, {label} ({rt['devices']} dev)",
                        c["api_ms"][pct]["median"],
                        c["raw_mqtt_ms"][pct]["median"],
                        c[f"{pct}_ratio"]["median"],
                        ("<= 5x raw echo " if pct == "p99" else "")
                        + f"(ratios {_range(c[f'{pct}_ratio'])})",
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


def _ingest_rows(ing: dict[str, Any]) -> None:
    """Medians over the repeats; the ratio is the median of the per-round ratios."""
    sm, n = ing["summary"], ing["devices"]
    ratios = sm.get("ratios", {})
    if "tryggbo" in sm and "raw" in sm:
        print(
            _row(
                f"ingest msg/s ({n} dev), raw paho",
                sm["tryggbo"]["msg_s"]["median"],
                sm["raw"]["msg_s"]["median"],
                ratios["tryggbo/raw"]["median"],
                f">= 0.60 of raw paho (ratios {_range(ratios['tryggbo/raw'])})",
            )
        )
    if "tryggbo" in sm and "nodered" in sm:
        print(
            _row(
                f"ingest msg/s ({n} dev), Node-RED-like",
                sm["tryggbo"]["msg_s"]["median"],
                sm["nodered"]["msg_s"]["median"],
                ratios["tryggbo/nodered"]["median"],
                f"(ratios {_range(ratios['tryggbo/nodered'])})",
            )
        )
    for side, label in (("raw", "raw paho"), ("nodered", "Node-RED-like")):
        if "tryggbo" in sm and side in sm:
            ours = sm["tryggbo"]["cpu_us_per_msg"]["median"]
            base = sm[side]["cpu_us_per_msg"]["median"]
            print(
                _row(
                    f"ingest CPU us/msg, vs {label}",
                    ours,
                    base,
                    round(ours / base, 2) if base else "",
                    "",
                )
            )


def _range(spread: dict[str, Any]) -> str:
    return f"{spread['min']}-{spread['max']}"
