"""``GET /api/ws``: a snapshot of every twin, then live twin changes, events and
command outcomes, fire signals and alarm changes as JSON messages
``{"type": ..., "data": ...}`` (the bus's typed messages as :mod:`.live_messages`
shows them), each as the caller may see it (:func:`~.privacy.live_for`, the same rule
as the HTTP routes).

When several are waiting they go in one frame, ``{"type": "batch", "data": [...]}``
(in order; of a device's twin messages only the last): one frame and one system call
per burst instead of per message (the fan-out was a sixth of the ingest CPU).
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSMsgType, web

from ..alarms.who_may import alarm_may
from ..event_bus import latest_twins
from .access import principal_of, requires
from .app import keep_socket
from .keys import BUS, SITE, TWINS
from .live_messages import LIVE_TYPES, live_message
from .privacy import live_for, twin_for
from .responses import frame_json

#: messages in one ``batch`` frame at most
BATCH_MAX = 500


@requires("admin", "staff", "technician")
async def live(request: web.Request) -> web.WebSocketResponse:
    bus = request.app[BUS]
    twins = request.app[TWINS]
    site = request.app[SITE]
    principal = principal_of(request)
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    keep_socket(request, ws)
    with bus.subscribe(*LIVE_TYPES) as sub:
        devices = [twin_for(principal, t.to_dict()) for t in twins.all()]
        await ws.send_str(frame_json({"type": "snapshot", "data": {"devices": devices}}))

        async def pump() -> None:
            async for first in sub:
                out = []
                for msg in latest_twins([first, *sub.drain(BATCH_MAX - 1)]):
                    live = live_message(msg, site)
                    if live is None:
                        continue
                    kind, data = live
                    shown = live_for(principal, kind, data)
                    if shown is not None and kind == "alarm":  # the buttons it may draw
                        shown = {**shown, "may": alarm_may(principal, shown, site)}
                    if shown is not None:
                        out.append({"type": kind, "data": shown})
                if len(out) == 1:
                    await ws.send_str(frame_json(out[0]))
                elif out:
                    await ws.send_str(frame_json({"type": "batch", "data": out}))

        sender = asyncio.create_task(pump())
        try:
            async for msg in ws:  # the client only needs to keep the socket open
                if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sender
    return ws


def register(app: web.Application) -> None:
    app.router.add_get("/api/ws", live)
