"""Invitation links are rate limited per client address: after 20 refused links an
address gets 429 ``throttled``, even with a valid link, while another address is
not affected. Loopback 127.0.0.2 plays the other address."""

from __future__ import annotations

import aiohttp

from controller.auth.throttle import AddressThrottle
from controller.calls.invitations import LINK_POLICY

from ..harness import RunningController
from .test_calls import invite


async def _info(base: str, token: str, local: str) -> tuple[int, dict]:
    connector = aiohttp.TCPConnector(local_addr=(local, 0))
    async with (
        aiohttp.ClientSession(base_url=base, connector=connector) as http,
        http.get("/api/calls/invitation", headers={"X-Invitation": token}) as resp,
    ):
        return resp.status, await resp.json()


async def test_refused_links_throttle_their_address_only(ctl: RunningController) -> None:
    invitations = ctl.controller.invitations
    invitations.addresses = AddressThrottle()  # other tests' refusals do not count here
    base = ctl.controller.http_url
    token = (await invite(ctl, "214"))["link"].split("#t=", 1)[1]
    invitation_id, expires, _signature = token.split(".")
    guessed = f"{invitation_id}.{expires}.{'A' * 43}"
    try:
        for _ in range(LINK_POLICY.ip_max_failures):
            status, body = await _info(base, guessed, "127.0.0.1")
            assert (status, body["error"]["code"]) == (401, "invitation_invalid")
        status, body = await _info(base, token, "127.0.0.1")  # the real link, same address
        assert (status, body["error"]["code"]) == (429, "throttled"), body
        status, body = await _info(base, token, "127.0.0.2")  # another address
        assert status == 200, body
        await ctl.controller.throttled.flush()  # as at the window's end or a stop
        _status, activity = await ctl.call("GET", "/api/activity", params={"limit": "100"})
        refusals = [
            r
            for r in activity["activity"]
            if r["action"] == "refused" and r["outcome"] in ("invitation_invalid", "throttled")
        ]
        newest = next(r for r in refusals if r["outcome"] == "throttled")
        # one row per address and window, with the count
        assert (newest["details"]["address"], newest["details"]["count"]) == ("127.0.0.1", 1)
    finally:
        invitations.addresses = AddressThrottle()
