"""What the store holds of a screen's help presses (the kill tests' "nothing lost, nothing
stored twice")."""

from __future__ import annotations

from tests.integration.harness import RunningController


async def stored_presses(ctl: RunningController, device: str) -> list[str]:
    """The press ids of ``device``'s help presses in the store, one per stored event."""
    events = await ctl.controller.store.recent_events(limit=1000, device=device)
    return [str(e.details.get("press_id")) for e in events if e.type == "help_pressed"]
