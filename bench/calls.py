"""Video link: time from the relative pressing call to the room screen ringing, and
from the resident pressing answer to the WebRTC connection being ``connected``, over
the real daemon, Mosquitto and two real Chromium contexts (fake camera, loopback).

Both pages stamp ``performance.timeOrigin + performance.now()`` (the machine's wall
clock): the relative's page at the click on call, the screen's page when the incoming
call appears, at the click on answer, and when its connection says connected.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from tests.conftest import CHROMIUM, FLAGS
from tests.integration.calls.conftest import MEDIA_FLAGS, screen_token
from tests.integration.harness import start_controller

from .common import BenchBroker, summary

NOW = "performance.timeOrigin + performance.now()"
CLICK_STAMP = f"""(id) => new Promise((resolve) => document.getElementById(id)
  .addEventListener("click", () => resolve({NOW}), {{capture: true, once: true}}))"""
SHOWN_STAMP = f"""(id) => new Promise((resolve) => {{
  const el = document.getElementById(id);
  const obs = new MutationObserver(() => {{
    if (!el.hidden) {{ obs.disconnect(); resolve({NOW}); }}
  }});
  obs.observe(el, {{attributes: true}});
}})"""
CONNECTED_STAMP = f"""() => new Promise((resolve) => {{
  const el = document.getElementById("call-state");
  const obs = new MutationObserver(() => {{
    if (el.dataset.state === "connected") {{ obs.disconnect(); resolve({NOW}); }}
  }});
  obs.observe(el, {{attributes: true}});
}})"""
TIMEOUT_MS = 15_000


async def _measure(b: BenchBroker, calls: int) -> tuple[list[float], list[float]]:
    from playwright.async_api import async_playwright

    ctl = await start_controller(
        b.process.address,
        b.site,
        b.credentials,
        Path(tempfile.mkdtemp()) / "calls.sqlite",
        client_id="bench-calls",
    )
    ring_ms: list[float] = []
    connect_ms: list[float] = []
    try:
        token = await screen_token(ctl, "101")
        status, _ = await ctl.call(
            "PUT", "/api/calls/visiting-hours/101", json={"windows": ["daily 00:00-24:00"]}
        )
        assert status == 200
        status, invitation = await ctl.call(
            "POST", "/api/calls/invitations", json={"apartment": "101", "relative": "Bench"}
        )
        assert status == 201, invitation
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS + MEDIA_FLAGS)
            screen_ctx = await browser.new_context(
                viewport={"width": 1280, "height": 800}, bypass_csp=True
            )
            relative_ctx = await browser.new_context(bypass_csp=True)
            screen = await screen_ctx.new_page()
            relative = await relative_ctx.new_page()
            await screen.goto(f"{ctl.controller.http_url}/ui/screen.html#token={token}")
            await screen.wait_for_selector('body[data-apartment="101"]', timeout=TIMEOUT_MS)
            await relative.goto(invitation["link"])
            await relative.wait_for_selector('#visiting[data-open="true"]', timeout=TIMEOUT_MS)
            for _ in range(calls):
                pressed = asyncio.ensure_future(relative.evaluate(CLICK_STAMP, "call"))
                rang = asyncio.ensure_future(screen.evaluate(SHOWN_STAMP, "incoming"))
                await relative.click("#call")
                ring_ms.append(await asyncio.wait_for(rang, 15) - await pressed)
                accepted = asyncio.ensure_future(screen.evaluate(CLICK_STAMP, "accept"))
                connected = asyncio.ensure_future(screen.evaluate(CONNECTED_STAMP))
                await screen.click("#accept")
                connect_ms.append(await asyncio.wait_for(connected, 15) - await accepted)
                await relative.click("#hangup")
                await screen.wait_for_selector("#in-call", state="hidden", timeout=TIMEOUT_MS)
                await relative.wait_for_selector("#call:enabled", timeout=TIMEOUT_MS)
                await ctl.wait_twin(
                    "a101-screen", lambda t: t.reported is not None and t.reported.call == "idle"
                )
            await browser.close()
    finally:
        await ctl.controller.screens.stop_all()
        await ctl.stop()
    return ring_ms, connect_ms


def run(b: BenchBroker, calls: int = 20) -> dict[str, object]:
    ring_ms, connect_ms = asyncio.run(_measure(b, calls))
    return {"press_to_ringing_ms": summary(ring_ms), "accept_to_connected_ms": summary(connect_ms)}


if __name__ == "__main__":
    from .common import start_broker

    broker = start_broker()
    try:
        print(run(broker))
    finally:
        broker.process.stop()
