"""A simulated serial-line curtain: the firmware end of a pseudo-terminal.

:func:`open_line` makes a pty pair in raw mode (the "cable"); :class:`SerialCurtain`
speaks :mod:`.protocol` on the master end; a bridge or console opens the slave path
with pyserial. :meth:`SerialCurtain.unplug` closes the master, which the other end
sees as the line going away (EIO).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tty
from dataclasses import dataclass
from typing import Any

from .protocol import FrameError, LineSplitter, decode_frame, encode_frame

log = logging.getLogger(__name__)


@dataclass
class PtyLine:
    """A pty pair: the firmware's master fd, the slave path for pyserial, and a slave
    fd held open so the line exists before the host side opens it."""

    master: int
    slave_path: str
    _slave: int

    def close(self) -> None:
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


def open_line() -> PtyLine:
    master, slave = os.openpty()
    tty.setraw(slave)  # no echo, no line editing, no CR/LF translation
    return PtyLine(master, os.ttyname(slave), slave)


class SerialCurtain:
    """A curtain motor on a serial line: position 0 (closed) to 100 (open)."""

    device_type = "curtain"
    actions = frozenset(
        {"open", "close", "stop", "set_position", "ping", "identify", "reboot", "update_firmware"}
    )

    def __init__(self, fd: int, *, firmware: str = "2.1.0", model: str = "serial-curtain-1"):
        self.fd = fd
        self.firmware = firmware
        self.model = model
        self.position = 0
        self.commands: list[dict[str, Any]] = []
        self.bad_frames = 0
        #: A hung device: reads the line but answers nothing.
        self.mute = False
        self._split = LineSplitter()
        self._loop: asyncio.AbstractEventLoop | None = None

    def state(self) -> dict[str, Any]:
        return {"position": self.position, "target": None, "motion": "idle"}

    def start(self) -> None:
        """Boot: watch the line, say hello and report the state."""
        self._loop = asyncio.get_running_loop()
        os.set_blocking(self.fd, False)
        self._loop.add_reader(self.fd, self._readable)
        self._boot()

    def unplug(self) -> None:
        """Pull the cable: close the firmware's end of the line."""
        if self._loop is not None:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(self.fd)
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def _boot(self) -> None:
        self._send("hello", type=self.device_type, firmware=self.firmware, model=self.model)
        self._send("state", **self.state())

    def _send(self, frame_type: str, **fields: Any) -> None:
        with contextlib.suppress(OSError):
            os.write(self.fd, encode_frame(frame_type, **fields))

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # nobody on the other end yet (EIO): wait for the next write
        for line in self._split.feed(data):
            try:
                frame = decode_frame(line)
            except FrameError as exc:
                self.bad_frames += 1
                log.warning("serial curtain: bad frame dropped: %s", exc)
                continue
            self._handle(frame)

    def _handle(self, frame: dict[str, Any]) -> None:
        if self.mute:
            return
        kind = frame["t"]
        if kind == "who":
            self._boot()
        elif kind == "ping":
            self._send("pong")
        elif kind == "cmd":
            self.commands.append(frame)
            status, error = self._execute(str(frame.get("action")), frame.get("args") or {})
            if frame.get("action") != "reboot":
                self._send("state", **self.state())
            self._send("ack", id=frame.get("id"), status=status, error=error)
            if frame.get("action") == "reboot" and status == "ok":
                self._boot()

    def _execute(self, action: str, args: dict[str, Any]) -> tuple[str, str | None]:
        if action not in self.actions:
            return "rejected", "unknown_action"
        if action == "open":
            self.position = 100
        elif action == "close":
            self.position = 0
        elif action == "set_position":
            position = args.get("position")
            if not isinstance(position, int) or not 0 <= position <= 100:
                return "rejected", "bad_args"
            self.position = position
        elif action == "update_firmware":
            return "failed", "not_supported"
        return "ok", None
