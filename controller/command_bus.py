"""The command bus: every command gets an id, an actor, an expiry, a signature where
the device type needs one, an audit line before it leaves, and exactly one outcome,
in the audit before anyone is told it.

Outcomes: ``ok``/``rejected``/``failed`` (the device's ack), ``timeout`` (no ack in
time; the command expires on the device at the same moment, so a late delivery is
refused rather than executed), ``offline`` (the twin is offline or stale: nothing is
sent), ``refused`` (the caller's rights refused it, e.g. a schedule whose owner lost
them: audited, nothing sent) and ``unknown`` (in flight when a previous controller
process died).

An unlock without a reason the site accepts is refused before it is audited or sent
(:mod:`controller.unlock_reasons`), whichever path sends it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from devices.clock import Clock
from devices.contract import (
    Ack,
    Channel,
    ContractError,
    SiteTopics,
    encode,
    new_command,
    sign_command,
    spec_for,
)

from .bus_messages import CommandResolved
from .event_bus import EventBus
from .logs import bind_command
from .mqtt_link import MqttLink, NotConnected
from .store import AuditKind, AuditRecord, Store, StoreError
from .twins import TwinRegistry
from .unlock_reasons import BadReason, unlock_reason

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    OK = "ok"
    REJECTED = "rejected"
    FAILED = "failed"
    TIMEOUT = "timeout"
    OFFLINE = "offline"
    REFUSED = "refused"
    UNKNOWN = "unknown"


class CommandError(ValueError):
    """A command that cannot be issued at all (unknown device, bad action or args)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What became of one command."""

    command_id: str
    device: str
    action: str
    outcome: Outcome
    error: str | None = None
    state: dict[str, Any] | None = None
    elapsed_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "command_id": self.command_id,
            "device": self.device,
            "action": self.action,
            "outcome": self.outcome.value,
            "error": self.error,
            "state": self.state,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


@dataclass
class _Pending:
    device: str
    future: asyncio.Future[Ack] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class CommandBus:
    """Issues commands over the MQTT link and resolves them from acks."""

    def __init__(
        self,
        *,
        link: MqttLink,
        topics: SiteTopics,
        twins: TwinRegistry,
        keys: Mapping[str, bytes],
        store: Store,
        bus: EventBus,
        clock: Clock,
        unlock_reasons: Sequence[str],
        timeout_s: float = 10.0,
        message_end: Callable[[datetime], datetime] | None = None,
    ) -> None:
        self.link = link
        self.topics = topics
        self.twins = twins
        self.keys = keys
        self.store = store
        self.bus = bus
        self.clock = clock
        self.timeout_s = timeout_s
        #: the site's list: every unlock gives one (or "other: <text>")
        self.unlock_reasons = list(unlock_reasons)
        #: when a screen's message sent without ``until`` ends (controller/screen_messages.py)
        self.message_end = message_end
        self._pending: dict[str, _Pending] = {}
        #: why the last audit write failed (commands are refused until one succeeds)
        self.store_failing: str | None = None

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def validate(self, device: str, action: str, args: Mapping[str, Any] | None) -> dict[str, Any]:
        """Check device, action and args; return the args as they go on the wire."""
        twin = self.twins.get(device)
        if twin is None:
            raise CommandError("unknown_device", f"no device {device!r} on this site")
        try:
            return spec_for(twin.type).validate_args(action, args)
        except ContractError as exc:
            raise CommandError(exc.reason, exc.message) from None

    async def send(
        self,
        device: str,
        action: str,
        args: Mapping[str, Any] | None = None,
        *,
        actor: str,
        reason: str | None = None,
        timeout_s: float | None = None,
        refused: str | None = None,
    ) -> CommandResult:
        """Issue one command and wait (bounded) for its outcome; always audited.
        CommandError for a bad device, action or args, or an unlock without a reason
        the site accepts (``bad_reason``). With ``refused`` (why) the command is
        audited with outcome ``refused`` and not sent."""
        wire_args = self.validate(device, action, args)
        if action == "show_message" and "until" not in wire_args and self.message_end:
            until = self.message_end(self.clock.now()).isoformat()
            wire_args = self.validate(device, action, {**wire_args, "until": until})
        if action == "unlock":
            try:
                reason = unlock_reason(self.unlock_reasons, reason, actor=actor)
            except BadReason as exc:
                raise CommandError("bad_reason", str(exc)) from None
        twin = self.twins.get(device)
        assert twin is not None
        timeout = timeout_s if timeout_s is not None else self.timeout_s
        started = self.clock.monotonic()
        command = new_command(
            action, wire_args, actor, self.clock.now(), ttl=timedelta(seconds=timeout)
        )
        bind_command(command.id)  # log lines of this task carry the command id
        if spec_for(twin.type).signed:
            key = self.keys.get(device)
            if key is None:
                raise CommandError("no_key", f"no signing key for {device}; provision it")
            command = sign_command(command, device, key)
        await self._audit_issued(
            AuditRecord(
                ts=self.clock.now(),
                kind=AuditKind.ISSUED,
                command_id=command.id,
                device=device,
                action=action,
                actor=actor,
                args=wire_args,
                reason=reason,
            )
        )
        if refused is not None:
            result = CommandResult(command.id, device, action, Outcome.REFUSED, error=refused)
        elif not twin.reachable:
            result = CommandResult(
                command.id,
                device,
                action,
                Outcome.OFFLINE,
                error=f"device is {twin.reachability.value}",
            )
        else:
            result = await self._transmit(
                command.id, device, action, encode(command), timeout, started
            )
        if result.outcome is Outcome.OK:
            twin.desired = {"action": action, "args": wire_args, "at": self.clock.now().isoformat()}
        # Nobody learns the outcome (caller, bus, log) before its resolved line is
        # committed, so the audit never contradicts what a person was told. A failed
        # write is retried until it succeeds (store.audit_unwritten, /api/health) and
        # the caller waits for it; a cancelled caller leaves it queued.
        await self.store.append_audit_kept(
            AuditRecord(
                ts=self.clock.now(),
                kind=AuditKind.RESOLVED,
                command_id=command.id,
                device=device,
                action=action,
                actor=actor,
                args=wire_args,
                reason=reason,
                outcome=result.outcome.value,
                error=result.error,
            )
        )
        self.bus.publish(
            CommandResolved.of(result, actor=actor, reason=reason, ts=self.clock.now())
        )
        log.info(
            "command %s %s %s by %s: %s%s",
            command.id,
            device,
            action,
            actor,
            result.outcome.value,
            f" ({result.error})" if result.error else "",
        )
        return result

    async def _audit_issued(self, record: AuditRecord) -> None:
        """Write the ``issued`` line; if the store refuses, say so loudly (log and
        ``store_failing`` for /api/health) and let StoreError refuse the command."""
        try:
            await self.store.append_audit(record)
        except StoreError as exc:
            self.store_failing = str(exc)
            log.error(
                "STORE FAILING: %s %s by %s refused, its audit record cannot be written: %s",
                record.device,
                record.action,
                record.actor,
                exc,
            )
            raise
        if self.store_failing is not None:
            log.warning("store writable again: commands are audited and sent")
            self.store_failing = None

    async def _transmit(
        self,
        command_id: str,
        device: str,
        action: str,
        payload: bytes,
        timeout: float,
        started: float,
    ) -> CommandResult:
        pending = _Pending(device)
        self._pending[command_id] = pending
        topic = self.topics.device(device, Channel.CMD)
        try:
            async with asyncio.timeout(timeout):
                await self.link.connected.wait()
                self.link.put(topic, payload)  # its ack says the broker had it
                ack = await pending.future
        except TimeoutError:
            error = "no ack" if self.link.connected.is_set() else "broker unreachable"
            return CommandResult(
                command_id,
                device,
                action,
                Outcome.TIMEOUT,
                error=error,
                elapsed_ms=self._ms(started),
            )
        except NotConnected as exc:
            return CommandResult(
                command_id,
                device,
                action,
                Outcome.TIMEOUT,
                error=f"broker unreachable: {exc}",
                elapsed_ms=self._ms(started),
            )
        finally:
            self._pending.pop(command_id, None)
        return CommandResult(
            command_id,
            device,
            action,
            Outcome(ack.status.value),
            error=ack.error,
            state=ack.state,
            elapsed_ms=self._ms(started),
        )

    def _ms(self, started: float) -> float:
        return (self.clock.monotonic() - started) * 1000

    def resolve(self, device: str, ack: Ack) -> bool:
        """Match an ack to its waiting command; False for unknown ids or devices."""
        pending = self._pending.get(ack.id)
        if pending is None:
            log.debug("ack %s from %s matches no command in flight", ack.id, device)
            return False
        if pending.device != device:
            log.warning(
                "ack %s came from %s, command went to %s: ignored", ack.id, device, pending.device
            )
            return False
        if not pending.future.done():
            pending.future.set_result(ack)
        return True

    async def settle_crashed(self) -> int:
        """Close the audit of commands left in flight by a dead process as ``unknown``."""
        rows = await self.store.unresolved_commands()
        for row in rows:
            await self.store.append_audit(
                AuditRecord(
                    ts=self.clock.now(),
                    kind=AuditKind.RESOLVED,
                    command_id=row.command_id,
                    device=row.device,
                    action=row.action,
                    actor=row.actor,
                    args=row.args,
                    reason=row.reason,
                    outcome=Outcome.UNKNOWN.value,
                    error="controller stopped before the outcome was known",
                )
            )
        return len(rows)
