"""What every simulated device's firmware does, whatever its type.

Each device has its own MQTT connection (:class:`~devices.firmware.link.DeviceLink`):
on every connect it subscribes to its own ``cmd`` and ``schedule``, the controller's
availability (plus what the type adds, e.g. the site's ``fire`` for locks) and
publishes retained ``meta``, ``online`` and ``state``; it republishes its state every
``heartbeat_s``.

While the controller is ``offline`` the device runs its fallback routines (the
retained ``schedule``) itself, through the same handlers as commands, without an ack
(:mod:`devices.firmware.fallback`; :meth:`SimulatedDevice.run_fallback` is the hook).

Commands go through one pipeline (the gate in :mod:`.commands`, shared with the serial
bridge): a retained ``cmd`` is ignored, then decode,
signature (types that need one), the at-most-once memory of ids, args validation,
expiry, the type's handler, and exactly one ack (``faults`` may delay or drop it).

A simulated reboot restarts the connection, boot id, ``seq`` and uptime; the memory
of command ids survives it (real firmware keeps it in flash) and mechanics in motion
finish their motion.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import datetime
from typing import Any, ClassVar

import aiomqtt
from pydantic import BaseModel

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
    DeviceSchedule,
    DeviceType,
    Event,
    Meta,
    SiteTopics,
    decode,
    encode,
    spec_for,
)
from devices.mqtt import Brokers

from . import update
from .commands import CommandGate
from .fallback import Fallback
from .faults import Faults
from .link import DeviceLink, Outgoing

log = logging.getLogger(__name__)

TICK_S = 1.0

#: What a handler may return: something to do once the ack is on its way.
AfterAck = Callable[[], Awaitable[None]] | None
Handler = Callable[[dict[str, Any]], Awaitable[AfterAck]]
#: Handles a message on one subscribed topic: (payload, retain flag).
MessageRoute = Callable[[bytes, bool], None]


class CommandFailed(Exception):
    """Raised by a handler: the command ends with this status and error code."""

    def __init__(self, status: AckStatus, error: str) -> None:
        super().__init__(f"{status.value}: {error}")
        self.status = status
        self.error = error


class SimulatedDevice:
    """Base of the simulated firmware; subclasses set ``device_type`` and the hooks."""

    device_type: ClassVar[DeviceType]

    def __init__(
        self,
        site: str,
        device_id: str,
        broker: Brokers,
        credentials: DeviceCredentials,
        *,
        clock: Clock,
        room: str | None = None,
        model: str = "sim-1",
        firmware: str = "1.0.0",
        heartbeat_s: float = 60.0,
        faults: Faults | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.site = site
        self.device_id = device_id
        self.clock = clock
        self.room = room
        self.model = model
        self.firmware = firmware
        self.heartbeat_s = heartbeat_s
        self.faults = faults or Faults()
        self.spec = spec_for(self.device_type)
        #: The fallback schedule last received.
        self.schedule: DeviceSchedule | None = None
        #: Runs it while the controller is offline.
        self.fallback = Fallback()
        self._key = credentials.key
        self._rng = rng or random.Random()
        self._topics = SiteTopics(site)
        self._routes: dict[str, MessageRoute] = {
            self.topic(Channel.CMD): self._on_command_message,
            self.topic(Channel.SCHEDULE): self._on_schedule_message,
            self._topics.controller_availability: self._on_controller_availability,
            **self._extra_routes(),
        }
        missing = set(self.spec.actions) - set(self._handlers())
        missing |= {k for k in self.spec.knobs if not callable(getattr(self, k, None))}
        if missing:
            raise TypeError(f"{type(self).__name__} lacks handlers or knobs {sorted(missing)}")
        self.link = DeviceLink(
            broker,
            client_id=f"{site}-{device_id}",
            username=credentials.username,
            password=credentials.password,
            will_topic=self.topic(Channel.AVAILABILITY),
            subscriptions=self._routes,
            announce=self._announcement,
            on_message=self._on_message,
        )
        self._gate = CommandGate(device_id, self.spec, self._key)
        self._changed = asyncio.Event()
        self._jobs: set[asyncio.Task[Any]] = set()
        self._running = False
        self._setup()
        self._new_boot("power_on")

    # ------------------------------------------------------------------ subclass hooks

    def _setup(self) -> None:
        """Set the type's initial state (called once, before the first boot)."""

    def _fields(self) -> dict[str, Any]:
        """The type's own state fields."""
        raise NotImplementedError

    def _handlers(self) -> Mapping[str, Handler]:
        """Action name -> handler; subclasses extend this."""
        return {
            "ping": self._cmd_ack_only,
            "identify": self._cmd_identify,
            "reboot": self._cmd_reboot,
            "update_firmware": self._cmd_update_firmware,
        }

    def _extra_routes(self) -> dict[str, MessageRoute]:
        """Further topics to subscribe to, with their message handler."""
        return {}

    def _tick(self) -> None:
        """Called about once a second while the device runs (batteries, timeouts)."""

    # ------------------------------------------------------------------ public API

    @property
    def client_id(self) -> str:
        return self.link.client_id

    @property
    def boot(self) -> str:
        """Random id of the current boot."""
        return self._boot

    @property
    def online(self) -> bool:
        return self.link.online

    @property
    def state(self) -> BaseState:
        """The current state (``seq`` of the last report, ``ts`` now)."""
        return self._state(max(self._seq - 1, 0))

    def topic(self, channel: Channel) -> str:
        return self._topics.device(self.device_id, channel)

    async def run(self) -> None:
        """Connect, and reconnect with backoff, until cancelled (then say ``offline``)."""
        if self._running:
            raise RuntimeError(f"{self.device_id} is already running")
        self._running = True
        self._spawn(self._every(TICK_S, self._tick))
        self._spawn(self._every(self.heartbeat_s, self._report))
        self._spawn(self._every(TICK_S, self._fallback_tick))
        try:
            await self.link.run()
        finally:
            self._running = False
            for job in list(self._jobs):
                job.cancel()

    def go_offline(self) -> None:
        """Drop the connection without DISCONNECT (the broker fires the last will) and
        stay away until :meth:`come_online`."""
        self.link.drop(stay_away=True)

    def come_online(self) -> None:
        """Reconnect after :meth:`go_offline`."""
        self.link.allow()

    async def reboot(self, timeout: float | None = 10.0) -> None:
        """Power-cycle: new boot id, ``seq`` from 0, ``booted`` event, reconnect.

        Waits (up to ``timeout``) until the new boot is online, if it may connect.
        """
        self._new_boot("reboot")
        self.link.drop()
        if self._running and self.link.may_connect:
            await self.link.wait_online(timeout)

    async def wait_online(self, timeout: float | None = 10.0) -> None:
        """Wait until connected and announced; TimeoutError after ``timeout``."""
        await self.link.wait_online(timeout)

    async def wait_state(
        self, predicate: Callable[[Any], bool], timeout: float | None = 5.0
    ) -> BaseState:
        """Wait until ``predicate(state)`` holds; TimeoutError after ``timeout``."""
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed
                state = self.state
                if predicate(state):
                    return state
                await changed.wait()

    # ------------------------------------------------------------------ reporting

    def _state(self, seq: int) -> BaseState:
        model: type[BaseState] = self.spec.state_model
        return model.model_validate(
            {
                "seq": seq,
                "ts": self.clock.now(),
                "boot": self._boot,
                "firmware": self.firmware,
                "uptime_s": int(max(0.0, self.clock.monotonic() - self._boot_mono)),
                "rssi": self.faults.rssi,
                **self._fields(),
            }
        )

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq - 1

    def _report(self) -> None:
        """The state changed (or a heartbeat): wake local waiters, publish if connected.

        While disconnected nothing is queued: every connect publishes a fresh state.
        """
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        if self.link.connected:
            self._send(Channel.STATE, self._state(self._next_seq()), retain=True)

    def _event(self, event_type: str, **extra: Any) -> None:
        """Publish an event (kept in the outbox until the controller is seen online)."""
        event = Event(type=event_type, ts=self.clock.now(), seq=self._next_seq(), **extra)
        self.link.send(Outgoing(self.topic(Channel.EVENT), encode(event), needs_controller=True))

    def _send(self, channel: Channel, payload: BaseModel, *, retain: bool = False) -> None:
        self.link.send(Outgoing(self.topic(channel), encode(payload), retain))

    def _announcement(self) -> list[Outgoing]:
        """Sent first on every connect: retained meta, ``online`` and state."""
        meta = Meta(
            type=self.device_type,
            model=self.model,
            firmware=self.firmware,
            room=self.room,
            capabilities=sorted(self.spec.actions),
            heartbeat_s=max(1, min(3600, round(self.heartbeat_s))),
        )
        return [
            Outgoing(self.topic(Channel.META), encode(meta), True),
            Outgoing(self.topic(Channel.AVAILABILITY), Availability.ONLINE.value.encode(), True),
            Outgoing(self.topic(Channel.STATE), encode(self._state(self._next_seq())), True),
        ]

    def _new_boot(self, reason: str) -> None:
        self._boot = self._rng.getrandbits(64).to_bytes(8, "big").hex()
        self._seq = 0
        self._boot_mono = self.clock.monotonic()
        self._event("booted", firmware=self.firmware, reason=reason)

    # ------------------------------------------------------------------ jobs

    async def _every(self, seconds: float, action: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                action()
            except Exception:
                log.exception("%s: periodic %s failed", self.device_id, action.__name__)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a background job of this device; its errors are logged, never raised."""

        async def guarded() -> None:
            try:
                await coro
            except Exception:
                log.exception("%s: background job failed", self.device_id)

        task = asyncio.get_running_loop().create_task(guarded())
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
        return task

    # ------------------------------------------------------------------ incoming

    def _on_message(self, message: aiomqtt.Message) -> None:
        route = self._routes.get(message.topic.value)
        if route is None:
            log.debug("%s: ignoring message on %s", self.device_id, message.topic.value)
            return
        payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
        try:
            route(bytes(payload), message.retain)
        except Exception:
            log.exception("%s: failed to handle %s", self.device_id, message.topic.value)

    def _on_schedule_message(self, payload: bytes, retained: bool) -> None:
        if not payload:
            self.schedule = None
            self.fallback.set_schedule(None)
            return
        try:
            self.schedule = decode(DeviceSchedule, payload)
        except ContractError as exc:
            log.warning("%s: bad schedule ignored: %s", self.device_id, exc)
            return
        self.fallback.set_schedule(self.schedule)

    def _on_controller_availability(self, payload: bytes, retained: bool) -> None:
        try:
            value = Availability(payload.decode()) if payload else None
        except (UnicodeDecodeError, ValueError):
            log.warning("%s: bad controller availability ignored", self.device_id)
            return
        self.fallback.set_controller(value, self.clock.now())
        self.link.controller_availability(value is Availability.ONLINE)

    # ------------------------------------------------------------------ fallback

    def _fallback_tick(self) -> None:
        if self.fallback.active:
            self._spawn(self.run_fallback())

    async def run_fallback(self, now: datetime | None = None) -> list[tuple[str, str]]:
        """Run the routines due at ``now`` (default: the clock) if the controller is
        offline; ``[(action, "ok" or the error)]``. The ticker calls it every second."""
        results = []
        for entry in self.fallback.due(now or self.clock.now()):
            results.append((entry.action, await self._run_routine(entry.action, entry.args)))
        return results

    async def _run_routine(self, action: str, args: dict[str, Any]) -> str:
        """One routine, through the command handler (so a lock refuses during a fire)."""
        known = self.spec.actions.get(action)
        if known is None or not known.fallback:
            log.warning("%s: fallback %s refused: not a fallback action", self.device_id, action)
            return "not_allowed"
        try:
            after = await self._handlers()[action](self.spec.validate_args(action, args))
        except ContractError as exc:
            result = exc.reason
        except CommandFailed as exc:
            result = exc.error
        except Exception:
            log.exception("%s: fallback %s failed", self.device_id, action)
            result = "internal_error"
        else:
            if after is not None:
                await after()
            result = "ok"
        log.info("%s: fallback %s (controller offline) -> %s", self.device_id, action, result)
        return result

    def _on_command_message(self, payload: bytes, retained: bool) -> None:
        admission = self._gate.admit(payload, retained, self._ack)
        if admission.reply is not None:
            self._spawn(self._answer(admission.reply))
        if admission.command is not None:
            self._spawn(self._execute(admission.command))

    def _ack(self, command: Command, status: AckStatus, error: str | None = None) -> Ack:
        state = self._state(self._next_seq()).model_dump(mode="json", by_alias=True)
        return Ack(id=command.id, status=status, error=error, state=state)

    async def _execute(self, command: Command) -> None:
        after: AfterAck = None
        status, error = AckStatus.OK, None
        try:
            args = self.spec.validate_args(command.action, command.args)
            if command.expired(self.clock.now()):
                raise CommandFailed(AckStatus.REJECTED, "expired")
            after = await self._handlers()[command.action](args)
        except ContractError as exc:
            status, error = AckStatus.REJECTED, exc.reason
        except CommandFailed as exc:
            status, error = exc.status, exc.error
        except Exception:
            log.exception("%s: %s failed", self.device_id, command.action)
            status, error = AckStatus.FAILED, "internal_error"
        log.info("%s: %s %s -> %s %s", self.device_id, command.action, command.id, status, error)
        await self._answer(self._ack(command, status, error), remember=True)
        if after is not None:
            await after()

    async def _answer(self, ack: Ack, *, remember: bool = False) -> None:
        """Send an ack, honouring the ``ack_delay_s`` and ``drop_acks`` faults."""
        if self.faults.ack_delay_s > 0:
            await asyncio.sleep(self.faults.ack_delay_s)
        if remember:
            self._gate.remember(ack)
        if not self.faults.drop_acks:
            self._send(Channel.ACK, ack)

    # ------------------------------------------------------------------ common actions

    async def _cmd_ack_only(self, args: dict[str, Any]) -> AfterAck:
        return None

    async def _cmd_identify(self, args: dict[str, Any]) -> AfterAck:
        log.info("%s: identify (blinking)", self.device_id)
        return None

    async def _cmd_reboot(self, args: dict[str, Any]) -> AfterAck:
        return self.reboot

    async def _cmd_update_firmware(self, args: dict[str, Any]) -> AfterAck:
        """Download and check the image, ack, then reboot into it (or roll back);
        see :mod:`devices.firmware.update`."""
        version = args["version"]
        if not args.get("url"):
            self._event("update_failed", version=version, error="no_url")
            raise CommandFailed(AckStatus.REJECTED, "no_url")
        try:
            image = await update.download(args["url"], args["size"], args["sha256"])
        except update.UpdateError as exc:
            log.warning("%s: update to %s refused: %s", self.device_id, version, exc)
            self._event("update_failed", version=version, error=exc.code)
            raise CommandFailed(AckStatus.FAILED, exc.code) from None

        async def reboot_into_it() -> None:
            old = self.firmware
            if update.boots(image, self.device_type.value, version):
                self.firmware = version
                await self.reboot()
                self._event("updated", version=version, previous=old)
            else:  # the new slot does not boot: the bootloader falls back to the old one
                await self.reboot()
                self._event("update_failed", version=version, error="boot_failed", running=old)

        return reboot_into_it
