"""What Home Assistant is told (pure functions, no MQTT).

Per device, on Home Assistant's broker (``site`` is the site's slug):

- lock (HA ``lock``): ``tryggbo-ha/{site}/{device}/lock/state`` LOCKED, UNLOCKED,
  LOCKING, UNLOCKING, JAMMED; commands LOCK, UNLOCK on ``.../lock/set``;
- curtain (HA ``cover``, device class curtain): state open, opening, closed, closing,
  stopped on ``.../cover/state``, position 0-100 on ``.../cover/position``; OPEN,
  CLOSE, STOP on ``.../cover/set``, a position on ``.../cover/set_position``;
- screen: brightness (HA ``number``, 0-100 %) on ``.../brightness/state`` and
  ``.../brightness/set``; night mode (HA ``switch``) ON/OFF on ``.../night_mode/...``.

Refusals (HA ``event``, one per site, "Refused command"): a command the bridge refuses
is published (not retained) on ``tryggbo-ha/{site}/bridge/refusal`` as
``{"event_type": code, "device", "action", "reason"}``, ``code`` one of
:data:`REFUSAL_TYPES`.

Availability: ``tryggbo-ha/{site}/bridge/availability`` (``online`` while the bridge is
connected to Home Assistant's broker *and* the controller to the site's broker; a last
will ``offline``) and ``tryggbo-ha/{site}/{device}/availability`` (the device's twin);
a device's entity is available when both say ``online``. Discovery configs are retained under
``{prefix}/{component}/tryggbo_{site}/{object}/config``. No resident's name is sent:
devices are named by apartment number only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from config.site import Site
from devices.contract import DeviceType

ONLINE, OFFLINE = "online", "offline"
LOCK_STATES = {
    "locked": "LOCKED",
    "unlocked": "UNLOCKED",
    "locking": "LOCKING",
    "unlocking": "UNLOCKING",
    "jammed": "JAMMED",
}
ORIGIN = {"name": "Tryggbo", "sw_version": "0.1.0"}
#: why the bridge refused a command (the refusal event's ``event_type``)
REFUSAL_TYPES = ("retained_command", "unlock_off", "no_user", "not_permitted", "store_unavailable")


@dataclass(frozen=True)
class HaTopics:
    site: str
    prefix: str = "homeassistant"

    @property
    def base(self) -> str:
        return f"tryggbo-ha/{self.site}"

    @property
    def bridge_availability(self) -> str:
        return f"{self.base}/bridge/availability"

    @property
    def refusals(self) -> str:
        return f"{self.base}/bridge/refusal"

    def availability(self, device: str) -> str:
        return f"{self.base}/{device}/availability"

    def entity(self, device: str, entity: str, leaf: str) -> str:
        return f"{self.base}/{device}/{entity}/{leaf}"

    @property
    def command_filters(self) -> list[str]:
        return [f"{self.base}/+/+/set", f"{self.base}/+/+/set_position"]

    def parse_command(self, topic: str) -> tuple[str, str, str] | None:
        """``(device, entity, leaf)`` of a command topic, or None."""
        parts = topic.split("/")
        if len(parts) != 5 or "/".join(parts[:2]) != self.base:
            return None
        _, _, device, entity, leaf = parts
        return (device, entity, leaf) if leaf in ("set", "set_position") else None

    def config(self, component: str, object_id: str) -> str:
        return f"{self.prefix}/{component}/tryggbo_{self.site}/{object_id}/config"


def _common(topics: HaTopics, site: Site, device: str, kind: str, entity: str) -> dict[str, Any]:
    apartment = next((a for a in site.apartments if any(d.id == device for d in a.devices)), None)
    where = f"Apartment {apartment.number}" if apartment else device
    return {
        "unique_id": f"tryggbo_{site.slug}_{device}_{entity}".replace("-", "_"),
        "availability": [
            {"topic": t, "payload_available": ONLINE, "payload_not_available": OFFLINE}
            for t in (topics.bridge_availability, topics.availability(device))
        ],
        "availability_mode": "all",
        "qos": 1,
        "device": {
            "identifiers": [f"tryggbo_{site.slug}_{device}"],
            "name": f"{where} {kind}",
            "manufacturer": "Tryggbo",
            "model": kind,
            "suggested_area": where,
        },
        "origin": ORIGIN,
    }


def refusal_config(site: Site, topics: HaTopics) -> dict[str, Any]:
    """The site's "Refused command" event entity, on a device for the bridge itself."""
    return {
        "unique_id": f"tryggbo_{site.slug}_refusals".replace("-", "_"),
        "name": "Refused command",
        "icon": "mdi:shield-lock-outline",
        "state_topic": topics.refusals,
        "event_types": list(REFUSAL_TYPES),
        "availability": [
            {
                "topic": topics.bridge_availability,
                "payload_available": ONLINE,
                "payload_not_available": OFFLINE,
            }
        ],
        "qos": 1,
        "device": {
            "identifiers": [f"tryggbo_{site.slug}_bridge"],
            "name": "Tryggbo bridge",
            "manufacturer": "Tryggbo",
            "model": "Home Assistant bridge",
        },
        "origin": ORIGIN,
    }


def refusal_message(code: str, device: str, action: str, reason: str) -> str:
    """The refusal event's payload (``code`` from :data:`REFUSAL_TYPES`)."""
    assert code in REFUSAL_TYPES, code
    return json.dumps({"event_type": code, "device": device, "action": action, "reason": reason})


