"""Operations: Prometheus ``/metrics``, the health check's body, the OpenAPI document
and a readable API page (rendered on the server: no script, no CDN, CSP-clean)."""

from __future__ import annotations

import html
from typing import Any

from aiohttp import web

from controller.ops.metrics import CONTENT_TYPE
from controller.ops.resident_export import UnknownApartment, export_apartment

from ..openapi import build_document
from .access import principal_of, public, requires
from .errors import ApiError
from .keys import AUTH, CLOCK, HEALTH, METRICS, SITE, STORE
from .responses import json_response

OPENAPI = web.AppKey("openapi", dict)


async def health_response(request: web.Request) -> web.Response:
    """The body of ``GET /api/health`` (see :mod:`controller.ops.health`)."""
    status, body = await request.app[HEALTH]()
    return json_response(body, status=status)


@requires("admin", "technician")
async def metrics(request: web.Request) -> web.Response:
    """``GET /metrics``: Prometheus text format (scrape with a technician's API token)."""
    body = request.app[METRICS].render()
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def _document(request: web.Request) -> dict[str, Any]:
    cache = request.app[OPENAPI]
    if not cache:  # built once: the routes do not change while running
        cache.update(build_document(request.app))
    return cache


@public
async def openapi_json(request: web.Request) -> web.Response:
    """``GET /api/openapi.json``: the OpenAPI 3.1 document of this API."""
    return json_response(_document(request), indent=1)


@public
async def api_page(request: web.Request) -> web.Response:
    """``GET /api/docs``: the API reference as a page."""
    return web.Response(text=render_page(_document(request)), content_type="text/html")


@public
async def api_page_css(_request: web.Request) -> web.Response:
    """``GET /api/docs.css``: the API page's style sheet."""
    return web.Response(text=PAGE_CSS, content_type="text/css")


@requires("admin")
async def resident_export(request: web.Request) -> web.Response:
    """``GET /api/residents/{apartment}/export``: everything stored about the resident
    of one apartment (GDPR access request), as a JSON download; the export is logged."""
    clock = request.app[CLOCK]
    store = request.app[STORE]
    site = request.app[SITE]
    auth = request.app[AUTH]
    number = request.match_info["apartment"]
    now = clock.now()
    try:
        document = await export_apartment(store, site, number, now)
    except UnknownApartment as exc:
        raise ApiError(404, "unknown_apartment", str(exc)) from None
    counts = {k: len(document[k]) for k in ("events", "audit", "activity", "alarms")}
    await auth.note(
        principal_of(request).actor,
        "resident_export",
        apartment=number,
        outcome="ok",
        details=counts,
    )
    name = f"tryggbo-{site.slug}-apartment-{number}-{now:%Y%m%d}.json"
    return json_response(
        document,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
        ensure_ascii=False,
        indent=1,
    )


def _schema_rows(schema: dict[str, Any], doc: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    if ref:
        schema = doc["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type") or " | ".join(
            str(p.get("type") or p.get("$ref", "").rsplit("/", 1)[-1] or "any")
            for p in prop.get("anyOf", prop.get("oneOf", []))
        )
        limits = ", ".join(
            f"{k} {prop[k]}"
            for k in ("minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "pattern")
            if k in prop
        )
        rows.append(
            f"<tr><td><code>{html.escape(name)}</code>{' *' if name in required else ''}</td>"
            f"<td>{html.escape(str(kind or 'any'))}</td><td>{html.escape(limits)}</td>"
            f"<td>{html.escape(str(prop.get('description', '')))}</td></tr>"
        )
    if not rows:
        return ""
    return (
        "<table><tr><th>field (* required)</th><th>type</th><th>limits</th><th></th></tr>"
        + "".join(rows)
        + "</table>"
    )


def render_page(doc: dict[str, Any]) -> str:
    """The OpenAPI document as one HTML page."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Tryggbo API</title><link rel='stylesheet' href='/api/docs.css'></head><body>",
        f"<h1>{html.escape(doc['info']['title'])} {html.escape(doc['info']['version'])}</h1>",
        f"<p>{html.escape(doc['info']['description'])}</p>",
        "<p>Machine-readable: <a href='/api/openapi.json'>/api/openapi.json</a>.</p>",
    ]
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            roles = ", ".join(op.get("x-roles", []))
            parts.append(
                f"<section><h2><span class='method'>{method.upper()}</span> "
                f"<code>{html.escape(path)}</code></h2>"
                f"<p>{html.escape(op.get('summary', ''))}</p>"
                f"<p class='roles'>who: {html.escape(roles)}</p>"
            )
            if op.get("description"):
                parts.append(f"<pre>{html.escape(op['description'])}</pre>")
            params = op.get("parameters", [])
            if params:
                items = "".join(
                    f"<li><code>{html.escape(p['name'])}</code> ({p['in']}, "
                    f"{html.escape(str(p['schema'].get('format') or p['schema'].get('type')))})"
                    "</li>"
                    for p in params
                )
                parts.append(f"<ul>{items}</ul>")
            body = op.get("requestBody")
            if body:
                schema = body["content"]["application/json"]["schema"]
                parts.append(
                    f"<p>body: <code>{html.escape(schema['$ref'].rsplit('/', 1)[-1])}</code></p>"
                )
                parts.append(_schema_rows(schema, doc))
            parts.append("</section>")
    parts.append("</body></html>")
    return "".join(parts)


PAGE_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; }
section { border-top: 1px solid #ccc; padding: .4rem 0; }
h2 { font-size: 1.05rem; margin: .4rem 0; }
.method { display: inline-block; min-width: 4.5rem; font-weight: 700; color: #234; }
.roles { color: #555; font-size: .9rem; }
table { border-collapse: collapse; font-size: .9rem; }
td, th { border: 1px solid #ddd; padding: .2rem .5rem; text-align: left; vertical-align: top; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: .4rem; }
"""


def register(app: web.Application) -> None:
    app[OPENAPI] = {}
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/openapi.json", openapi_json)
    app.router.add_get("/api/docs", api_page)
    app.router.add_get("/api/docs.css", api_page_css)
    app.router.add_get("/api/residents/{apartment}/export", resident_export)
