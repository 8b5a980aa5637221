"""The contract's admission rule (devices/contract/admission.py) on its own: what is
refused, and that a flood of refusals is counted but logged once per reason."""

from __future__ import annotations

import logging

import pytest

from devices.contract import MAX_PAYLOAD_BYTES, MessageAdmission, refusal_of


def test_retained_empty_and_oversized_messages_are_refused() -> None:
    assert refusal_of(b"UNLOCK", retained=False) is None
    assert refusal_of(b"x" * MAX_PAYLOAD_BYTES, retained=False) is None
    reasons = [
        refusal_of(payload, retained)
        for payload, retained in [(b"UNLOCK", True), (b"", True), (b"", False)]
    ]
    assert [r.reason for r in reasons if r] == ["retained_command", "retained_command", "empty"]
    too_large = refusal_of(b"x" * (MAX_PAYLOAD_BYTES + 1), retained=False)
    assert too_large is not None
    assert too_large.reason == "too_large"


def test_refusals_are_counted_and_logged_once_a_second_per_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    admission = MessageAdmission("a101-lock")
    with caplog.at_level(logging.DEBUG, logger="devices.contract.admission"):
        for _ in range(50):
            admission.check(b"{}", retained=True, topic="tryggbo/s/dev/a101-lock/cmd")
            admission.check(b"", retained=False)
    assert admission.counts == {"retained_command": 50, "empty": 50}
    logged = sorted((r.levelname, r.args[2]) for r in caplog.records)  # type: ignore[index]
    assert logged == [("DEBUG", "empty"), ("WARNING", "retained_command")]
