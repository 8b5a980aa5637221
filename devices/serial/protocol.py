"""The serial line protocol: one JSON object per line, followed by a CRC-32.

``{"t":"state","position":40}*5daeede8\\n`` - the frame is the compact JSON text,
``*``, the CRC-32 (zlib, IEEE 802.3) of the JSON bytes as 8 lowercase hex digits,
then ``\\n``. At most :data:`MAX_LINE` bytes. A line with a bad checksum, bad JSON
(strict, as the MQTT contract's: no ``NaN``/``Infinity``) or no ``t`` is a
:class:`FrameError` (the receiver drops and counts it).

Frame types (``t``):

======== ============== ==========================================================
type     direction      fields
======== ============== ==========================================================
who      host → device  (none): "say hello"
hello    device → host  ``type``, ``firmware``, ``model``: sent at boot and on ``who``
state    device → host  the type's state fields (e.g. ``position``, ``motion``)
event    device → host  ``type`` and any details
cmd      host → device  ``id``, ``action``, ``args``
ack      device → host  ``id``, ``status`` (ok, rejected, failed), ``error``
ping     host → device  (none); the device answers ``pong``
pong     device → host  (none)
======== ============== ==========================================================
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from devices.contract import ContractError
from devices.contract.codec import parse_json

MAX_LINE = 4096
FRAME_TYPES = frozenset({"who", "hello", "state", "event", "cmd", "ack", "ping", "pong"})


class FrameError(ValueError):
    """A line that is not a valid frame."""


def encode_frame(frame_type: str, **fields: Any) -> bytes:
    """One frame as the bytes that go on the line (``\\n`` included)."""
    if frame_type not in FRAME_TYPES:
        raise ValueError(f"unknown frame type {frame_type!r}")
    body = json.dumps({"t": frame_type, **fields}, separators=(",", ":"), ensure_ascii=True)
    raw = body.encode("ascii")
    line = raw + b"*" + f"{zlib.crc32(raw):08x}".encode() + b"\n"
    if len(line) > MAX_LINE:
        raise ValueError(f"frame of {len(line)} bytes is over {MAX_LINE}")
    return line


def decode_frame(line: bytes) -> dict[str, Any]:
    """Parse one line (with or without its ``\\n``); :class:`FrameError` if invalid."""
    line = line.rstrip(b"\r\n")
    if len(line) > MAX_LINE:
        raise FrameError("line too long")
    body, sep, crc = line.rpartition(b"*")
    if not sep or len(crc) != 8:
        raise FrameError("no checksum")
    try:
        expected = int(crc, 16)
    except ValueError:
        raise FrameError("checksum is not hex") from None
    if zlib.crc32(body) != expected:
        raise FrameError("checksum mismatch")
    try:
        frame = parse_json(body)
    except ContractError as exc:
        raise FrameError(f"not JSON: {exc.message}") from None
    if not isinstance(frame, dict) or frame.get("t") not in FRAME_TYPES:
        raise FrameError("not a frame object with a known t")
    return frame


class LineSplitter:
    """Bytes in, complete lines out; an over-long line is dropped whole."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.overflows = 0

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        lines = []
        while True:
            end = self._buf.find(b"\n")
            if end < 0:
                break
            lines.append(bytes(self._buf[: end + 1]))
            del self._buf[: end + 1]
        if len(self._buf) > MAX_LINE:
            self._buf.clear()
            self.overflows += 1
        return lines
