"""The one place that says what a bus message looks like between instances.

The live relay (controller/live_relay.py) sends, besides the store's alarm notes
(controller/store/live.py), the bus messages of :data:`RELAYED` as PostgreSQL
``NOTIFY`` payloads: ``{"o": origin, "k": kind, "m": fields}``. A payload longer
than PostgreSQL takes (8000 bytes; a WebRTC offer can be longer) travels in parts
(``{"o", "part", "n", "of", "d"}``) sent in one transaction, hence in order, and is
put together again by :class:`Parts`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .bus_messages import (
    BusMessage,
    CallChanged,
    CallOwnerMessage,
    CallScreenMessage,
    CommandResolved,
)
from .command_bus import Outcome

#: the longest text taken from a payload into one part (escaped, at most twice as long)
PART_CHARS = 3800
#: parts of at most this many payloads are kept while waiting for the rest
MAX_PENDING = 64

#: the bus messages that reach the other instances, by their name on the wire
RELAYED: dict[str, type[BusMessage]] = {
    "command": CommandResolved,
    "call": CallChanged,
    "call_screen": CallScreenMessage,
    "call_owner": CallOwnerMessage,
}
_KIND = {cls: kind for kind, cls in RELAYED.items()}


def _fields(msg: BusMessage) -> dict[str, Any]:
    if isinstance(msg, CommandResolved):
        return {
            "command_id": msg.command_id,
            "device": msg.device,
            "action": msg.action,
            "outcome": msg.outcome.value,
            "error": msg.error,
            "state": msg.state,
            "elapsed_ms": msg.elapsed_ms,
            "actor": msg.actor,
            "reason": msg.reason,
            "ts": msg.ts.isoformat(),
        }
    if isinstance(msg, CallChanged):
        return {"call_id": msg.call_id, "apartment": msg.apartment, "device": msg.device,
                "state": msg.state}  # fmt: skip
    if isinstance(msg, CallScreenMessage):
        return {"device": msg.device, "message": msg.message}
    if isinstance(msg, CallOwnerMessage):
        return {"call_id": msg.call_id, "device": msg.device, "kind": msg.kind, "data": msg.data}
    raise TypeError(f"{type(msg).__name__} is not relayed")


def _message(kind: str, m: dict[str, Any], origin: str) -> BusMessage:
    if kind == "command":
        return CommandResolved(
            str(m["command_id"]),
            str(m["device"]),
            str(m["action"]),
            Outcome(m["outcome"]),
            None if m["error"] is None else str(m["error"]),
            m["state"] if isinstance(m["state"], dict) else None,
            float(m["elapsed_ms"]),
            str(m["actor"]),
            None if m["reason"] is None else str(m["reason"]),
            datetime.fromisoformat(m["ts"]),
            origin=origin,
        )
    if kind == "call":
        return CallChanged(str(m["call_id"]), str(m["apartment"]), str(m["device"]),
                           str(m["state"]))  # fmt: skip
    if kind == "call_screen":
        if not isinstance(m["message"], dict):
            raise ValueError("a screen's message is an object")
        return CallScreenMessage(str(m["device"]), m["message"])
    if kind == "call_owner":
        return CallOwnerMessage(str(m["call_id"]), str(m["device"]), str(m["kind"]), m["data"])
    raise ValueError(f"unknown kind {kind!r}")


def encode(msg: BusMessage, origin: str) -> list[str]:
    """The NOTIFY payloads of ``msg`` (one, or its parts in order)."""
    text = json.dumps({"o": origin, "k": _KIND[type(msg)], "m": _fields(msg)})
    if len(text) <= PART_CHARS:
        return [text]
    pieces = [text[i : i + PART_CHARS] for i in range(0, len(text), PART_CHARS)]
    part = f"{origin}:{id(msg)}:{hash(text) & 0xFFFFFFFF:x}"
    return [
        json.dumps({"o": origin, "part": part, "n": i, "of": len(pieces), "d": piece})
        for i, piece in enumerate(pieces)
    ]


def decode(data: dict[str, Any]) -> tuple[str, BusMessage]:
    """The origin and message of a whole payload (parsed); ValueError if it is not one."""
    try:
        return str(data["o"]), _message(str(data["k"]), data["m"], str(data["o"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a relayed message: {exc!r}") from None


class Parts:
    """Puts the parts of long payloads together again."""

    def __init__(self) -> None:
        self._pending: dict[str, list[str]] = {}

    def add(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """The whole payload once its last part came (parsed), else None."""
        try:
            part, n, of, piece = str(data["part"]), int(data["n"]), int(data["of"]), data["d"]
        except (KeyError, TypeError, ValueError):
            raise ValueError("not a part") from None
        if not isinstance(piece, str) or not 0 <= n < of:
            raise ValueError("not a part")
        pieces = self._pending.setdefault(part, [])
        if len(pieces) != n:  # a part missed (not listening then): the payload is lost
            self._pending.pop(part, None)
            raise ValueError(f"part {n} of {part} out of order")
        pieces.append(piece)
        while len(self._pending) > MAX_PENDING:
            self._pending.pop(next(iter(self._pending)))
        if len(pieces) < of:
            return None
        del self._pending[part]
        whole = json.loads("".join(pieces))
        if not isinstance(whole, dict):
            raise ValueError("not an object")
        return whole
