"""Recent events and the audit log."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from .app import controller_of
from .errors import ApiError


def _int_query(
    request: web.Request, name: str, default: int | None, lo: int, hi: int
) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "bad_query", f"{name} must be an integer") from None
    if not lo <= value <= hi:
        raise ApiError(400, "bad_query", f"{name} must be between {lo} and {hi}")
    return value


def _jsonable(record: Any) -> dict[str, Any]:
    out = asdict(record)
    for key, value in out.items():
        if hasattr(value, "isoformat"):
            out[key] = value.isoformat()
    return out


async def recent_events(request: web.Request) -> web.Response:
    ctl = controller_of(request)
    limit = _int_query(request, "limit", 100, 1, 1000)
    before = _int_query(request, "before_id", None, 1, 2**62)
    device = request.query.get("device")
    events = await ctl.store.recent_events(limit=limit or 100, device=device, before_id=before)
    return web.json_response({"events": [_jsonable(e) for e in events]})


async def audit_log(request: web.Request) -> web.Response:
    ctl = controller_of(request)
    limit = _int_query(request, "limit", 100, 1, 1000)
    rows = await ctl.store.audit(
        limit=limit or 100,
        device=request.query.get("device"),
        command_id=request.query.get("command_id"),
    )
    return web.json_response({"audit": [_jsonable(r) for r in rows]})


def register(app: web.Application) -> None:
    app.router.add_get("/api/events", recent_events)
    app.router.add_get("/api/audit", audit_log)
