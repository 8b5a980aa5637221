"""A faster way for paho to read and write: every ready packet per wake-up, 64 KiB per
``recv``, each message handed straight to ``on_message`` when no per-topic callback
exists, a PUBACK read without new objects, every queued packet written with one
``send``; and a QoS 1 publish that costs the same with 5,000 publishes in flight as with
one (:func:`publish_qos1`, which reaches into aiomqtt's table of pending publishes).

This is the one place in Tryggbo that reaches into paho-mqtt's private parts
(``Client._sock_recv``, ``_sock_send``, ``_packet_read``, ``_packet_write``,
``_out_packet``, ``_loop_rc_handle``, ``_sock``, ``_handle_on_message``,
``_on_message_filtered``, ``_handle_pubackcomp``, ``_do_on_publish``, ``_in_packet``,
``_out_messages`` and its public ``loop_read``). It
applies only when the installed paho is a version it was tested with
(:data:`TESTED_PAHO`) and those parts have the signatures it expects
(:func:`refusal`); otherwise it logs one warning and leaves paho as it is: correct,
just slower (one packet per event-loop wake-up, three ``recv`` calls per packet).
pyproject.toml bounds paho-mqtt to the same range; widen both only after
tests/integration/test_paho_fastpath.py passes on the new version.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

import aiomqtt
import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

#: paho-mqtt versions the fast path was tested with: from (inclusive), below (exclusive).
TESTED_PAHO = ((2, 2), (2, 3))
#: the paho ``Client`` methods the fast path calls or replaces, with their parameters
#: (``self`` left out)
EXPECTED_METHODS: dict[str, tuple[str, ...]] = {
    "_sock_recv": ("bufsize",),
    "_packet_read": (),
    "_loop_rc_handle": ("rc",),
    "loop_read": ("max_packets",),
    "_handle_on_message": ("message",),
    "_handle_pubackcomp": ("cmd",),
    "_packet_write": (),
    "_do_on_publish": ("mid", "reason_code", "properties"),
}
#: bytes asked of the socket at once
RECV_BYTES = 65536

_warned: set[str] = set()  # reasons already logged


def _release(version: str) -> tuple[int, ...] | None:
    """``"2.2.0"`` → ``(2, 2, 0)``; None for a version that is not plain numbers
    (a pre-release such as ``2.3.0rc1`` counts as untested)."""
    parts = version.strip().split(".")
    if not parts or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


def refusal(version: str | None = None, client_class: type[Any] = mqtt.Client) -> str | None:
    """Why the fast path must not be applied to this paho, or None when it may.

    ``version`` defaults to the installed paho's; ``client_class`` to its ``Client``.
    """
    version = paho.mqtt.__version__ if version is None else version
    release = _release(version)
    low, high = TESTED_PAHO
    if release is None or not low <= release[:2] < high:
        tested = f"{'.'.join(map(str, low))} <= version < {'.'.join(map(str, high))}"
        return f"paho-mqtt {version} is not a version the fast path was tested with ({tested})"
    for name, params in EXPECTED_METHODS.items():
        method = getattr(client_class, name, None)
        if not callable(method):
            return f"paho-mqtt {version} has no Client.{name}"
        try:
            found = tuple(inspect.signature(method).parameters)[1:]
        except (TypeError, ValueError):
            return f"paho-mqtt {version}: Client.{name} has no readable signature"
        if found != params:
            return f"paho-mqtt {version}: Client.{name}{found} is not {name}{params}"
    return None


def read_every_ready_packet(
    client: aiomqtt.Client, limit: int = 256, *, paho_version: str | None = None
) -> bool:
    """Have ``client`` read every packet its socket holds (``limit`` or more) each time
    the event loop finds the socket readable, through one ``recv`` per 64 KiB. True
    when applied; False (one warning per process, paho left as it is) when
    :func:`refusal` says no for ``paho_version`` (default: the installed one).

    paho's ``loop_read`` reads ``max(1, QoS 1/2 messages in flight)`` packets per call,
    so a receiver with nothing in flight of its own handles one packet per event-loop
    wake-up: a ``select`` and a wake-up of every bus listener per message. And paho
    reads a packet with three ``recv`` calls (type, length, body). Here the loop has
    no such bound, and ``recv`` is served from a buffer filled 64 KiB at a time. After
    ``limit`` packets it only empties that buffer (nothing is left there unseen: the
    event loop would not wake for it); the rest waits in the socket for the next
    wake-up, so other tasks get their turn.
    """
    why = refusal(paho_version)
    if why is not None:
        if why not in _warned:
            _warned.add(why)
            log.warning("MQTT fast read path not applied, paho reads as it ships: %s", why)
        return False
    pc = client._client  # the paho client aiomqtt drives
    sock_recv = pc._sock_recv
    buffer = bytearray()
    buffered_for: object = None  # the socket the buffered bytes came from
    more = True  # may this wake-up still ask the socket for bytes

    def buffered_recv(bufsize: int) -> bytes:
        nonlocal buffered_for
        if pc._sock is not buffered_for:  # a new connection: nothing of the old one
            buffer.clear()
            buffered_for = pc._sock
        if not buffer:
            if not more:
                raise BlockingIOError  # this wake-up has had its share
            data = sock_recv(RECV_BYTES)  # raises as paho's own would
            if not data:
                return data  # the broker closed the connection
            buffer.extend(data)
        chunk = bytes(buffer[:bufsize])
        del buffer[:bufsize]
        return chunk

    def loop_read(max_packets: int = 1) -> mqtt.MQTTErrorCode:
        nonlocal more
        done = 0
        more = True
        try:
            while True:
                if pc._sock is None:
                    return mqtt.MQTTErrorCode.MQTT_ERR_NO_CONN
                rc = pc._packet_read()
                if rc > 0:
                    return pc._loop_rc_handle(rc)
                if rc == mqtt.MQTTErrorCode.MQTT_ERR_AGAIN:
                    return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
                done += 1
                if done >= limit:
                    more = False  # finish what is buffered, read no more
        finally:
            more = True

    pc._sock_recv = buffered_recv  # type: ignore[method-assign]
    pc.loop_read = loop_read  # type: ignore[method-assign]
    _deliver_straight(pc)
    _puback_without_objects(pc)
    _write_together(pc)
    return True


#: what paho's MQTT 3.1.1 PUBACK decoding makes for every PUBACK (there is nothing else
#: to say in 3.1.1): made once, handed to every ``on_publish``
_PUBACK_SUCCESS = mqtt.ReasonCode(PacketTypes.PUBACK)
_PUBACK_PROPERTIES = Properties(PacketTypes.PUBACK)


def _puback_without_objects(pc: mqtt.Client) -> None:
    """A PUBACK of MQTT 3.1.1 is a 2-byte message id. paho decodes it into a new
    ``ReasonCode`` and ``Properties`` each time (a sixth of the event loop's CPU in a
    5,000-command fan-out, docs/performance.md); here the id is read and the same
    success objects are handed on. MQTT 5, PUBCOMP or any other length: paho's own."""
    handle = pc._handle_pubackcomp

    def pubackcomp(cmd: Any) -> mqtt.MQTTErrorCode:
        packet = pc._in_packet["packet"]
        if cmd != "PUBACK" or pc._protocol == mqtt.MQTTv5 or len(packet) != 2:
            return handle(cmd)
        mid = (packet[0] << 8) | packet[1]
        with pc._out_message_mutex:
            if mid in pc._out_messages:  # paho informs the client once
                return pc._do_on_publish(mid, _PUBACK_SUCCESS, _PUBACK_PROPERTIES)
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    pc._handle_pubackcomp = pubackcomp  # type: ignore[method-assign]


