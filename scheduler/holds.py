"""Staff holds: a person's command on a device skips that device's next scheduled firing.

The rule (also in :mod:`scheduler.engine` and docs/architecture.md):

* A command creates a hold on its device when its outcome is ``ok``, its actor does not
  start with ``schedule:`` (a person or script, not a schedule) and its action is not a
  maintenance action (``ping``, ``identify``, ``reboot``, ``update_firmware``) or part
  of a video call (``ring``, ``end_call``: a call is not a routine's state). The hold
  starts at the command's time (``ts`` of the bus message: when its outcome was known).
  A newer command replaces the device's hold.
* The hold ends at the device's first scheduled due instant strictly after that time,
  whichever schedule it belongs to: every firing for the device *at that instant* is
  skipped for that device only (outcome ``held``; the other devices of the firing get
  their command). Firings after that instant run normally.
* A firing of a schedule made after the hold began is not skipped, and ends the hold:
  it was made knowing the command (a nurse's unlock from an alarm with an automatic
  relock, controller/api/routes_night_flow.py: the relock must run).
* A firing that is not run (``missed``: too late after an outage) does not end a hold.
* Holds are stored (``schedule_holds``) and survive a restart. The device's own
  fallback routines (controller offline) do not know about holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from devices.contract.device_types import UNHELD_ACTIONS

from .ports import HoldRecord, ResolvedCommand, ScheduleStoreError

log = logging.getLogger(__name__)

#: Actor prefix of the commands a schedule sends.
SCHEDULE_ACTOR = "schedule:"


def schedule_actor(schedule_id: str, owner: str) -> str:
    """The audited actor of a schedule's commands: the schedule and whose rights it runs
    with, ``schedule:night-a for anna``."""
    return f"{SCHEDULE_ACTOR}{schedule_id} for {owner}"


#: Actions that do not hold a device against its schedules (each type declares them:
#: maintenance, which keeps a device working, a call's ring and hang-up...).
MAINTENANCE_ACTIONS = UNHELD_ACTIONS


class HoldStore(Protocol):
    async def put_hold(self, hold: HoldRecord) -> None: ...

    async def delete_hold(self, device: str, since: datetime | None = None) -> bool: ...


class Heldable(Protocol):
    """A due firing: its instant, its devices, and the set the holds fill in."""

    due_at: datetime
    held: set[str]
    #: when the firing's schedule was made (None: unknown, as old as any hold)
    made_at: datetime | None

    def device_ids(self) -> Sequence[str]: ...


class Holds:
    """The holds in memory, with the store writes they still owe."""

    def __init__(self) -> None:
        self._by_device: dict[str, HoldRecord] = {}
        self._owed: list[tuple[str, HoldRecord]] = []
        #: one flush at a time: two concurrent ones popped the same entry twice
        #: (IndexError that stopped the daemon under a burst of staff commands)
        self._flushing = asyncio.Lock()

    def load(self, records: Iterable[HoldRecord]) -> None:
        self._by_device = {r.device: r for r in records}

    def get(self, device: str) -> HoldRecord | None:
        return self._by_device.get(device)

    def all(self) -> list[HoldRecord]:
        return sorted(self._by_device.values(), key=lambda h: h.device)

    @property
    def owed(self) -> bool:
        return bool(self._owed)

    def note(self, outcome: ResolvedCommand) -> HoldRecord | None:
        """A command outcome from the bus; the hold it creates, if any."""
        device, actor, action = outcome.device, outcome.actor, outcome.action
        if outcome.outcome != "ok" or not device:
            return None
        if actor.startswith(SCHEDULE_ACTOR) or action in MAINTENANCE_ACTIONS:
            return None
        hold = HoldRecord(
            device=device,
            since=outcome.ts,
            actor=actor,
            action=action,
            command_id=outcome.command_id,
        )
        self._by_device[device] = hold
        self._owed.append(("put", hold))
        log.info("%s held against its schedules by %s (%s)", device, actor, action)
        return hold

    def release(self, device: str) -> HoldRecord | None:
        """Drop a device's hold now (an admin's release)."""
        hold = self._by_device.pop(device, None)
        if hold is not None:
            self._owed.append(("delete", hold))
        return hold

    def apply(self, items: Iterable[Heldable]) -> None:
        """Fill in ``held`` of each firing (in due order) and end the holds they use."""
        ended: dict[str, datetime] = {}
        for item in sorted(items, key=lambda i: i.due_at):
            for device in item.device_ids():
                if device in ended:
                    if ended[device] == item.due_at:
                        item.held.add(device)
                    continue
                hold = self._by_device.get(device)
                if hold is not None and hold.since < item.due_at:
                    if item.made_at is None or item.made_at <= hold.since:
                        item.held.add(device)
                    ended[device] = item.due_at
        for device in ended:
            hold = self._by_device.pop(device)
            self._owed.append(("delete", hold))

    async def flush(self, store: HoldStore) -> None:
        """Write what is owed (a failed write is logged and kept for the next flush)."""
        async with self._flushing:
            await self._flush(store)

    async def _flush(self, store: HoldStore) -> None:
        while self._owed:
            op, hold = self._owed[0]
            try:
                if op == "put":
                    await store.put_hold(hold)
                else:
                    await store.delete_hold(hold.device, hold.since)
            except ScheduleStoreError as exc:
                log.warning("hold on %s not stored yet: %s", hold.device, exc)
                return
            self._owed.pop(0)
