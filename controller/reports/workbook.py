"""The report as an XLSX workbook (openpyxl): a summary sheet, one sheet per wing
table, nights, alarm kinds and unlocks. Times in minutes, numbers as numbers (a
spreadsheet can sum them); no formulas, and no text from a person starts a cell as one."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from .response_times import Durations, ResponseReport, Responses
from .words import WORDS, kind_name, reason_name

#: What a spreadsheet could take as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@")


def _minutes(value: float | None) -> float | None:
    return None if value is None else round(value / 60, 1)


def _text(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _step_headers(lang: str) -> list[str]:
    w = WORDS[lang]
    return [
        f"{w[step]}: {w[stat]}"
        for step in ("taken", "on_site", "closed")
        for stat in ("median", "p90", "max")
    ]


def _step_cells(responses: Responses) -> list[Any]:
    cells: list[Any] = []
    for step in ("taken", "on_site", "closed"):
        d: Durations = getattr(responses, step)
        cells += [_minutes(d.median), _minutes(d.p90), _minutes(d.longest)]
    return cells


def _sheet(book: Workbook, title: str, headers: list[str], rows: list[list[Any]]) -> Worksheet:
    sheet = book.create_sheet(title)
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for i, header in enumerate(headers, start=1):
        sheet.column_dimensions[sheet.cell(1, i).column_letter].width = max(12, len(header) + 2)
    for column in sheet.iter_cols(min_row=2):
        for cell in column:
            if isinstance(cell.value, float):
                cell.number_format = "0.0"
    sheet.freeze_panes = "A2"
    return sheet


def report_workbook(report: ResponseReport, *, site_name: str, lang: str) -> bytes:
    """The report as XLSX bytes."""
    w = WORDS[lang]
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = w["summary"]
    summary.append([w["title"], _text(site_name)])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append([w["period"], f"{report.period.first} – {report.period.last}"])
    summary.append([w["timezone"], report.period.zone.key])
    summary.append([w["night_window"], str(report.night).replace("-", "–")])
    summary.append([w["alarms"], report.total.alarms])
    for header, value in zip(_step_headers(lang), _step_cells(report.total), strict=True):
        summary.append([header, value])
    summary.append([w["escalation_steps"], report.escalations.steps])
    summary.append([w["alarms_escalated"], report.escalations.alarms_escalated])
    summary.append([w["never_taken"], report.escalations.never_taken])
    summary.append([w["measured"]])
    summary.column_dimensions["A"].width = 34
    summary.column_dimensions["B"].width = 24

    esc = [w["escalation_steps"], w["never_taken"]]
    _sheet(
        book,
        w["wings"],
        [w["wing"], w["alarms"], w["at_night"], *_step_headers(lang), *esc],
        [
            [
                _text(row.wing or w["no_wing"]),
                row.responses.alarms,
                row.at_night.alarms,
                *_step_cells(row.responses),
                row.escalations.steps,
                row.escalations.never_taken,
            ]
            for row in report.wings
        ],
    )
    kinds = sorted({k for n in report.nights for k in n.kinds})
    _sheet(
        book,
        w["nights"],
        [
            w["night"],
            w["hours"],
            w["alarms"],
            *_step_headers(lang),
            *esc,
            w["unlocks"],
            *(kind_name(k, lang) for k in kinds),
        ],
        [
            [
                n.night,
                n.hours,
                n.responses.alarms,
                *_step_cells(n.responses),
                n.escalations.steps,
                n.escalations.never_taken,
                n.unlocks,
                *(n.kinds.get(k, 0) for k in kinds),
            ]
            for n in report.nights
        ],
    )
    _sheet(
        book,
        w["kinds"],
        [w["kind"], w["count"]],
        [[_text(kind_name(k, lang)), c] for k, c in sorted(report.kinds.items())],
    )
    _sheet(
        book,
        w["unlocks"],
        [w["reason"], w["count"]],
        [[_text(reason_name(r, lang)), c] for r, c in sorted(report.unlocks_by_reason.items())],
    )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