def _write_together(pc: mqtt.Client) -> None:
    """Write every queued packet with one ``send`` where paho sends each on its own
    (a PUBACK per message received, a PUBLISH per command: thousands of system calls,
    and as many reads for the broker). Only when every queued packet needs nothing
    once written (no QoS 0 PUBLISH, whose ``on_publish`` paho calls then, and no
    DISCONNECT); otherwise, or with one packet, paho's own ``_packet_write``."""
    write_each = pc._packet_write
    out = pc._out_packet

    def plain(packet: Any) -> bool:
        kind = packet["command"] & 0xF0
        return kind != mqtt.DISCONNECT and not (kind == mqtt.PUBLISH and packet["qos"] == 0)

    def packet_write() -> mqtt.MQTTErrorCode:
        while len(out) > 1 and all(plain(p) for p in out):
            data = b"".join(p["packet"][p["pos"] :] for p in out)
            try:
                written = pc._sock_send(data)
            except (AttributeError, ValueError):
                return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
            except BlockingIOError:
                return mqtt.MQTTErrorCode.MQTT_ERR_AGAIN
            except OSError as err:
                pc._easy_log(mqtt.MQTT_LOG_ERR, "failed to send on socket: %s", err)
                return mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST
            if written <= 0:
                break
            while written > 0:  # drop what went whole; the rest of a part stays first
                packet = out[0]
                if written >= packet["to_process"]:
                    written -= packet["to_process"]
                    out.popleft()
                else:
                    packet["to_process"] -= written
                    packet["pos"] += written
                    written = 0
            with pc._msgtime_mutex:
                pc._last_msg_out = mqtt.time_func()
        return write_each()

    pc._packet_write = packet_write  # type: ignore[method-assign]


