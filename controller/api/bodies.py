"""Reading a JSON request body: the one body parser of the API.

Every route with a JSON body reads it with ``read_body(request, Model)``, a pydantic
model that refuses unknown fields (``extra="forbid"``); the OpenAPI document takes
the body's schema from that model (:mod:`controller.openapi`). Bad input is a 400,
and nothing is changed:

- ``bad_json``: not strict JSON (:func:`devices.contract.codec.parse_json`):
  ``NaN``/``Infinity``, a number beyond a float's range or of more than 4300 digits,
  nesting deeper than the recursion limit are refused like any other non-JSON;
- ``bad_body``: JSON that does not fit the model; ``details`` lists
  ``{"field", "problem"}`` for each bad field (``body`` for the body as a whole).

No body at all (or only white space) is read as ``{}``: a route whose fields are all
optional (``POST /api/alarms/{id}/ack``) needs none; one with required fields says
which are missing.
"""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from devices.contract import ContractError
from devices.contract.codec import parse_json

from .errors import ApiError, invalid_input

M = TypeVar("M", bound=BaseModel)


def _json(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    try:
        return parse_json(raw)
    except ContractError as exc:
        raise ApiError(400, "bad_json", f"the body is not JSON: {exc.message}") from None


async def read_body(request: web.Request, model: type[M]) -> M:
    """The body as ``model``; 400 ``bad_json`` or ``bad_body`` (details name the fields)."""
    data = _json(await request.read())
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_input("bad_body", "the body is not valid: see details", exc, "body") from None
