"""Bytes on the wire to models and back, with the 16 KiB limit.

Every decoder raises :class:`ContractError` and nothing else, so a receive loop
needs exactly one ``except`` to stay alive whatever arrives.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError

from .device_types import _describe, spec_for
from .errors import ContractError
from .payloads import MAX_PAYLOAD_BYTES, AnyState, Availability, DeviceType

M = TypeVar("M", bound=BaseModel)


def encode(model: BaseModel) -> bytes:
    """Serialize a payload model (by alias, UTC times); refuse one over 16 KiB."""
    data = model.model_dump_json(by_alias=True).encode()
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ContractError("too_large", f"{len(data)} bytes > {MAX_PAYLOAD_BYTES}")
    return data


def decode_object(payload: bytes | bytearray | str) -> dict[str, Any]:
    """Bytes to a JSON object, checking size, UTF-8 and that it is an object."""
    if isinstance(payload, str):
        payload = payload.encode()
    if not isinstance(payload, (bytes, bytearray)):
        raise ContractError("not_bytes", f"payload of type {type(payload).__name__}")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ContractError("too_large", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        value = json.loads(bytes(payload).decode("utf-8"))
    except UnicodeDecodeError:
        raise ContractError("not_utf8", "payload is not UTF-8") from None
    except (ValueError, RecursionError):
        raise ContractError("not_json", "payload is not JSON") from None
    if not isinstance(value, dict):
        raise ContractError("not_object", "payload is not a JSON object")
    return value


def decode(model: type[M], payload: bytes | bytearray | str) -> M:
    """Bytes to ``model``; :class:`ContractError` on any problem.

    A good payload is parsed and validated in one pass by pydantic-core; a refused
    one goes the long way (``json`` then the model) so the error names its reason.
    """
    if isinstance(payload, (bytes, bytearray)) and len(payload) <= MAX_PAYLOAD_BYTES:
        try:
            return model.model_validate_json(payload)
        except ValidationError:
            pass  # said precisely below
    obj = decode_object(payload)
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise ContractError("invalid", f"{model.__name__}: {_describe(exc)}") from None


def decode_state(device_type: DeviceType | str, payload: bytes | bytearray | str) -> AnyState:
    """Decode a ``state`` payload with the model of ``device_type``."""
    return cast(AnyState, decode(spec_for(device_type).state_model, payload))


def decode_availability(payload: bytes | bytearray | str) -> Availability:
    """Plain ``online`` / ``offline``."""
    if isinstance(payload, (bytes, bytearray)):
        if len(payload) > 16:
            raise ContractError("invalid", "availability payload too long")
        try:
            payload = bytes(payload).decode("ascii")
        except UnicodeDecodeError:
            raise ContractError("invalid", "availability is not ASCII") from None
    try:
        return Availability(payload.strip())
    except (ValueError, AttributeError):
        raise ContractError("invalid", f"availability {payload!r} is not online/offline") from None