def _deliver_straight(pc: mqtt.Client) -> None:
    """Hand each message straight to ``on_message`` while no per-topic callback
    (``message_callback_add``) exists. paho's ``_handle_on_message`` decodes the topic
    and walks its topic matcher for every message to find such callbacks first (with
    a lock): 5 % of the controller's ingest CPU (docs/performance.md). With one, or
    with no ``on_message``, paho's own runs."""
    root = getattr(getattr(pc, "_on_message_filtered", None), "_root", None)
    filters = getattr(root, "_children", None)  # the matcher's first level, kept in place
    if not isinstance(filters, dict):
        return  # not the matcher this was written for: paho's own stays
    handle_on_message = pc._handle_on_message

    def straight(message: mqtt.MQTTMessage) -> None:
        on_message = pc.on_message
        if filters or on_message is None:
            handle_on_message(message)
            return
        with pc._in_callback_mutex:
            try:
                on_message(pc, pc._userdata, message)
            except Exception as err:  # as paho's own: logged, raised unless suppressed
                pc._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
                if not pc.suppress_exceptions:
                    raise

    pc._handle_on_message = straight  # type: ignore[method-assign]


async def publish_qos1(
    client: aiomqtt.Client,
    topic: str,
    payload: bytes | str,
    *,
    retain: bool,
    timeout: float | None = None,
) -> None:
    """Publish at QoS 1 and wait (at most ``timeout`` s, default the client's) for the
    broker's PUBACK; :class:`aiomqtt.MqttError` as ``client.publish`` raises it.

    aiomqtt's ``publish`` looks for the message id in a generator over every pending
    call and counts them all again for a warning (two scans of all publishes in
    flight, per publish), and starts a task for its timeout: a 5,000-command fan-out
    spent 14 % of its time in those scans (docs/performance.md). This registers the
    same confirmation in the same table (``_pending_publishes``, which aiomqtt's
    ``on_publish`` sets) directly. Where that table is not there (another aiomqtt),
    aiomqtt's own ``publish`` runs."""
    pending = getattr(client, "_pending_publishes", None)
    if not isinstance(pending, dict):
        await client.publish(topic, payload, qos=1, retain=retain, timeout=timeout)
        return
    info = client._client.publish(topic, payload, 1, retain)
    if info.rc != mqtt.MQTT_ERR_SUCCESS:
        raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
    if info.is_published():
        return
    if timeout is None:
        timeout = client.timeout
    confirmed = asyncio.Event()
    pending[info.mid] = confirmed  # on_publish pops and sets it (in this thread)
    try:
        async with asyncio.timeout(timeout):
            await confirmed.wait()
    except TimeoutError:
        raise aiomqtt.MqttError("Operation timed out") from None
    finally:
        pending.pop(info.mid, None)
