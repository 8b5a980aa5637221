"""Canonical JSON and the HMAC-SHA256 signature of commands (locks require it)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from .payloads import Command


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes that are signed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signing_body(command: Command, device: str) -> bytes:
    """The signed bytes: ``{id, device, action, args, issued_at, expires_at}``."""
    wire = command.model_dump(mode="json")
    body = {k: wire[k] for k in ("id", "action", "args", "issued_at", "expires_at")}
    body["device"] = device
    return canonical_json(body)


def sign_command(command: Command, device: str, key: bytes) -> Command:
    """A copy of ``command`` carrying its signature for ``device``."""
    sig = hmac.new(key, signing_body(command, device), hashlib.sha256).hexdigest()
    return command.model_copy(update={"sig": sig})


def verify_command(command: Command, device: str, key: bytes) -> bool:
    """True when ``command.sig`` is the right signature for ``device`` under ``key``."""
    if not command.sig:
        return False
    expected = hmac.new(key, signing_body(command, device), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, command.sig)
