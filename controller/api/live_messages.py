"""What a bus message looks like on the WebSocket: the one place that says it.

:func:`live_message` gives a message's ``type`` and ``data`` as ``GET /api/ws`` sends
them (before :func:`~.privacy.live_for` takes out what the caller may not see), from
the typed messages of :mod:`controller.bus_messages`; the twin and the alarm have the
JSON of the HTTP routes (:func:`~controller.twins.twin_json`,
:func:`~controller.alarms.model.alarm_json`). A twin's JSON is made once per message,
however many clients are connected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from config.site import Site

from ..alarms.model import alarm_json
from ..bus_messages import (
    AlarmChanged,
    BusMessage,
    CommandResolved,
    DeviceEvent,
    FireChanged,
    TwinChanged,
)
from ..twins import twin_json

Json = dict[str, Any]


def _twin(msg: TwinChanged, _site: Site) -> Json:
    data = msg.json
    if data is None:
        data = twin_json(msg)
        object.__setattr__(msg, "json", data)  # a cache: the message is frozen
    return data


def _event(msg: DeviceEvent, _site: Site) -> Json:
    data: Json = {
        "ts": msg.ts.isoformat(),
        "device": msg.device,
        "type": msg.type,
        "details": msg.details,
    }
    if msg.key is not None:
        data["key"] = msg.key
    if msg.again:
        data["again"] = True
    return data


def _command(msg: CommandResolved, _site: Site) -> Json:
    return {
        "command_id": msg.command_id,
        "device": msg.device,
        "action": msg.action,
        "outcome": msg.outcome.value,
        "error": msg.error,
        "state": msg.state,
        "elapsed_ms": round(msg.elapsed_ms, 1),
        "actor": msg.actor,
        "reason": msg.reason,
        "ts": msg.ts.isoformat(),
    }


def _fire(msg: FireChanged, _site: Site) -> Json:
    return {"state": msg.state, "ts": msg.ts.isoformat()}


def _alarm(msg: AlarmChanged, site: Site) -> Json:
    return {
        **alarm_json(msg.alarm, site),
        "change": msg.change,
        "escalated": msg.escalated,
        "stored": msg.stored,
    }


_LIVE: dict[type, tuple[str, Callable[[Any, Site], Json]]] = {
    TwinChanged: ("twin", _twin),
    DeviceEvent: ("event", _event),
    CommandResolved: ("command", _command),
    FireChanged: ("fire", _fire),
    AlarmChanged: ("alarm", _alarm),
}

#: the message types the WebSocket sends
LIVE_TYPES: tuple[type[BusMessage], ...] = tuple(_LIVE)


def live_message(msg: BusMessage, site: Site) -> tuple[str, Json] | None:
    """The WebSocket ``type`` and ``data`` of ``msg``; None for a type not sent live."""
    if type(msg) is TwinChanged:  # most of a burst: no lookup, the JSON made once
        return "twin", msg.json if msg.json is not None else _twin(msg, site)
    found = _LIVE.get(type(msg))
    if found is None:
        return None
    kind, convert = found
    return kind, convert(msg, site)