def discovery_configs(site: Site, topics: HaTopics) -> dict[str, dict[str, Any]]:
    """``{config topic: payload}`` for every lock, curtain and screen of ``site``, and
    the site's refusal event."""
    out: dict[str, dict[str, Any]] = {
        topics.config("event", "refusals"): refusal_config(site, topics)
    }
    for apartment in site.apartments:
        for entry in apartment.devices:
            device, kind = entry.id, DeviceType(entry.type)
            if kind is DeviceType.LOCK:
                out[topics.config("lock", device)] = {
                    **_common(topics, site, device, "lock", "lock"),
                    "name": "Door lock",
                    "command_topic": topics.entity(device, "lock", "set"),
                    "state_topic": topics.entity(device, "lock", "state"),
                    "payload_lock": "LOCK",
                    "payload_unlock": "UNLOCK",
                    "state_locked": "LOCKED",
                    "state_unlocked": "UNLOCKED",
                    "state_locking": "LOCKING",
                    "state_unlocking": "UNLOCKING",
                    "state_jammed": "JAMMED",
                    "optimistic": False,
                }
            elif kind is DeviceType.CURTAIN:
                out[topics.config("cover", device)] = {
                    **_common(topics, site, device, "curtain", "cover"),
                    "name": "Curtain",
                    "device_class": "curtain",
                    "command_topic": topics.entity(device, "cover", "set"),
                    "state_topic": topics.entity(device, "cover", "state"),
                    "position_topic": topics.entity(device, "cover", "position"),
                    "set_position_topic": topics.entity(device, "cover", "set_position"),
                    "payload_open": "OPEN",
                    "payload_close": "CLOSE",
                    "payload_stop": "STOP",
                    "position_open": 100,
                    "position_closed": 0,
                    "state_open": "open",
                    "state_opening": "opening",
                    "state_closed": "closed",
                    "state_closing": "closing",
                    "state_stopped": "stopped",
                    "optimistic": False,
                }
            elif kind is DeviceType.SCREEN:
                out[topics.config("number", f"{device}_brightness")] = {
                    **_common(topics, site, device, "screen", "brightness"),
                    "name": "Screen brightness",
                    "command_topic": topics.entity(device, "brightness", "set"),
                    "state_topic": topics.entity(device, "brightness", "state"),
                    "min": 0,
                    "max": 100,
                    "step": 1,
                    "mode": "slider",
                    "unit_of_measurement": "%",
                }
                out[topics.config("switch", f"{device}_night_mode")] = {
                    **_common(topics, site, device, "screen", "night_mode"),
                    "name": "Screen night mode",
                    "command_topic": topics.entity(device, "night_mode", "set"),
                    "state_topic": topics.entity(device, "night_mode", "state"),
                    "payload_on": "ON",
                    "payload_off": "OFF",
                    "state_on": "ON",
                    "state_off": "OFF",
                }
    return out


def state_messages(topics: HaTopics, device: str, kind: str, state: Any) -> dict[str, str]:
    """``{state topic: payload}`` for a device's reported state (a contract state model)."""
    if state is None:
        return {}
    if kind == DeviceType.LOCK.value:
        return {topics.entity(device, "lock", "state"): LOCK_STATES.get(state.lock, "JAMMED")}
    if kind == DeviceType.CURTAIN.value:
        motion = {"opening": "opening", "closing": "closing", "blocked": "stopped"}
        text = motion.get(state.motion) or ("closed" if state.position == 0 else "open")
        return {
            topics.entity(device, "cover", "state"): text,
            topics.entity(device, "cover", "position"): str(state.position),
        }
    if kind == DeviceType.SCREEN.value:
        return {
            topics.entity(device, "brightness", "state"): str(state.brightness),
            topics.entity(device, "night_mode", "state"): "ON" if state.night_mode else "OFF",
        }
    return {}


class BadCommand(ValueError):
    """A Home Assistant command that maps to no Tryggbo action."""


def command_for(kind: str, entity: str, leaf: str, payload: str) -> tuple[str, dict[str, Any]]:
    """The Tryggbo ``(action, args)`` for a Home Assistant command; BadCommand if none."""
    text = payload.strip()
    if kind == DeviceType.LOCK.value and (entity, leaf) == ("lock", "set"):
        actions = {"LOCK": "lock", "UNLOCK": "unlock"}
        if text in actions:
            return actions[text], {}
    elif kind == DeviceType.CURTAIN.value and (entity, leaf) == ("cover", "set"):
        actions = {"OPEN": "open", "CLOSE": "close", "STOP": "stop"}
        if text in actions:
            return actions[text], {}
    elif kind == DeviceType.CURTAIN.value and (entity, leaf) == ("cover", "set_position"):
        return "set_position", {"position": _percent(text)}
    elif kind == DeviceType.SCREEN.value and (entity, leaf) == ("brightness", "set"):
        return "set_brightness", {"brightness": _percent(text)}
    elif (
        kind == DeviceType.SCREEN.value
        and (entity, leaf) == ("night_mode", "set")
        and text in ("ON", "OFF")
    ):
        return "set_night_mode", {"on": text == "ON"}
    raise BadCommand(f"{entity}/{leaf} {text[:40]!r} is not a command for a {kind}")


def _percent(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise BadCommand(f"{text[:40]!r} is not a number") from None
    if not 0 <= value <= 100 or value != value:
        raise BadCommand(f"{text[:40]!r} is not between 0 and 100")
    return round(value)
