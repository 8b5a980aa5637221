"""The activity log (sign-ins, refusals, user changes, alarm actions) and the CSV
export of it together with the command audit."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import Field

from ..store.records import ActivityRecord, AuditRecord
from .access import principal_of, requires
from .keys import AUTH, CLOCK, STORE, TWINS
from .privacy import PRIVATE_READERS
from .queries import Limit, Query, RowId, SiteTime, read_query
from .responses import json_response
from .routes_events import apartment_devices

#: Lines per source in one CSV export.
EXPORT_LIMIT = 50_000
CSV_COLUMNS = [
    "when",
    "source",
    "kind",
    "who",
    "what",
    "subject",
    "apartment",
    "why",
    "outcome",
    "details",
]


class ExportQuery(Query):
    """``GET /api/audit/export.csv``: who, where, when."""

    apartment: str | None = Field(default=None, max_length=8)
    actor: str | None = Field(default=None, max_length=128)
    since: SiteTime | None = None
    until: SiteTime | None = None


class ActivityQuery(ExportQuery):
    """``GET /api/activity``: newest first."""

    action: str | None = Field(default=None, max_length=64)
    limit: Limit = 100
    #: older than this row (paging back)
    before_id: RowId | None = None


def _activity_json(record: ActivityRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "ts": record.ts.isoformat(),
        "actor": record.actor,
        "action": record.action,
        "subject": record.subject,
        "apartment": record.apartment,
        "reason": record.reason,
        "outcome": record.outcome,
        "details": record.details,
    }


@requires(*PRIVATE_READERS)
async def activity(request: web.Request) -> web.Response:
    """``GET /api/activity?actor=&apartment=&action=&since=&until=&limit=&before_id=``."""
    query = read_query(request, ActivityQuery)
    rows = await request.app[STORE].activity(
        limit=query.limit,
        actor=query.actor,
        apartment=query.apartment,
        action=query.action,
        since=query.since,
        until=query.until,
        before_id=query.before_id,
    )
    return json_response({"activity": [_activity_json(r) for r in rows]})


@dataclass(frozen=True, slots=True)
class _Line:
    ts: datetime
    order: int
    cells: list[str]


#: What makes a spreadsheet read a cell as a formula (full-width forms too: Excel in
#: some locales takes them), and every character Excel may split cells on: the comma,
#: Swedish Excel's ";" (the list separator of the locale), tab, "|" (a custom one),
#: and line breaks.
FORMULA_STARTS = "=+-@\uff1d\uff0b\uff0d\uff20"
SEPARATORS = ",;\t|\r\n"
_FORMULA_AFTER_SEPARATOR = re.compile(
    rf"(^|[{re.escape(SEPARATORS)}])([ \t\r\n\"]*)(?=[{re.escape(FORMULA_STARTS)}])"
)


def _cell(value: object) -> str:
    """A CSV cell that no spreadsheet runs as a formula, however it splits the line:
    a ``'`` goes before a formula character at the start and after every character a
    spreadsheet may take as a separator, spaces and quotes between skipped
    (``x;=cmd|...`` was a bare formula cell in Swedish Excel, which splits on ``;``).
    Every cell is also quoted (``QUOTE_ALL``)."""
    text = "" if value is None else str(value)
    return _FORMULA_AFTER_SEPARATOR.sub(r"\1\2'", text)


def _audit_line(r: AuditRecord, apartment: str | None) -> _Line:
    details = {"command_id": r.command_id, "args": r.args}
    if r.error:
        details["error"] = r.error
    cells = [
        r.ts.isoformat(),
        "command",
        r.kind.value,
        r.actor,
        r.action,
        r.device,
        apartment,
        r.reason,
        r.outcome,
        json.dumps(details, ensure_ascii=False),
    ]
    return _Line(r.ts, r.id or 0, [_cell(c) for c in cells])


def _activity_line(r: ActivityRecord) -> _Line:
    cells = [
        r.ts.isoformat(),
        "activity",
        "",
        r.actor,
        r.action,
        r.subject,
        r.apartment,
        r.reason,
        r.outcome,
        json.dumps(r.details, ensure_ascii=False),
    ]
    return _Line(r.ts, r.id or 0, [_cell(c) for c in cells])


@requires(*PRIVATE_READERS)
async def export_csv(request: web.Request) -> web.Response:
    """``GET /api/audit/export.csv?apartment=&actor=&since=&until=``: commands and
    activity, newest first; columns :data:`CSV_COLUMNS`."""
    store = request.app[STORE]
    auth = request.app[AUTH]
    clock = request.app[CLOCK]
    query = read_query(request, ExportQuery)
    apartment, actor, since, until = query.apartment, query.actor, query.since, query.until
    audit = await store.audit(
        limit=EXPORT_LIMIT,
        actor=actor,
        since=since,
        until=until,
        devices=apartment_devices(request, apartment),
    )
    acts = await store.activity(
        limit=EXPORT_LIMIT, actor=actor, apartment=apartment, since=since, until=until
    )
    lines = [_audit_line(r, _apartment_of(request, r.device)) for r in audit]
    lines += [_activity_line(r) for r in acts]
    lines.sort(key=lambda line: (line.ts, line.order), reverse=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)  # one cell whatever the separator
    writer.writerow(CSV_COLUMNS)
    writer.writerows(line.cells for line in lines)
    await auth.note(
        principal_of(request).actor,
        "audit_export",
        apartment=apartment,
        outcome="ok",
        details={
            "actor": actor,
            "rows": len(lines),
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
        },
    )
    stamp = clock.now().strftime("%Y%m%d-%H%M")
    return web.Response(
        text=buffer.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="tryggbo-audit-{stamp}.csv"'},
    )


def _apartment_of(request: web.Request, device: str) -> str | None:
    apartment = request.app[TWINS].apartment(device)
    return apartment.number if apartment else None


def register(app: web.Application) -> None:
    app.router.add_get("/api/activity", activity)
    app.router.add_get("/api/audit/export.csv", export_csv)
