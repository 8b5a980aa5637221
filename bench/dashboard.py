"""Dashboard: time from a device's state publish to the change in the page's DOM,
with 1,000 apartments (2,000 devices, run by bench.swarm) in the overview, in real
headless Chromium.

Both clocks are the machine's wall clock: Python stamps the moment before the
simulated curtain publishes its new position; a MutationObserver in the page stamps
``performance.timeOrigin + performance.now()`` when the overview cell shows it.
"""

from __future__ import annotations

import asyncio
import shutil

from tests.conftest import CHROMIUM, FLAGS
from tests.integration.harness import start_controller, wait_all_online

from .common import summary

OBSERVER = """([number, position]) => new Promise((resolve) => {
  const cell = document.querySelector(`[data-apartment="${number}"]`);
  const done = () => {
    const dd = cell.querySelector('.curtain');
    if (dd && dd.dataset.position === String(position)) {
      obs.disconnect(); resolve(performance.timeOrigin + performance.now()); return true;
    }
    return false;
  };
  const obs = new MutationObserver(done);
  obs.observe(cell, {subtree: true, childList: true, attributes: true});
  window.__armed = true;
})"""


async def _measure_scaled(apartments: int, changes: int) -> dict[str, object]:
    """As :func:`_measure`, on a fleet of ``apartments`` (two devices each, run by
    bench.swarm) all shown in the overview; curtains of the first apartments move."""
    from playwright.async_api import async_playwright

    from .fleet import start_fleet_broker, write_fleet
    from .swarm_group import SwarmGroup

    fleet = write_fleet(apartments)
    broker = start_fleet_broker(fleet)
    group = SwarmGroup(fleet, broker.host, broker.port, processes=2)
    # a change per curtain at a time, in turn over 20 apartments: one curtain moving
    # 200 times in a few seconds is a flood the controller rightly drops
    movers = [
        (apt.number, dev.id) for apt, dev in fleet.site.devices() if dev.type.value == "curtain"
    ][:20]
    times: list[float] = []
    try:
        await group.start()
        ctl = await start_controller(
            broker.address, fleet.site, fleet.credentials,
            fleet.directory / "dash.sqlite", client_id="bench-dashboard",
        )  # fmt: skip
        try:
            await wait_all_online(ctl.controller, timeout=120)
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                page = await browser.new_page(bypass_csp=True)  # the bench polls with eval
                await page.goto(f"{ctl.controller.http_url}/ui/login.html")
                await page.fill("#username", "test-staff")
                await page.fill("#password", ctl.passwords["test-staff"])
                await page.click("#login-button")
                await page.wait_for_selector('body[data-live="up"]', timeout=60000)
                cells = await page.locator("[data-apartment]").count()
                for i in range(changes):
                    number, curtain = movers[i % len(movers)]
                    position = 1 + i % 99
                    seen = asyncio.ensure_future(page.evaluate(OBSERVER, [number, position]))
                    await page.wait_for_function("window.__armed === true")
                    await page.evaluate("window.__armed = false")
                    stamps = await group.ask(f"move {curtain} {position}", "MOVED")
                    start = float(next(s for s in stamps if s != "-"))
                    times.append(await asyncio.wait_for(seen, 10) - start)
                await browser.close()
        finally:
            await ctl.stop()
    finally:
        await group.stop()
        broker.stop()
        shutil.rmtree(fleet.directory, ignore_errors=True)
    s = summary(times)
    ordered = sorted(times)
    s["p95"] = round(ordered[int(0.95 * (len(ordered) - 1))], 3)
    return {"apartments": apartments, "cells_in_overview": cells, "publish_to_dom_ms": s}


def run_scaled(apartments: int = 1000, changes: int = 200) -> dict[str, object]:
    return asyncio.run(_measure_scaled(apartments, changes))
