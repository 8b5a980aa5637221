"""Every JSON answer (HTTP and WebSocket) is strict JSON, written here.

Python's ``json`` writes nan and inf as ``NaN`` / ``Infinity``, which are not JSON: a
browser's ``JSON.parse`` refuses the whole answer. The contract refuses them on the
way in (``devices/contract/codec.py``), but rows stored before it did may hold them
(event and alarm details): such a value is answered as ``null``.
"""

from __future__ import annotations

import json
import math
from functools import partial
from typing import Any

import pydantic_core
from aiohttp import web


def dumps(value: Any, *, indent: int | None = None, ensure_ascii: bool = True) -> str:
    """``value`` as strict JSON; a non-finite float becomes ``null``."""
    try:
        return json.dumps(value, allow_nan=False, indent=indent, ensure_ascii=ensure_ascii)
    except ValueError:  # a non-finite float somewhere: only then walk the value
        return json.dumps(
            _finite_or_null(value), allow_nan=False, indent=indent, ensure_ascii=ensure_ascii
        )


def frame_json(value: Any) -> str:
    """``value`` as strict JSON for the live feed's frames (a non-finite float
    becomes ``null``), by pydantic-core's compiled encoder: the same JSON as
    :func:`dumps`, with non-ASCII characters as UTF-8 rather than ``\\u`` escapes,
    a quarter of the CPU on a batch (docs/performance.md)."""
    return pydantic_core.to_json(value, inf_nan_mode="null").decode()


def _finite_or_null(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(v) for v in value]
    return value


def json_response(
    data: Any,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    indent: int | None = None,
    ensure_ascii: bool = True,
) -> web.Response:
    """The one way a route answers JSON (see :func:`dumps`)."""
    return web.json_response(
        data,
        status=status,
        headers=headers,
        dumps=partial(dumps, indent=indent, ensure_ascii=ensure_ascii),
    )
