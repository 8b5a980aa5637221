"""JSON errors: every failure is ``{"error": {"code", "message", "details"}}``.

``code`` is stable and machine-readable (the pages translate it, docs/api.md lists
them); ``message`` is for people; ``details`` is what the code needs to say more.
Input that does not fit a route's model (:func:`~.bodies.read_body`,
:func:`~.queries.read_query`) has a list of ``{"field", "problem"}`` as details.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from .responses import json_response


def error_response(status: int, code: str, message: str, details: Any = None) -> web.Response:
    """The JSON answer of a failure."""
    body = {"error": {"code": code, "message": message, "details": details}}
    return json_response(body, status=status)


class ApiError(Exception):
    """Raised by handlers; the error middleware turns it into a JSON response."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def response(self) -> web.Response:
        return error_response(self.status, self.code, self.message, self.details)


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("windows", 0)`` as ``windows[0]``, ``("then", "action")`` as ``then.action``
    (the paths :class:`scheduler.ScheduleError` names too)."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def field_problems(exc: ValidationError, whole: str) -> list[dict[str, str]]:
    """Each problem of ``exc`` as ``{"field": "a.b", "problem": ...}``; ``whole`` names
    a problem of the input as a whole (``body``, ``query``)."""
    return [
        {
            "field": field_path(e["loc"]) or whole,
            "problem": e["msg"].removeprefix("Value error, "),
        }
        for e in exc.errors(include_url=False)
    ]


def invalid_input(code: str, message: str, exc: ValidationError, whole: str) -> ApiError:
    """400 ``code`` whose details name every bad field (:func:`field_problems`)."""
    return ApiError(400, code, message, field_problems(exc, whole))
