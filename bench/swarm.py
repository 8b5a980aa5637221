"""Lightweight simulated firmware for thousands of devices in one process.

``python -m bench.swarm DIR INDEX COUNT`` runs every COUNT-th device of the fleet in
DIR starting at INDEX (so several processes share the 2 cores). Each device keeps
**its own MQTT connection** (client id ``{site}-{device}``, its own login, its own
retained ``offline`` last will, persistent session), exactly as the contract and the
per-device ACL require: the ACL lets a login write only its own device's topics, and
a last will belongs to one connection, so several devices per connection would lose
per-device ``offline`` detection. What is light is the runtime: raw paho clients
driven by one asyncio loop (no thread or task per device), payloads as plain JSON.

Behaviour per device, following docs/mqtt-contract.md: on connect subscribe to its
``cmd`` (locks also the site's ``fire``), publish retained ``meta``, ``online`` and
``state``; a state heartbeat; commands are decoded with the contract, locks check
the HMAC signature and expiry, the device acts at once (no motor time) and acks with
its state; a fire ``alarm`` unlocks a lock at once and it reports ``unlocked``.

Control on stdin, one word per line (answers on stdout):
``burst K`` publishes K state reports and one event per device (QoS 1) and answers
``BURST n`` once the broker has them all; ``heartbeat S`` sets the state period
(0 = off); ``move DEVICE POSITION`` moves a curtain and answers ``MOVED ms`` (wall
clock just before the publish; ``-`` from processes without it); ``quit``.
``READY n`` is printed once every device is connected.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho

from devices.contract import (
    Channel,
    Command,
    ContractError,
    FireSignal,
    SiteTopics,
    decode,
    decode_state,
    verify_command,
)

from .fleet import load_fleet, raise_fd_limit

FIELDS: dict[str, dict[str, Any]] = {
    "lock": {"lock": "locked", "door": "closed", "battery": 90, "auto_relock_s": 0, "fire": False},
    "curtain": {"position": 0, "target": None, "motion": "idle"},
    "screen": {
        "power": "on",
        "brightness": 80,
        "night_mode": False,
        "message": None,
        "call": "idle",
    },
}
CAPABILITIES = {
    "lock": ["identify", "lock", "ping", "reboot", "set_auto_relock", "unlock", "update_firmware"],
    "curtain": ["close", "identify", "open", "ping", "reboot", "set_position", "stop"],
    "screen": ["identify", "ping", "set_brightness", "set_night_mode"],
}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Device:
    """One device: a paho client on the swarm's loop and its state fields."""

    __slots__ = ("boot", "client", "fields", "id", "key", "seq", "swarm", "topics", "type")

    def __init__(self, swarm: Swarm, device_id: str, kind: str, login: Any) -> None:
        self.swarm = swarm
        self.id = device_id
        self.type = kind
        self.key = login.key
        self.fields = dict(FIELDS[kind])
        self.seq = 0
        self.boot = f"b{int(time.time()) % 100000}"
        t = swarm.topics
        self.topics = {ch: t.device(device_id, ch) for ch in Channel}
        c = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=f"{t.site}-{device_id}",
            clean_session=False,
            protocol=paho.MQTTv311,
        )
        c.username_pw_set(login.username, login.password)
        c.will_set(self.topics[Channel.AVAILABILITY], "offline", qos=1, retain=True)
        c.max_queued_messages_set(0)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_disconnect = self._on_disconnect
        c.on_socket_open = swarm.on_socket_open
        c.on_socket_close = swarm.on_socket_close
        c.on_socket_register_write = swarm.on_register_write
        c.on_socket_unregister_write = swarm.on_unregister_write
        self.client = c

    def state(self) -> bytes:
        self.seq += 1
        body = {
            "seq": self.seq,
            "ts": now_iso(),
            "boot": self.boot,
            "firmware": "1.0.0",
            "uptime_s": self.seq,
            **self.fields,
        }
        return json.dumps(body, separators=(",", ":")).encode()

    def publish(self, channel: Channel, payload: bytes | str, retain: bool = False) -> Any:
        return self.client.publish(self.topics[channel], payload, qos=1, retain=retain)

    def report(self) -> Any:
        return self.publish(Channel.STATE, self.state(), retain=True)

    def _on_connect(self, c: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        if rc != 0:
            print(f"{self.id}: connect refused: {rc}", file=sys.stderr)
            return
        subs = [(self.topics[Channel.CMD], 1)]
        if self.type == "lock":
            subs.append((self.swarm.topics.fire, 1))
        c.subscribe(subs)
        meta = {
            "type": self.type,
            "model": "swarm-1",
            "firmware": "1.0.0",
            "capabilities": CAPABILITIES[self.type],
            "heartbeat_s": 60,
        }
        self.publish(Channel.META, json.dumps(meta), retain=True)
        self.publish(Channel.AVAILABILITY, "online", retain=True)
        self.report()
        self.swarm.connected.add(self.id)
        self.swarm.check_ready()

    def _on_disconnect(self, *_a: Any) -> None:
        self.swarm.connected.discard(self.id)

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        if msg.topic == self.swarm.topics.fire:
            self._on_fire(msg.payload)
        elif not msg.retain and msg.payload:
            self._on_command(msg.payload)

    def _on_fire(self, payload: bytes) -> None:
        try:
            signal = decode(FireSignal, payload)
        except ContractError:
            return
        fire = signal.state == "alarm"
        if fire != self.fields["fire"]:
            self.fields["fire"] = fire
            if fire:
                self.fields["lock"] = "unlocked"
            self.report()

    def _on_command(self, payload: bytes) -> None:
        try:
            command = decode(Command, payload)
        except ContractError:
            return
        status, error = "ok", None
        if self.type == "lock" and not verify_command(command, self.id, self.key):
            status, error = "rejected", "bad_signature"
        elif command.expires_at <= datetime.now(UTC):
            status, error = "rejected", "expired"
        else:
            status, error = self._act(command.action, command.args)
        ack = {"id": command.id, "status": status, "error": error}
        state = json.loads(self.state())
        ack["state"] = state
        self.publish(Channel.ACK, json.dumps(ack, separators=(",", ":")))
        if status == "ok" and command.action not in ("ping", "identify"):
            self.report()

    def _act(self, action: str, args: dict[str, Any]) -> tuple[str, str | None]:
        f = self.fields
        if action in ("ping", "identify"):
            return "ok", None
        if self.type == "lock" and action in ("lock", "unlock"):
            if action == "lock" and f["fire"]:
                return "rejected", "fire_alarm"
            f["lock"] = "locked" if action == "lock" else "unlocked"
            return "ok", None
        if self.type == "curtain" and action in ("open", "close", "set_position"):
            f["position"] = {"open": 100, "close": 0}.get(action, args.get("position", 0))
            return "ok", None
        if self.type == "screen" and action in ("set_brightness", "set_night_mode"):
            key = "brightness" if action == "set_brightness" else "night_mode"
            f[key] = args.get(key, f[key])
            return "ok", None
        return "rejected", "not_supported"


class Swarm:
    """Many devices on one asyncio loop (paho's external-loop callbacks)."""

    def __init__(self, directory: Path, index: int, count: int) -> None:
        fleet = load_fleet(directory)
        self.fleet = fleet
        self.topics = SiteTopics(fleet.site.slug)
        entries = [d for _a, d in fleet.site.devices()][index::count]
        creds = fleet.credentials
        self.devices = [Device(self, d.id, d.type.value, creds.device(d.id)) for d in entries]
        self.by_id = {d.id: d for d in self.devices}
        self.connected: set[str] = set()
        self.ready = asyncio.Event()
        self.heartbeat_s = 0.0
        self.loop = asyncio.get_running_loop()
        for d in self.devices:  # the contract's own parser accepts our payloads
            decode_state(d.type, d.state())
            d.seq = 0

    # paho external-loop callbacks --------------------------------------------------------
    def on_socket_open(self, client: paho.Client, _u: Any, sock: Any) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.loop.add_reader(sock, client.loop_read, 20)

    def on_socket_close(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        self.loop.remove_reader(sock)
        self.loop.remove_writer(sock)

    def on_register_write(self, client: paho.Client, _u: Any, sock: Any) -> None:
        self.loop.add_writer(sock, client.loop_write)

    def on_unregister_write(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        self.loop.remove_writer(sock)

    def check_ready(self) -> None:
        if len(self.connected) == len(self.devices):
            self.ready.set()

    # jobs ---------------------------------------------------------------------------------
    async def connect_all(self, host: str, port: int) -> None:
        for i, d in enumerate(self.devices):
            d.client.connect(host, port, keepalive=120)
            if i % 50 == 49:
                await asyncio.sleep(0.01)  # let CONNACKs in; keep the listen backlog short

    async def misc(self) -> None:
        while True:
            await asyncio.sleep(1)
            for d in self.devices:
                d.client.loop_misc()

    async def heartbeat(self) -> None:
        while True:
            if self.heartbeat_s <= 0:
                await asyncio.sleep(0.2)
                continue
            period = self.heartbeat_s
            step = period / max(1, len(self.devices))
            due = self.loop.time()
            for d in self.devices:
                if self.heartbeat_s != period:
                    break  # changed (or stopped) at once, not after the round
                if d.id in self.connected:
                    d.report()
                due += step  # on a schedule: sleep's overshoot does not slow the rate
                await asyncio.sleep(max(0.0, due - self.loop.time()))

    async def burst(self, k: int) -> int:
        infos = []
        for d in self.devices:
            for _ in range(k):
                infos.append(d.publish(Channel.STATE, d.state()))
            event = {"type": "booted", "ts": now_iso(), "seq": d.seq + 1, "reason": "bench"}
            event["firmware"] = "1.0.0"
            infos.append(d.publish(Channel.EVENT, json.dumps(event)))
            if len(infos) % 500 == 0:
                await asyncio.sleep(0)
        # paho offers nothing to await: poll
        while not all(i.is_published() for i in infos):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return len(infos)


async def main(directory: Path, index: int, count: int) -> None:
    raise_fd_limit()
    swarm = Swarm(directory, index, count)
    host, port = sys.argv[4], int(sys.argv[5])
    jobs = [asyncio.create_task(swarm.misc()), asyncio.create_task(swarm.heartbeat())]
    await swarm.connect_all(host, port)
    await swarm.ready.wait()
    print(f"READY {len(swarm.devices)}", flush=True)
    reader = asyncio.StreamReader()
    await swarm.loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        word, _, arg = line.partition(" ")
        if word == "burst":
            print(f"BURST {await swarm.burst(int(arg))}", flush=True)
        elif word == "heartbeat":
            swarm.heartbeat_s = float(arg)
            print("OK", flush=True)
        elif word == "move":  # move DEVICE POSITION: a curtain moved by hand
            device_id, _, position = arg.partition(" ")
            d = swarm.by_id.get(device_id)
            stamp = "-"
            if d is not None:
                d.fields["position"] = int(position)
                stamp = f"{time.time() * 1000:.3f}"
                d.report()
            print(f"MOVED {stamp}", flush=True)
        elif word == "quit":
            break
    for job in jobs:
        job.cancel()
    for d in swarm.devices:
        d.client.disconnect()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
