"""Home Assistant's MQTT discovery schema for the components the bridge announces,
transcribed from Home Assistant Core (homeassistant/components/mqtt/: schemas.py
MQTT_ENTITY_COMMON_SCHEMA and the availability/device/origin schemas, config.py
MQTT_RW_SCHEMA and MQTT_RO_SCHEMA, lock.py, cover.py, number.py, switch.py, event.py,
binary_sensor.py; binary_sensor's device classes from homeassistant/components/
binary_sensor/__init__.py BinarySensorDeviceClass)
and the MQTT lock/cover/event integration docs. Stricter than HA in one way: an
unknown key is a problem here (HA drops it silently, so a typo would go unnoticed
there)."""

from __future__ import annotations

from typing import Any

STR, INT, BOOL, NUM = str, int, bool, (int, float)

COMMON: dict[str, Any] = {
    "name": (str, type(None)),
    "unique_id": STR,
    "object_id": STR,
    "default_entity_id": STR,
    "icon": STR,
    "entity_category": STR,
    "enabled_by_default": BOOL,
    "json_attributes_topic": "subscribe",
    "json_attributes_template": STR,
    "availability_topic": "subscribe",
    "availability_template": STR,
    "payload_available": STR,
    "payload_not_available": STR,
    "availability_mode": STR,
    "availability": list,
    "device": dict,
    "origin": dict,
    "qos": INT,
    "encoding": STR,
}
RW: dict[str, Any] = {
    "command_topic": "publish",
    "state_topic": "subscribe",
    "retain": BOOL,
    "optimistic": BOOL,
    "value_template": STR,
    "command_template": STR,
}
RO: dict[str, Any] = {"state_topic": "subscribe", "value_template": STR}
COMPONENTS: dict[str, tuple[set[str], dict[str, Any]]] = {
    "event": (
        {"state_topic", "event_types"},
        {**RO, "device_class": STR, "event_types": list},
    ),
    "lock": (
        {"command_topic"},
        {
            **RW,
            "code_format": STR,
            "payload_lock": STR,
            "payload_unlock": STR,
            "payload_open": STR,
            "payload_reset": STR,
            "state_jammed": STR,
            "state_locked": STR,
            "state_locking": STR,
            "state_open": STR,
            "state_opening": STR,
            "state_unlocked": STR,
            "state_unlocking": STR,
        },
    ),
    "cover": (
        set(),
        {
            **RW,
            "device_class": STR,
            "position_topic": "subscribe",
            "position_template": STR,
            "set_position_topic": "publish",
            "set_position_template": STR,
            "payload_open": (str, type(None)),
            "payload_close": (str, type(None)),
            "payload_stop": (str, type(None)),
            "position_open": INT,
            "position_closed": INT,
            "state_open": STR,
            "state_opening": STR,
            "state_closed": STR,
            "state_closing": STR,
            "state_stopped": STR,
            "tilt_command_topic": "publish",
            "tilt_status_topic": "subscribe",
        },
    ),
    "number": (
        {"command_topic"},
        {
            **RW,
            "device_class": STR,
            "min": NUM,
            "max": NUM,
            "step": NUM,
            "mode": STR,
            "payload_reset": STR,
            "unit_of_measurement": STR,
        },
    ),
    "binary_sensor": (
        {"state_topic"},
        {
            **RO,
            "device_class": (str, type(None)),
            "expire_after": INT,
            "force_update": BOOL,
            "off_delay": INT,
            "payload_on": STR,
            "payload_off": STR,
        },
    ),
    "switch": (
        {"command_topic"},
        {
            **RW,
            "device_class": STR,
            "payload_on": STR,
            "payload_off": STR,
            "state_on": STR,
            "state_off": STR,
        },
    ),
}
DEVICE_KEYS = {
    "identifiers", "connections", "manufacturer", "model", "model_id", "name", "hw_version",
    "serial_number", "sw_version", "via_device", "suggested_area", "configuration_url",
}  # fmt: skip
AVAILABILITY_MODES = {"all", "any", "latest"}
COVER_STATES_DEVICE_CLASSES = {
    "awning", "blind", "curtain", "damper", "door", "garage", "gate", "shade", "shutter",
    "window",
}  # fmt: skip
EVENT_DEVICE_CLASSES = {"button", "doorbell", "motion"}
BINARY_SENSOR_DEVICE_CLASSES = {
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
    "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving",
    "occupancy", "opening", "plug", "power", "presence", "problem", "running", "safety",
    "smoke", "sound", "tamper", "update", "vibration", "window",
}  # fmt: skip


def _topic(value: Any, kind: str) -> str | None:
    if not isinstance(value, str) or not value or "\0" in value:
        return "not a non-empty topic"
    if len(value.encode()) > 65535:
        return "too long"
    if kind == "publish" and ("+" in value or "#" in value):
        return "a publish topic may not hold wildcards"
    return None


def problems(component: str, config: dict[str, Any]) -> list[str]:
    """What Home Assistant would refuse (or silently drop) in a discovery config."""
    required, specific = COMPONENTS[component]
    allowed = {**COMMON, **specific}
    out = [f"missing {key}" for key in sorted(required) if key not in config]
    for key, value in config.items():
        rule = allowed.get(key)
        if rule is None:
            out.append(f"unknown key {key}")
        elif rule in ("publish", "subscribe"):
            if (why := _topic(value, rule)) is not None:
                out.append(f"{key}: {why}")
        elif not isinstance(value, rule) or (rule is INT and isinstance(value, bool)):
            out.append(f"{key}: {value!r} has the wrong type")
    if "availability" in config and "availability_topic" in config:
        out.append("availability and availability_topic are exclusive")
    for item in config.get("availability", []):
        if set(item) - {"topic", "payload_available", "payload_not_available", "value_template"}:
            out.append(f"availability item {item} has unknown keys")
        if _topic(item.get("topic"), "subscribe") is not None:
            out.append(f"availability item {item} needs a topic")
    if config.get("availability_mode", "latest") not in AVAILABILITY_MODES:
        out.append("availability_mode must be all, any or latest")
    device = config.get("device")
    if device is not None:
        if set(device) - DEVICE_KEYS:
            out.append(f"device has unknown keys {sorted(set(device) - DEVICE_KEYS)}")
        if not (device.get("identifiers") or device.get("connections")):
            out.append("device needs identifiers or connections")
        if "unique_id" not in config:
            out.append("an entity with a device needs a unique_id")
    origin = config.get("origin")
    if origin is not None and not isinstance(origin.get("name"), str):
        out.append("origin needs a name")
    if component == "cover":
        if "set_position_topic" in config and "position_topic" not in config:
            out.append("set_position_topic must be set together with position_topic")
        if config.get("device_class", "curtain") not in COVER_STATES_DEVICE_CLASSES:
            out.append("unknown cover device_class")
    if component == "event":
        types = config.get("event_types", [])
        if not types or not all(isinstance(t, str) for t in types):
            out.append("event_types must be a non-empty list of strings")
        if config.get("device_class", "button") not in EVENT_DEVICE_CLASSES:
            out.append("unknown event device_class")
    if component == "binary_sensor" and config.get("device_class") not in (
        None,
        *BINARY_SENSOR_DEVICE_CLASSES,
    ):
        out.append("unknown binary_sensor device_class")
    if component == "number" and config.get("mode", "auto") not in ("auto", "box", "slider"):
        out.append("number mode must be auto, box or slider")
    return out
