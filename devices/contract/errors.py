"""The one exception type the contract raises for bad input."""

from __future__ import annotations


class ContractError(ValueError):
    """A topic or payload that does not follow the MQTT contract.

    ``reason`` is a short machine-readable code (``too_large``, ``not_json``,
    ``invalid``, ``bad_topic`` ...); the message says what was wrong for a human.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
