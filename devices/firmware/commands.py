"""The checks every device runs on a received ``cmd`` before acting on it, shared by
the simulated firmware and the serial bridge: the contract's admission rule
(:mod:`devices.contract.admission`: a retained, empty or oversized message is never
executed), then decode, signature (types that need one), and the at-most-once memory
of ids."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from devices.contract import (
    Ack,
    AckStatus,
    Command,
    ContractError,
    DeviceTypeSpec,
    MessageAdmission,
    decode,
    verify_command,
)

log = logging.getLogger(__name__)

RECENT_COMMANDS = 1024

#: Builds the ack of a command (the device adds its state).
AckFor = Callable[[Command, AckStatus, str | None], Ack]


@dataclass(frozen=True, slots=True)
class Admission:
    """What to do with a received command: run ``command``, send ``reply``, or nothing."""

    command: Command | None = None
    reply: Ack | None = None


class CommandGate:
    """One device's gate; remembers the last :data:`RECENT_COMMANDS` ids and acks."""

    def __init__(self, device_id: str, spec: DeviceTypeSpec, key: bytes) -> None:
        self.device_id = device_id
        self.spec = spec
        self._key = key
        self.admission = MessageAdmission(device_id)
        self._recent: OrderedDict[str, Ack | None] = OrderedDict()

    def admit(self, payload: bytes, retained: bool, ack_for: AckFor) -> Admission:
        if self.admission.check(payload, retained) is not None:
            return Admission()
        try:
            command = decode(Command, payload)
        except ContractError as exc:
            log.warning("%s: malformed command ignored: %s", self.device_id, exc)
            return Admission()
        if self.spec.signed and not verify_command(command, self.device_id, self._key):
            # Not remembered: a forged copy must not poison the id of a genuine command.
            log.warning("%s: command %s has a bad signature", self.device_id, command.id)
            return Admission(reply=ack_for(command, AckStatus.REJECTED, "bad_signature"))
        if command.id in self._recent:
            self._recent.move_to_end(command.id)
            return Admission(reply=self._recent[command.id])  # None while still running
        self._store(command.id, None)
        return Admission(command=command)

    def remember(self, ack: Ack) -> None:
        """The final ack of a command: a repeat of its id gets it again."""
        self._store(ack.id, ack)

    def _store(self, command_id: str, ack: Ack | None) -> None:
        self._recent[command_id] = ack
        self._recent.move_to_end(command_id)
        while len(self._recent) > RECENT_COMMANDS:
            self._recent.popitem(last=False)
