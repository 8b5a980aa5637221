"""What a store tells the other instances on the same site's PostgreSQL schema: each
alarm change is announced with ``NOTIFY`` in the transaction that writes it, so it is
heard (on commit) exactly when it is stored, and never if it is rolled back.

The channel is the site's (one per schema: channels are database-wide, and the homes
of a region share a database); the payload names the alarm, the change and the store
instance that made it, so an instance skips its own (controller/live_relay.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

#: PostgreSQL's longest identifier (NAMEDATALEN - 1); a channel name is one
_MAX_NAME = 63
_PREFIX = "tryggbo_live_"


def live_channel(schema: str | None) -> str:
    """The NOTIFY channel of the site whose store is ``schema`` (None: ``public``)."""
    name = _PREFIX + (schema or "public")
    if len(name) <= _MAX_NAME:
        return name
    return _PREFIX + hashlib.sha256(name.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class AlarmNote:
    """One stored alarm change: which instance, which alarm, what was done
    (``raise``, ``repeat``, ``escalate``, ``ack``, ``on_site``, ``close``, ``note``...)."""

    origin: str
    alarm_id: int
    change: str

    def payload(self) -> str:
        return json.dumps({"origin": self.origin, "alarm": self.alarm_id, "change": self.change})

    @classmethod
    def parse(cls, payload: str) -> AlarmNote | None:
        """The note in a NOTIFY payload, or None if it is not one."""
        try:
            data = json.loads(payload)
            return cls(str(data["origin"]), int(data["alarm"]), str(data["change"]))
        except (ValueError, TypeError, KeyError):
            return None
