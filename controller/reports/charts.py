"""The report's charts as SVG drawn here (no chart library, nothing from elsewhere):
response times per wing and alarms per night. Text is escaped; sizes are fixed so the
printed page keeps its layout."""

from __future__ import annotations

from xml.sax.saxutils import escape

from .response_times import Durations, ResponseReport
from .words import WORDS, kind_name

WIDTH = 720
BAR = 14
#: Median and 90th percentile: dark and light blue, both ≥ 3:1 against white.
COLOURS = {"median": "#1f4e8c", "p90": "#4f81bd"}
KIND_COLOURS = ["#1f4e8c", "#b35900", "#2e7d32", "#6a1b9a", "#8d6e00", "#00695c", "#5d4037"]


def _minutes(seconds: float | None) -> float:
    return (seconds or 0.0) / 60


def _number(minutes: float, lang: str) -> str:
    """One decimal; a decimal comma in Swedish."""
    text = f"{minutes:.1f}"
    return text.replace(".", ",") if lang == "sv" else text


def _svg(height: int, body: list[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(label)}" '
        'font-family="sans-serif" font-size="13">' + "".join(body) + "</svg>"
    )


def wings_chart(report: ResponseReport, lang: str) -> str:
    """Horizontal bars: per wing and step, the median and the 90th percentile (minutes)."""
    w = WORDS[lang]
    rows: list[tuple[str, str, Durations]] = []
    for wing in report.wings:
        name = wing.wing or w["no_wing"]
        for step in ("taken", "on_site", "closed"):
            rows.append((name, w[step], getattr(wing.responses, step)))
    longest = max([_minutes(d.p90) for _, _, d in rows] + [1.0])
    left, right, top = 190, 60, 30
    scale = (WIDTH - left - right) / longest
    body = [
        f'<rect x="{left}" y="6" width="12" height="12" fill="{COLOURS["median"]}"/>'
        f'<text x="{left + 16}" y="17">{escape(w["median"])}</text>'
        f'<rect x="{left + 160}" y="6" width="12" height="12" fill="{COLOURS["p90"]}"/>'
        f'<text x="{left + 176}" y="17">{escape(w["p90"])}</text>'
    ]
    y = top
    for name, step, d in rows:
        body.append(f'<text x="{left - 8}" y="{y + BAR + 2}" text-anchor="end">')
        body.append(f"{escape(name)} · {escape(step)}</text>")
        for key, value in (("median", d.median), ("p90", d.p90)):
            width = _minutes(value) * scale
            body.append(
                f'<rect class="{key}" x="{left}" y="{y}" width="{width:.1f}" '
                f'height="{BAR}" fill="{COLOURS[key]}"/>'
            )
            text = _number(_minutes(value), lang) if value is not None else "–"
            body.append(f'<text x="{left + width + 4:.1f}" y="{y + BAR - 2}">{text}</text>')
            y += BAR + 2
        y += 8
    return _svg(y + 10, body, f"{w['title']}: {w['wings']}")


def nights_chart(report: ResponseReport, lang: str) -> str:
    """Vertical stacked bars: alarms per night, one colour per kind."""
    w = WORDS[lang]
    kinds = sorted({k for n in report.nights for k in n.kinds})
    colour = {k: KIND_COLOURS[i % len(KIND_COLOURS)] for i, k in enumerate(kinds)}
    most = max([sum(n.kinds.values()) for n in report.nights] + [1])
    left, bottom, height = 40, 60, 240
    step = min((WIDTH - left - 10) / max(len(report.nights), 1), 60.0)
    scale = (height - 20) / most
    body = [f'<line x1="{left}" y1="{height}" x2="{WIDTH - 10}" y2="{height}" stroke="#333"/>']
    for i, night in enumerate(report.nights):
        x = left + i * step + 2
        y = float(height)
        for kind in kinds:
            count = night.kinds.get(kind, 0)
            if count:
                h = count * scale
                y -= h
                body.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step - 4, 2):.1f}" '
                    f'height="{h:.1f}" fill="{colour[kind]}"/>'
                )
        total = sum(night.kinds.values())
        body.append(
            f'<text x="{x + step / 2 - 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">{total}</text>'
        )
        if len(report.nights) <= 31:
            body.append(
                f'<text x="{x + step / 2 - 2:.1f}" y="{height + 14}" text-anchor="middle" '
                f'font-size="11">{night.night.day}/{night.night.month}</text>'
            )
    x = float(left)
    for kind in kinds:
        body.append(
            f'<rect x="{x:.0f}" y="{height + 28}" width="12" height="12" fill="{colour[kind]}"/>'
        )
        label = escape(kind_name(kind, lang))
        body.append(f'<text x="{x + 16:.0f}" y="{height + 39}">{label}</text>')
        x += 24 + 8 * len(label)
    return _svg(height + bottom, body, f"{w['alarms']} / {w['night_window']}")
