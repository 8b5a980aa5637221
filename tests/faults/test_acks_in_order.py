"""PUBACKs leave in order, and one message whose work cannot finish does not stop the
messages behind it: the store refuses events, one event is held; 160 state reports
after it (more than Mosquitto's in-flight window of 100 for the controller's session)
still reach the twins, passed after STUCK_S with one warning; once the store takes
events again the held one is stored."""

from __future__ import annotations

import pytest

from controller.store import StoreError
from tests.integration.harness import RunningController, RunningHome, until

HELD = "a211-lock"
SENDERS = ("a212-lock", "a213-lock")
REPORTS = 80  # each; under the per-device burst of 100


async def test_a_held_event_does_not_stop_the_messages_behind_it(
    rel_ctl: RunningController, rel_home: RunningHome, caplog: pytest.LogCaptureFixture
) -> None:
    ctl = rel_ctl.controller
    add_events, set_aside = ctl.store.add_events, ctl.store.set_aside_event

    async def disk_full(records: object) -> None:
        raise StoreError("disk full (test)")

    # nothing can be written: not the events, nor one set aside as refused
    ctl.store.add_events = ctl.store.set_aside_event = disk_full  # type: ignore[method-assign]
    try:
        rel_home.home[HELD]._event("updated")  # its receipt is held: not committed
        # the senders are other connections: the broker may pass their reports on
        # first, so wait until the held event has reached the writer and failed
        await until(lambda: ctl.events.failing is not None, 10)
        for device in SENDERS:
            for _ in range(REPORTS):
                rel_home.home[device]._report()
        for device in SENDERS:
            last = rel_home.home[device].state.seq
            await rel_ctl.wait_twin(
                device,
                lambda t, last=last: t.reported is not None and t.reported.seq >= last,
                timeout=30,
            )
        assert "still not durable" in caplog.text
    finally:
        ctl.store.add_events, ctl.store.set_aside_event = add_events, set_aside  # type: ignore[method-assign]
    # the event writer retries by itself: the held event is stored, once
    await ctl.events.flush(timeout=40)
    events = await ctl.store.recent_events(device=HELD, limit=20)
    assert [e.type for e in events].count("updated") == 1
