"""Fixtures for the room screen page and the relatives' video link: a Chromium that
may use (fake) camera and microphone and make WebRTC calls on 127.0.0.1, screen
credentials, and a screen handed from the simulated firmware to its kiosk page."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

import pytest

from controller.auth.accounts import ensure_user, random_password
from controller.auth.tokens import create_user_token
from devices.clock import SystemClock
from tests.conftest import CHROMIUM, FLAGS

from ..harness import RunningController, RunningHome, wait_twin

#: Fake camera/microphone, no permission prompt, ICE host candidates on loopback
#: (without the last flag Chromium gathers no candidate on 127.0.0.1).
MEDIA_FLAGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
TIMEOUT_MS = 15_000

#: WCAG contrast of an element's text on its own background, from computed colours;
#: also whether anything above it dims it (a filter or opacity makes computed colours
#: lie).
CONTRAST = """(sel) => {
  const el = document.querySelector(sel);
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => {
    const linear = (v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    const [r, g, b] = rgb(c).map((v) => linear(v / 255));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const style = getComputedStyle(el);
  const [a, b] = [lum(style.color), lum(style.backgroundColor)].sort((x, y) => y - x);
  let dimmed = [];
  for (let n = el; n; n = n.parentElement) {
    const s = getComputedStyle(n);
    if (s.filter !== "none" || Number(s.opacity) < 1) dimmed.push(n.tagName + "#" + n.id);
  }
  const ratio = (a + 0.05) / (b + 0.05);
  return { ratio, color: style.color, background: style.backgroundColor, dimmed };
}"""


@pytest.fixture(scope="session")
async def media_browser():
    from playwright.async_api import async_playwright

    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):  # noqa: ASYNC240
        pytest.fail(f"{CHROMIUM} is missing: run `make test` (installs Debian's chromium)")
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS + MEDIA_FLAGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def new_page(media_browser) -> AsyncIterator[Callable[..., Any]]:
    """Opens pages in separate browser contexts (separate storage, like two devices)."""
    contexts = []

    async def make(width: int = 1280, height: int = 800) -> Any:
        context = await media_browser.new_context(
            viewport={"width": width, "height": height}, locale="sv-SE"
        )
        contexts.append(context)
        return await context.new_page()

    yield make
    for context in contexts:
        await context.close()


async def screen_token(ctl: RunningController, apartment: str) -> str:
    """An API token of a ``screen`` user bound to ``apartment``."""
    store = ctl.controller.store
    username = f"screen-{apartment}"
    await ensure_user(
        store,
        username=username,
        password=random_password(username),
        roles=("screen",),
        apartments=(apartment,),
        now=SystemClock().now(),
    )
    token, _ = await create_user_token(
        store, username=username, name="kiosk", now=SystemClock().now()
    )
    return token


@dataclass
class KioskScreen:
    """A screen whose firmware runs for its kiosk page instead of the simulator."""

    apartment: str
    device: str
    token: str

    def url(self, ctl: RunningController, lang: str = "") -> str:
        query = f"?lang={lang}" if lang else ""
        return f"{ctl.controller.http_url}/ui/screen.html{query}#token={self.token}"


@pytest.fixture
async def kiosk(
    ctl: RunningController, home: RunningHome, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[[str], Any]]:
    """``await kiosk("214")``: take that apartment's simulated screen off the broker so
    its page can be the screen; handed back to the simulator after the test."""
    taken: list[KioskScreen] = []
    bridge = ctl.controller.screens
    bridge.linger_s = 0.0

    async def take(apartment: str) -> KioskScreen:
        device = f"a{apartment}-screen"
        home.home[device].go_offline()
        await wait_twin(
            ctl.controller, device, lambda t: t.reachability.value == "offline", timeout=10
        )
        screen = KioskScreen(apartment, device, await screen_token(ctl, apartment))
        taken.append(screen)
        return screen

    yield take
    await bridge.stop_all()
    for screen in taken:
        home.home[screen.device].come_online()
        await wait_twin(
            ctl.controller,
            screen.device,
            lambda t: (
                t.reachability.value == "online"
                and (t.meta is None or t.meta.model != "kiosk-page")
            ),
            timeout=10,
        )


def home_time(ctl: RunningController, hour: int, minute: int = 0) -> datetime:
    """Today (the daemon's today) at this local time in the home."""
    zone = ctl.controller.site.zone
    today = ctl.controller.clock.now().astimezone(zone).date()
    return datetime.combine(today, time(hour, minute), tzinfo=zone)


async def open_kiosk(
    new_page: Callable[..., Any],
    ctl: RunningController,
    screen: KioskScreen,
    width: int = 1280,
    height: int = 800,
    shown: datetime | None = None,
) -> Any:
    """The kiosk page, once the controller sees the page's screen online. The page's
    clock shows ``shown`` (default: today 10.00 in the home, a day view whatever the
    hour the tests run at); ``page.clock.set_fixed_time`` moves it."""
    page = await new_page(width, height)
    await page.clock.set_fixed_time(shown or home_time(ctl, 10))
    await page.goto(screen.url(ctl))
    await wait_twin(
        ctl.controller,
        screen.device,
        lambda t: (
            t.reachability.value == "online" and t.meta is not None and t.meta.model == "kiosk-page"
        ),
        timeout=10,
    )
    await page.wait_for_selector(f'body[data-apartment="{screen.apartment}"]', timeout=TIMEOUT_MS)
    return page


async def sign_in_dashboard(new_page, ctl: RunningController):
    page = await new_page(1280, 900)
    await page.goto(f"{ctl.controller.http_url}/ui/login.html")
    await page.fill("#username", "test-staff")
    await page.fill("#password", ctl.passwords["test-staff"])
    await page.click("#login-button")
    await page.wait_for_selector('body[data-live="up"]', timeout=TIMEOUT_MS)
    # the first snapshot drew the overview: the page is ready for navigation
    await page.wait_for_selector('[data-apartment="101"] dd.lock', timeout=TIMEOUT_MS)
    return page
