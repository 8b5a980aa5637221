"""The web pages (shipped in the ``ui`` package, no CDN) and the site description
they are drawn from."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

import ui

from ..auth.principal import commands_allowed
from .access import require_roles, requires
from .keys import SITE
from .responses import json_response

STATIC = Path(ui.__file__).parent / "static"


async def root(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/ui/index.html")


@requires("admin", "staff", "technician")
async def site_description(request: web.Request) -> web.Response:
    """``GET /api/site``: the home as the dashboard draws it."""
    principal = require_roles(request, "admin", "staff", "technician")
    site = request.app[SITE]
    info = site.site
    return json_response(
        {
            "slug": info.slug,
            "name": info.name,
            "timezone": info.timezone,
            "unlock_reasons": info.unlock_reasons,
            "night_window": info.night_window,
            "battery_low_percent": info.battery_low_percent,
            "apartments": [
                {
                    "number": apt.number,
                    "floor": apt.floor,
                    "wing": apt.wing,
                    "resident": apt.resident,
                    "night_supervision": apt.night_supervision is not None,
                    # the apartment's own matters (day plan, calls) are the caller's to
                    # handle: the rule of require_apartment
                    "may_act": principal.may_act_on(apt),
                    # each device's actions the caller may send: the controls to draw
                    "devices": [
                        {
                            "id": d.id,
                            "type": d.type.value,
                            "may": commands_allowed(principal, apt, d.type),
                        }
                        for d in apt.devices
                    ],
                }
                for apt in site.apartments
            ],
        }
    )


def register(app: web.Application) -> None:
    app.router.add_get("/", root)
    app.router.add_get("/api/site", site_description)
    app.router.add_static("/ui/", STATIC, show_index=False, follow_symlinks=False)
