"""One firing: claim it in the store, send its commands, record and publish the outcome.

A firing runs with its owner's rights at that moment (:mod:`controller.auth.acting_for`,
read from the store at each firing): a device the owner may not now command (user
disabled or gone, a lost role or wing) gets no command; it is audited with outcome
``refused`` and the owner named in the actor (``schedule:<id> for <owner>``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from config.site import Apartment
from controller.auth.acting_for import Refusal, UserLookup, refusal, standing_of
from devices.clock import Clock

from .firings import Due, FiringReport, summarise
from .holds import schedule_actor
from .model import Schedule
from .ports import FiringSink, ScheduleStore, ScheduleStoreError
from .targets import TargetDevice, command_args

log = logging.getLogger(__name__)


class CommandSender(Protocol):
    """What the engine needs of :class:`controller.command_bus.CommandBus`."""

    async def send(
        self,
        device: str,
        action: str,
        args: Mapping[str, Any] | None = None,
        *,
        actor: str,
        reason: str | None = None,
        refused: str | None = None,
    ) -> Any: ...


class FiringStore(ScheduleStore, UserLookup, Protocol):
    """The store a firing claims in and reads its owner's rights from."""


async def fire(
    due: Due,
    schedule: Schedule | None,
    *,
    store: FiringStore,
    commands: CommandSender,
    clock: Clock,
    apartments: Mapping[str, Apartment],
    bus: FiringSink | None = None,
) -> FiringReport:
    """Claim one firing, send its commands (held devices skipped, devices the owner may
    not command now refused), record the outcome.

    Nothing is sent unless this call claimed the instant; a claim that fails (store
    down) sends nothing either (outcome ``store_error``)."""
    what = f"schedule {due.schedule_id} at {due.due_at.isoformat()}"

    def report(outcome: str, devices: dict[str, str], *, publish: bool = True) -> FiringReport:
        note = due.reason if outcome != "store_error" else "the store cannot claim it"
        done = FiringReport(
            due.schedule_id,
            due.due_at,
            clock.now(),
            outcome,
            devices,
            due.late_s,
            note,
            schedule.owner if schedule is not None else None,
        )
        if publish and bus is not None:
            bus.publish(done)
        return done

    try:
        claimed = await store.claim_firing(due.schedule_id, due.due_at, clock.now())
    except ScheduleStoreError as exc:
        log.error("%s not fired: cannot claim it: %s", what, exc)
        return report("store_error", {})
    if not claimed:
        log.info("%s was already claimed: not sent again", what)
        return report("already_ran", {}, publish=False)
    devices: dict[str, str] = {}
    if due.missed or schedule is None:
        outcome = "missed"
        log.warning("%s missed: %s", what, due.reason)
    else:
        devices = {d: "held" for d in due.device_ids() if d in due.held}
        to_send = [d for d in due.devices if d.device_id not in due.held]
        standing = await standing_of(store, schedule.owner)
        refusals = [
            refusal(standing, d.device_id, apartments.get(d.apartment), schedule.action)
            for d in to_send
        ]
        results = await asyncio.gather(
            *(_send(commands, schedule, d, r) for d, r in zip(to_send, refusals, strict=True))
        )
        devices.update(zip((d.device_id for d in to_send), results, strict=True))
        outcome = summarise(devices)
    done = report(outcome, devices)
    try:
        await store.finish_firing(due.schedule_id, due.due_at, outcome, done.to_dict())
    except ScheduleStoreError as exc:
        log.error("outcome of %s not stored: %s", what, exc)
    return done


async def _send(
    commands: CommandSender, schedule: Schedule, device: TargetDevice, refused: Refusal | None
) -> str:
    if refused is not None:
        what = f"{schedule.action} {device.device_id}"
        log.warning("schedule %s: %s refused: %s", schedule.id, what, refused.why)
    try:
        result = await commands.send(
            device.device_id,
            schedule.action,
            command_args(schedule, device.device_type),
            actor=schedule_actor(schedule.id, schedule.owner),
            reason=schedule.name or schedule.id,
            refused=refused.why if refused is not None else None,
        )
    except ScheduleStoreError as exc:
        log.error(
            "schedule %s: %s not sent, audit not written: %s",
            schedule.id,
            device.device_id,
            exc,
        )
        return "store_error"
    except Exception as exc:
        log.warning("schedule %s: %s not sent: %s", schedule.id, device.device_id, exc)
        return "error"
    outcome = getattr(result, "outcome", "ok")
    return str(getattr(outcome, "value", outcome))
