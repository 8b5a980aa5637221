"""NATS Server configuration for a site's clustered MQTT broker (issue 16).

NATS Server (2.9, Debian ``nats-server``) speaks MQTT 3.1.1 and keeps retained
messages and persistent MQTT sessions in JetStream, replicated across a cluster: a
client whose node dies reconnects to another node and finds its session there. This
renders one node's configuration: ``server_name``, ``jetstream { store_dir }``,
``cluster { routes }``, ``mqtt { listen }`` and the site's logins with permissions
that mirror Mosquitto's ACL (config/mosquitto.py ``render_acl``) as far as NATS
allows.

NATS maps an MQTT topic to a subject: ``/`` becomes ``.``, ``+`` ``*`` and ``#``
``>``; Tryggbo's names have no ``.`` or space (devices/contract/names.py), so every
topic maps one to one.

Gaps against Mosquitto's ACL (docs/architecture.md, "Scale-out"):

* NATS has no ``use_username_as_clientid``: a login may connect with any client id.
  A device that knows its own password could take over another client's session by
  connecting with that client's id (it still may publish and receive only its own
  subjects). Mosquitto binds the id to the login.
* A subscribe permission is checked when a client subscribes; a denied MQTT
  SUBSCRIBE is answered with failure (0x80) rather than silently granted.
* NATS 2.9 has no ``$share`` subscriptions (Tryggbo needs none: issue 16 part 2).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from devices.contract import SiteTopics

from .credentials import MqttLogin, SiteCredentials, write_private


def subject(topic: str) -> str:
    """The NATS subject of an MQTT topic filter (``a/+/b/#`` -> ``a.*.b.>``)."""
    words = ["*" if w == "+" else ">" if w == "#" else w for w in topic.split("/")]
    return ".".join(words)


NODE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
#: where NATS delivers a QoS 1 subscription's messages (its JetStream consumer's
#: delivery subject): every MQTT login needs to subscribe there
MQTT_DELIVERY = "$MQTT.sub.>"


@dataclass(frozen=True, slots=True)
class NodeAddress:
    """One node of the cluster: its name, MQTT port, cluster (route) port and monitoring
    port (``/healthz``)."""

    name: str
    host: str
    mqtt_port: int
    cluster_port: int
    monitor_port: int

    @classmethod
    def parse(cls, text: str) -> NodeAddress:
        """``NAME=HOST:MQTT_PORT:CLUSTER_PORT:MONITOR_PORT``; ValueError if not."""
        name, _, rest = text.partition("=")
        parts = rest.split(":")
        if not NODE_NAME.match(name) or len(parts) != 4 or not parts[0]:
            raise ValueError(f"node {text!r} must look like n1=10.0.0.1:1883:6222:8222")
        try:
            ports = [int(p) for p in parts[1:]]
        except ValueError:
            raise ValueError(f"node {text!r}: ports must be numbers") from None
        if not all(0 < p < 65536 for p in ports) or len(set(ports)) != 3:
            raise ValueError(f"node {text!r}: three different ports from 1 to 65535")
        return cls(name, parts[0], *ports)


def _user(login: MqttLogin, publish: list[str], subscribe: list[str]) -> dict[str, object]:
    return {
        "user": login.username,
        "password": login.password,
        "permissions": {
            "publish": {"allow": [subject(t) for t in publish]},
            # a QoS 1 subscription is a JetStream consumer delivering to $MQTT.sub.<id>
            "subscribe": {"allow": [subject(t) for t in subscribe] + [MQTT_DELIVERY]},
        },
        "allowed_connection_types": ["MQTT"],
    }


def render_users(creds: SiteCredentials) -> list[dict[str, object]]:
    """The site's logins with the rights Mosquitto's ACL gives them: each controller
    login the whole site, the fire panel its fire topic, a device its own topics."""
    topics = SiteTopics(creds.site)
    site_all = f"{topics.root}/#"
    users = [_user(login, [site_all], [site_all]) for login in creds.controller_logins()]
    users.append(_user(creds.fire_panel, [topics.fire], [topics.fire]))
    for device_id in sorted(creds.devices):
        prefix = topics.device_prefix(device_id)
        writes = [f"{prefix}{ch}" for ch in ("meta", "availability", "state", "event", "ack")]
        reads = [f"{prefix}{ch}" for ch in ("cmd", "schedule", "confirm")]
        reads += [topics.fire, topics.controller_availability]
        users.append(_user(creds.devices[device_id], writes, reads))
    return users


def render_node_conf(
    creds: SiteCredentials,
    node: NodeAddress,
    cluster: list[NodeAddress],
    *,
    store_dir: Path,
    cluster_name: str = "tryggbo",
) -> str:
    """A complete nats-server configuration for ``node`` of ``cluster`` (JSON is valid
    NATS configuration syntax, so values need no escaping of their own)."""
    routes = [f"nats-route://{n.host}:{n.cluster_port}" for n in cluster if n != node]
    conf: dict[str, object] = {
        "server_name": node.name,
        "host": node.host,
        "port": -1,  # no NATS-protocol clients: MQTT only, on ``mqtt.port``
        "http": f"{node.host}:{node.monitor_port}",  # /healthz: JetStream ready
        "jetstream": {"store_dir": str(store_dir)},
        "cluster": {
            "name": cluster_name,
            "host": node.host,
            "port": node.cluster_port,
            "routes": routes,
        },
        "mqtt": {
            "host": node.host,
            "port": node.mqtt_port,
            # a PUBACK is owed within this long, else the message is sent again
            "ack_wait": "10s",
            # the controller keeps up to 1,000 QoS 1 messages in flight
            "max_ack_pending": 1000,
            # sessions and retained messages on every node (R3), whichever node the
            # first client happened to reach before the cluster had formed
            "stream_replicas": min(3, len(cluster)),
        },
        "authorization": {"users": render_users(creds)},
    }
    return "# Tryggbo NATS node (generated; edit the site, not this file).\n" + json.dumps(
        conf, indent=2
    )


def write_cluster_config(
    creds: SiteCredentials,
    directory: Path,
    nodes: list[NodeAddress],
    *,
    store_root: Path | None = None,
) -> list[Path]:
    """Write one configuration per node, ``{directory}/{name}.conf`` (0600: it holds
    the site's passwords), each node's JetStream in ``{store_root}/{name}``
    (default: ``{directory}/{name}-jetstream``); returns the files, in node order."""
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise ValueError("every node needs a name of its own")
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for node in nodes:
        store = store_root / node.name if store_root else directory / f"{node.name}-jetstream"
        store.resolve().mkdir(parents=True, exist_ok=True)
        conf = directory / f"{node.name}.conf"
        write_private(conf, render_node_conf(creds, node, nodes, store_dir=store.resolve()))
        files.append(conf)
    return files
