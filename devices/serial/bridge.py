"""The serial bridge: a device on a serial line appears on MQTT as a contract device.

While the line is up the bridge holds the device's own MQTT connection (its login,
retained ``offline`` as last will, client id ``{site}-{device}``) and translates:
``state``/``event``/``ack`` frames become the contract's state (the bridge adds
``seq``, ``ts``, ``boot`` and ``firmware``), events and acks; contract commands are
checked by the simulated firmware's gate (the contract's admission rule, so never a
retained one; signature for signed types, once per id, args, expiry) and go down the
line as ``cmd`` frames.

The line is lost when reading fails (cable out: EIO), or when nothing comes back for
``3 * ping_s`` although the bridge pings every ``ping_s``. Then the bridge says
``offline`` (retained) and disconnects, and reopens the port every ``retry_s``.
Linux/POSIX only (the port's fd is watched by the event loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

import aiomqtt
import serial

from config.credentials import DeviceCredentials
from devices.clock import Clock
from devices.contract import (
    Ack,
    AckStatus,
    Availability,
    BaseState,
    Channel,
    Command,
    ContractError,
    DeviceType,
    Event,
    Meta,
    SiteTopics,
    encode,
    spec_for,
)
from devices.firmware.commands import CommandGate
from devices.firmware.link import DeviceLink, Outgoing
from devices.mqtt import BrokerAddress

from .protocol import FrameError, LineSplitter, decode_frame, encode_frame

log = logging.getLogger(__name__)


class LineLost(Exception):
    """The serial line is gone or silent."""


class SerialBridge:
    """Bridge one serial port to one contract device until cancelled."""

    def __init__(
        self,
        port: str,
        *,
        site: str,
        device_id: str,
        device_type: DeviceType | str,
        broker: BrokerAddress,
        credentials: DeviceCredentials,
        clock: Clock,
        baudrate: int = 115200,
        ping_s: float = 5.0,
        heartbeat_s: float = 60.0,
        retry_s: float = 1.0,
        ack_timeout_s: float = 10.0,
        room: str | None = None,
    ) -> None:
        self.port = port
        self.site = site
        self.device_id = device_id
        self.spec = spec_for(device_type)
        self.broker = broker
        self.credentials = credentials
        self.clock = clock
        self.baudrate = baudrate
        self.ping_s = ping_s
        self.heartbeat_s = heartbeat_s
        self.retry_s = retry_s
        self.ack_timeout_s = ack_timeout_s
        self.room = room
        self.topics = SiteTopics(site)
        self.bad_frames = 0
        #: Set while a line session is up and the device is announced on MQTT.
        self.up = asyncio.Event()
        self._fields: dict[str, Any] | None = None
        self._hello: dict[str, Any] = {}
        self._boot = ""
        self._boot_mono = 0.0
        self._seq = 0
        self._serial: serial.Serial | None = None
        self._link: DeviceLink | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._gate = CommandGate(device_id, self.spec, credentials.key)
        self._jobs: set[asyncio.Task[Any]] = set()

    def topic(self, channel: Channel) -> str:
        return self.topics.device(self.device_id, channel)

    # ------------------------------------------------------------------ line sessions

    async def run(self) -> None:
        """Open the port and bridge it; reopen after every loss, until cancelled."""
        while True:
            try:
                await self.session()
            except LineLost as exc:
                log.warning("%s: serial line lost: %s", self.device_id, exc)
            await asyncio.sleep(self.retry_s)

    async def session(self) -> None:
        """One line session, until the line is lost (:class:`LineLost`)."""
        try:
            port = serial.serial_for_url(
                self.port, baudrate=self.baudrate, timeout=0, write_timeout=1
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LineLost(f"cannot open {self.port}: {exc}") from None
        frames: asyncio.Queue[dict[str, Any] | LineLost] = asyncio.Queue()
        splitter = LineSplitter()
        loop = asyncio.get_running_loop()

        def readable() -> None:
            try:
                data = port.read(port.in_waiting or 1)
            except (serial.SerialException, OSError) as exc:
                loop.remove_reader(port.fileno())
                frames.put_nowait(LineLost(str(exc)))
                return
            for line in splitter.feed(data):
                try:
                    frames.put_nowait(decode_frame(line))
                except FrameError as exc:
                    self.bad_frames += 1
                    log.warning("%s: bad frame dropped: %s", self.device_id, exc)

        self._serial = port
        loop.add_reader(port.fileno(), readable)
        link_task: asyncio.Task[None] | None = None
        try:
            hello = await self._await_hello(frames)
            self._start_boot(hello)
            self._link = self._make_link()
            link_task = asyncio.create_task(self._link.run(), name=f"bridge-{self.device_id}")
            await self._pump(frames)
        finally:
            self.up.clear()
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(port.fileno())
            for future in self._pending.values():
                future.cancel()
            self._pending.clear()
            if link_task is not None:
                link_task.cancel()  # clean stop: retained offline, then DISCONNECT
                await asyncio.gather(link_task, return_exceptions=True)
            self._link = None
            self._serial = None
            with contextlib.suppress(Exception):
                port.close()

    def _write(self, frame_type: str, **fields: Any) -> None:
        if self._serial is None:
            raise LineLost("line closed")
        try:
            self._serial.write(encode_frame(frame_type, **fields))
        except (serial.SerialException, OSError) as exc:
            raise LineLost(f"write failed: {exc}") from None

    async def _await_hello(
        self, frames: asyncio.Queue[dict[str, Any] | LineLost]
    ) -> dict[str, Any]:
        for _attempt in range(3):
            self._write("who")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.ping_s):
                    while True:
                        frame = await frames.get()
                        if isinstance(frame, LineLost):
                            raise frame
                        if frame["t"] == "hello":
                            return self._check_hello(frame)
        raise LineLost("no hello from the device")

    def _check_hello(self, frame: dict[str, Any]) -> dict[str, Any]:
        if frame.get("type") != self.spec.type.value:
            raise LineLost(
                f"device says it is a {frame.get('type')!r}, the site says {self.spec.type.value}"
            )
        return frame

    async def _pump(self, frames: asyncio.Queue[dict[str, Any] | LineLost]) -> None:
        loop = asyncio.get_running_loop()
        last_rx = last_beat = loop.time()
        while True:
            try:
                async with asyncio.timeout(self.ping_s):
                    frame = await frames.get()
            except TimeoutError:
                if loop.time() - last_rx > 3 * self.ping_s:
                    raise LineLost(f"no answer for {3 * self.ping_s:.0f} s") from None
                self._write("ping")
            else:
                if isinstance(frame, LineLost):
                    raise frame
                last_rx = loop.time()
                self._on_frame(frame)
            if loop.time() - last_beat >= self.heartbeat_s:
                last_beat = loop.time()
                self._publish_state()

    # ------------------------------------------------------------------ device → MQTT

    def _start_boot(self, hello: dict[str, Any]) -> None:
        self._hello = hello
        self._boot = secrets.token_hex(8)
        self._boot_mono = self.clock.monotonic()
        self._seq = 0
        self._fields = None

    def _firmware(self) -> str:
        return str(self._hello.get("firmware") or "unknown")[:32]

    def _state(self) -> BaseState | None:
        if self._fields is None:
            return None
        model = self.spec.state_model
        try:
            state = model.model_validate(
                {
                    **self._fields,
                    "seq": self._next_seq(),
                    "ts": self.clock.now(),
                    "boot": self._boot,
                    "firmware": self._firmware(),
                    "uptime_s": int(max(0.0, self.clock.monotonic() - self._boot_mono)),
                }
            )
        except ValueError as exc:
            log.warning(
                "%s: state from the line does not fit the contract: %s", self.device_id, exc
            )
            return None
        return state

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq - 1

    def _send(self, channel: Channel, payload: bytes, retain: bool = False) -> None:
        if self._link is not None:
            self._link.send(Outgoing(self.topic(channel), payload, retain))

    def _publish_state(self) -> None:
        state = self._state()
        if state is not None:
            self._send(Channel.STATE, encode(state), retain=True)

    def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.pop("t")
        if kind == "hello":  # the device rebooted
            self._check_hello(frame)
            self._start_boot(frame)
            self._event("booted", firmware=self._firmware(), reason="line_hello")
        elif kind == "state":
            self._fields = frame
            self._publish_state()
            if self._link is not None and self._link.online:
                self.up.set()
        elif kind == "event":
            event_type = str(frame.pop("type", ""))
            if event_type not in self.spec.events:
                log.warning("%s: unknown event %r dropped", self.device_id, event_type)
                return
            self._event(event_type, **frame)
        elif kind == "ack":
            future = self._pending.get(str(frame.get("id")))
            if future is not None and not future.done():
                future.set_result(frame)
        elif kind == "pong":
            pass

    def _event(self, event_type: str, **details: Any) -> None:
        event = Event(type=event_type, ts=self.clock.now(), seq=self._next_seq(), **details)
        if self._link is not None:  # held until the controller listens (link.py)
            self._link.send(
                Outgoing(self.topic(Channel.EVENT), encode(event), needs_controller=True)
            )

    def _announce(self) -> list[Outgoing]:
        meta = Meta(
            type=self.spec.type,
            model=str(self._hello.get("model") or "serial")[:64],
            firmware=self._firmware(),
            room=self.room,
            capabilities=sorted(self.spec.actions),
            heartbeat_s=max(1, min(3600, round(self.heartbeat_s))),
        )
        out = [
            Outgoing(self.topic(Channel.META), encode(meta), True),
            Outgoing(self.topic(Channel.AVAILABILITY), Availability.ONLINE.value.encode(), True),
        ]
        state = self._state()
        if state is not None:
            out.append(Outgoing(self.topic(Channel.STATE), encode(state), True))
            self._mark_up_soon()
        return out

    def _mark_up_soon(self) -> None:
        self._spawn(self._wait_up())

    async def _wait_up(self) -> None:
        if self._link is not None:
            await self._link.wait_online(None)
            self.up.set()

    def _make_link(self) -> DeviceLink:
        return DeviceLink(
            self.broker,
            client_id=f"{self.site}-{self.device_id}",
            username=self.credentials.username,
            password=self.credentials.password,
            will_topic=self.topic(Channel.AVAILABILITY),
            subscriptions=[self.topic(Channel.CMD), self.topics.controller_availability],
            announce=self._announce,
            on_message=self._on_message,
        )

    # ------------------------------------------------------------------ MQTT → device

    def _on_message(self, message: aiomqtt.Message) -> None:
        if message.topic.value == self.topics.controller_availability:
            if self._link is not None:
                online = message.payload == Availability.ONLINE.value.encode()
                self._link.controller_availability(online)
            return
        if message.topic.value != self.topic(Channel.CMD):
            return
        payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
        admission = self._gate.admit(bytes(payload), message.retain, self._ack)
        if admission.reply is not None:
            self._spawn(self._reply(admission.reply))
        if admission.command is not None:
            self._spawn(self._execute(admission.command))

    def _ack(self, command: Command, status: AckStatus, error: str | None = None) -> Ack:
        state = self._state()
        dumped = state.model_dump(mode="json", by_alias=True) if state is not None else None
        return Ack(id=command.id, status=status, error=error, state=dumped)

    async def _execute(self, command: Command) -> None:
        try:
            args = self.spec.validate_args(command.action, command.args)
            if command.expired(self.clock.now()):
                raise ContractError("expired", "command expired")
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._pending[command.id] = future
            try:
                self._write("cmd", id=command.id, action=command.action, args=args)
                async with asyncio.timeout(self.ack_timeout_s):
                    answer = await future
            finally:
                self._pending.pop(command.id, None)
            status = AckStatus(answer.get("status", "failed"))
            error = answer.get("error")
            ack = self._ack(command, status, str(error)[:64] if error else None)
        except ContractError as exc:
            ack = self._ack(command, AckStatus.REJECTED, exc.reason)
        except (TimeoutError, LineLost, asyncio.CancelledError):
            return  # no ack: the controller's own timeout tells the truth
        except ValueError:
            ack = self._ack(command, AckStatus.FAILED, "bad_ack_from_line")
        await self._reply(ack, remember=True)

    async def _reply(self, ack: Ack, *, remember: bool = False) -> None:
        if remember:
            self._gate.remember(ack)
        self._send(Channel.ACK, encode(ack))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
