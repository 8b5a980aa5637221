"""Logging of the daemon: plain text for a terminal, one JSON object per line for a
log collector (``TRYGGBO_LOG_FORMAT=json``), with the request and command ids.

Ids travel in :mod:`contextvars`: the HTTP middleware :func:`request_ids` binds a
request id (the caller's ``X-Request-ID`` if it is sane, else a new one, echoed in the
response) and the command bus binds each command's id (:func:`bind_command`), so every
line logged while handling them carries ``request_id`` / ``command_id``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

REQUEST_ID: ContextVar[str | None] = ContextVar("tryggbo_request_id", default=None)
COMMAND_ID: ContextVar[str | None] = ContextVar("tryggbo_command_id", default=None)
REQUEST_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
#: LogRecord attributes that are not extra fields given by the caller.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def bind_command(command_id: str) -> None:
    """Log lines of this task from now on carry ``command_id``."""
    COMMAND_ID.set(command_id)


class ContextFilter(logging.Filter):
    """Copies the current request and command ids onto every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        record.command_id = COMMAND_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC), level, logger, message, ids, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "command_id"):
            value = getattr(record, key, None)
            if value:
                line[key] = value
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line and key not in ("request_id", "command_id"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The terminal format, with the ids appended when there are any."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = [
            f"{key}={value}"
            for key in ("request_id", "command_id")
            if (value := getattr(record, key, None))
        ]
        return f"{text} [{' '.join(ids)}]" if ids else text


def configure(level: str = "INFO", fmt: str = "text", stream: Any = None) -> logging.Handler:
    """Root logging for the daemon: ``fmt`` is ``text`` or ``json``; returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return handler


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind a request id for the handler's log lines and echo it in the response."""
    given = request.headers.get(REQUEST_HEADER, "")
    request_id = given if _SANE_ID.match(given) else uuid.uuid4().hex[:16]
    token = REQUEST_ID.set(request_id)
    command_token = COMMAND_ID.set(None)
    try:
        response = await handler(request)
    finally:
        REQUEST_ID.reset(token)
        COMMAND_ID.reset(command_token)
    if not response.prepared:
        response.headers[REQUEST_HEADER] = request_id
    return response
