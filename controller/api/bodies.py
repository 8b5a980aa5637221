"""Reading a JSON request body, with clear 400s: the one place bodies are parsed.

Strict JSON (:func:`devices.contract.codec.parse_json`): ``NaN``/``Infinity``, a number
beyond a float's range or of more than 4300 digits, nesting deeper than the recursion
limit are 400 ``bad_json`` like any other non-JSON, never a 500.
"""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from devices.contract import ContractError
from devices.contract.codec import parse_json

from .errors import ApiError

M = TypeVar("M", bound=BaseModel)


def parse_body(raw: bytes) -> Any:
    """``raw`` as JSON values; 400 ``bad_json`` saying why not."""
    try:
        return parse_json(raw)
    except ContractError as exc:
        raise ApiError(400, "bad_json", f"the body is not JSON: {exc.message}") from None


async def read_json(request: web.Request) -> Any:
    """The body as JSON values (:func:`parse_body`)."""
    return parse_body(await request.read())


async def read_body(request: web.Request, model: type[M]) -> M:
    """The body as ``model``; 400 ``bad_json`` or ``bad_body`` (details name the fields)."""
    data = await read_json(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [
            {"field": ".".join(map(str, e["loc"])) or "body", "problem": e["msg"]}
            for e in exc.errors()
        ]
        raise ApiError(400, "bad_body", "the body is not valid: see details", details) from None
