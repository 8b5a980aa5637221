"""JSON errors: every failure is ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .responses import json_response


def error_response(status: int, code: str, message: str, details: Any = None) -> web.Response:
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
