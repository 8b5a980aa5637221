"""The screen's firmware driven by its kiosk page (:mod:`controller.calls.screen_bridge`).

A module of its own so the daemon imports the simulated firmware only when a first
page opens (the firmware package is ~0.75 MB of a daemon's imports; issue 18).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devices.firmware.base import AfterAck
from devices.firmware.screen import SimulatedScreen


class PageScreen(SimulatedScreen):
    """The screen's firmware driven by the kiosk page; tells the pages every change."""

    def _setup(self) -> None:
        super()._setup()
        self.caller: str | None = None
        self.on_change: Callable[[], None] = lambda: None

    def _report(self) -> None:
        super()._report()
        self.on_change()

    async def _cmd_ring(self, args: dict[str, Any]) -> AfterAck:
        if self._call == "idle":
            self.caller = str(args.get("caller") or "")
        return await super()._cmd_ring(args)

    def view(self) -> dict[str, Any]:
        """What the page draws."""
        fields = self._fields()
        return {**fields, "caller": self.caller if fields["call"] != "idle" else None}
