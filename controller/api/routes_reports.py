"""The municipality's response-time report: JSON for the page, SVG charts, XLSX export.

Admin only (the operations manager who reports to the municipality is an admin; the
report holds no names, only wings and counts). Numbers: controller/reports/.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Literal

from aiohttp import web
from pydantic import Field

from ..reports.charts import nights_chart, wings_chart
from ..reports.response_times import (
    DEFAULT_NIGHT,
    NightWindow,
    Period,
    ReportError,
    ResponseReport,
    build_report,
)
from .access import principal_of, requires
from .errors import ApiError
from .keys import AUTH, CLOCK, SITE, STORE
from .queries import Query, read_query
from .responses import json_response

#: Rows read per source; a period holding more is refused rather than cut short.
READ_LIMIT = 200_000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHARTS = {"wings": wings_chart, "nights": nights_chart}


class ReportQuery(Query):
    """``from``/``to``: local dates (default: the seven nights before today); ``night``:
    the night's local window (default 21:00-07:00); ``lang``: the export's and the
    charts' words."""

    first: date | None = Field(default=None, alias="from")
    to: date | None = None
    night: str = Field(default=DEFAULT_NIGHT, max_length=11)
    lang: Literal["sv", "en"] = "sv"


async def _report(request: web.Request, query: ReportQuery) -> ResponseReport:
    """The report the query asks for."""
    site, store = request.app[SITE], request.app[STORE]
    zone = site.zone
    today = request.app[CLOCK].now().astimezone(zone).date()
    last = query.to or today - timedelta(days=1)
    first = query.first or last - timedelta(days=6)
    try:
        period = Period(first, last, zone)
        night = NightWindow.parse(query.night)
    except ReportError as exc:
        raise ApiError(400, "bad_report_period", str(exc)) from None
    start, end = period.bounds(night)
    alarms = await store.alarms(limit=READ_LIMIT, since=start)
    locks = [d.id for _a, d in site.devices() if d.type == "lock"]
    audit = await store.audit(limit=READ_LIMIT, since=start, until=end, devices=locks)
    if len(alarms) == READ_LIMIT or len(audit) == READ_LIMIT:
        raise ApiError(413, "report_too_large", "too many rows: choose a shorter period")
    wing_of = {a.number: a.wing for a in site.apartments}
    # in a thread: a long period is seconds of work the alarms' event loop must not wait on
    return await asyncio.to_thread(
        build_report,
        period,
        night,
        [a for a in alarms if a.raised_at < end],
        audit,
        wing_of_apartment=wing_of,
        wings=[a.wing for a in site.apartments if a.wing],
    )


@requires("admin")
async def response_times(request: web.Request) -> web.Response:
    """``GET /api/reports/response-times?from=&to=&night=``: the report as JSON."""
    return json_response((await _report(request, read_query(request, ReportQuery))).as_json())


@requires("admin")
async def response_times_chart(request: web.Request) -> web.Response:
    """``GET /api/reports/response-times/{chart}.svg?from=&to=&night=&lang=``: ``wings``
    (median and 90th percentile per step) or ``nights`` (alarms per night and kind)."""
    draw = CHARTS.get(request.match_info["chart"])
    if draw is None:
        raise ApiError(404, "no_such_chart", f"charts: {', '.join(sorted(CHARTS))}")
    query = read_query(request, ReportQuery)
    svg = await asyncio.to_thread(draw, await _report(request, query), query.lang)
    return web.Response(text=svg, content_type="image/svg+xml", charset="utf-8")


@requires("admin")
async def response_times_xlsx(request: web.Request) -> web.Response:
    """``GET /api/reports/response-times.xlsx?from=&to=&night=&lang=``: the export."""
    # openpyxl (~5 MB) is loaded by the first export, not by every daemon (issue 18)
    from ..reports.workbook import report_workbook

    query = read_query(request, ReportQuery)
    report = await _report(request, query)
    site = request.app[SITE]
    body = await asyncio.to_thread(
        report_workbook, report, site_name=site.site.name or site.slug, lang=query.lang
    )
    await request.app[AUTH].note(
        principal_of(request).actor,
        "report_export",
        outcome="ok",
        details={"report": "response_times", **report.period_json()},
    )
    name = f"tryggbo-larmsvarstider-{report.period.first}-{report.period.last}.xlsx"
    return web.Response(
        body=body,
        content_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def register(app: web.Application) -> None:
    app.router.add_get("/api/reports/response-times", response_times)
    app.router.add_get("/api/reports/response-times.xlsx", response_times_xlsx)
    app.router.add_get("/api/reports/response-times/{chart}.svg", response_times_chart)
