"""What Home Assistant is told (pure functions, no MQTT).

Per device, on Home Assistant's broker (``site`` is the site's slug), the entities its
type declares (``ha`` in ``devices/contract/types/{type}.py``): each on
``tryggbo-ha/{site}/{device}/{entity}/{leaf}`` (``state``, ``set``, ...). The
generated table in docs/mqtt-contract.md lists them per type.

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
from devices.contract import DEVICE_TYPES, DeviceTypeSpec, spec_for
from devices.contract.type_spec import HaEntity

ONLINE, OFFLINE = "online", "offline"
ORIGIN = {"name": "Tryggbo", "sw_version": "0.1.0"}
#: the topic leaves Home Assistant sends commands on, over every type
COMMAND_LEAVES = tuple(
    sorted({leaf for s in DEVICE_TYPES.values() for e in s.ha for leaf in e.commands})
)
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
        return [f"{self.base}/+/+/{leaf}" for leaf in COMMAND_LEAVES]

    def parse_command(self, topic: str) -> tuple[str, str, str] | None:
        """``(device, entity, leaf)`` of a command topic, or None."""
        parts = topic.split("/")
        if len(parts) != 5 or "/".join(parts[:2]) != self.base:
            return None
        _, _, device, entity, leaf = parts
        return (device, entity, leaf) if leaf in COMMAND_LEAVES else None

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


def _object_id(spec: DeviceTypeSpec, device: str, entity: HaEntity) -> str:
    """A type with one entity names its config by the device, others device_entity."""
    return device if len(spec.ha) == 1 else f"{device}_{entity.entity}"


def discovery_configs(site: Site, topics: HaTopics) -> dict[str, dict[str, Any]]:
    """``{config topic: payload}`` for every entity of every device of ``site`` (each
    type's ``ha`` in devices/contract/types/), and the site's refusal event."""
    out: dict[str, dict[str, Any]] = {
        topics.config("event", "refusals"): refusal_config(site, topics)
    }
    for apartment in site.apartments:
        for entry in apartment.devices:
            spec = spec_for(entry.type)
            for entity in spec.ha:
                config_topic = topics.config(entity.component, _object_id(spec, entry.id, entity))
                out[config_topic] = {
                    **_common(topics, site, entry.id, spec.name, entity.entity),
                    "name": entity.name,
                    **{
                        key: topics.entity(entry.id, entity.entity, leaf)
                        for key, leaf in entity.topics.items()
                    },
                    **entity.config,
                }
    return out


def state_messages(topics: HaTopics, device: str, kind: str, state: Any) -> dict[str, str]:
    """``{state topic: payload}`` for a device's reported state (a contract state model)."""
    if state is None:
        return {}
    return {
        topics.entity(device, entity.entity, leaf): payload
        for entity in spec_for(kind).ha
        for leaf, payload in entity.states(state).items()
    }


class BadCommand(ValueError):
    """A Home Assistant command that maps to no Tryggbo action."""


def command_for(kind: str, entity: str, leaf: str, payload: str) -> tuple[str, dict[str, Any]]:
    """The Tryggbo ``(action, args)`` for a Home Assistant command; BadCommand if none."""
    text = payload.strip()
    parse = next((e.commands.get(leaf) for e in spec_for(kind).ha if e.entity == entity), None)
    if parse is None:
        raise BadCommand(f"{entity}/{leaf} {text[:40]!r} is not a command for a {kind}")
    try:
        return parse(text)
    except ValueError as exc:
        raise BadCommand(f"{entity}/{leaf}: {exc}") from None
