"""Issue 15, items 9-12 and 15, performed for real against the HTTP server of a
controller of this module's own (short timeouts, small caps, 127.0.0.9 its trusted
proxy), over raw sockets and real HTTP from distinct loopback addresses.

- Slowloris: an idle socket, a trickled half header and a half-sent body are closed
  within the configured timeouts; a WebSocket is not.
- Socket caps per address (at accept) and per user (429), and behind the proxy per
  forwarded address.
- Behind the trusted proxy, throttles count the client it forwards for.
- Throttled link refusals: one activity row per address and window, with the count.
- CSV export: no cell becomes a formula whichever separator the file is split on.
- A token in the URL of ``/api/ws`` is refused.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from config.site import Site
from controller.api.edges import EdgeLimits
from controller.auth.throttle import AddressThrottle
from controller.calls.invitations import LINK_POLICY
from tests.integration.harness import RunningController, start_controller, user_sessions
from tests.reliability_fixtures import private_broker

PROXY = "127.0.0.9"
LIMITS = EdgeLimits(
    header_timeout_s=1.5,
    body_timeout_s=1.5,
    max_sockets_per_address=6,
    max_sockets_per_user=4,
    trusted_proxies=(ip_network(f"{PROXY}/32"),),
)
#: how much later than its timeout a slow socket may be closed
SLACK_S = 1.0


@pytest.fixture(scope="module")
async def edge_ctl(
    tmp_path_factory: pytest.TempPathFactory, example_site: Site
) -> AsyncIterator[RunningController]:
    """A controller with :data:`LIMITS` on a broker of its own (no devices: every
    command is audited and answers 504, which is all these tests need; after a short
    command timeout, not the 10 s default)."""
    directory = tmp_path_factory.mktemp("edges")
    async with private_broker(example_site, directory) as broker:
        running = await start_controller(
            broker.address,
            broker.site,
            broker.credentials,
            directory / "s.sqlite",
            edges=LIMITS,
            command_timeout_s=1.0,
        )
        await _without_keepalive(running)
        try:
            yield running
        finally:
            await running.stop()


async def _without_keepalive(running: RunningController) -> None:
    """The harness's API session, a new connection per request: the server closes
    idle ones after 1.5 s here, which a pooled connection could meet mid-request."""
    await running.http.close()
    running.http = aiohttp.ClientSession(
        base_url=running.controller.http_url,
        headers={"Authorization": f"Bearer {running.token}"},
        connector=aiohttp.TCPConnector(force_close=True),
    )


def _host_port(ctl: RunningController) -> tuple[str, int]:
    port = ctl.controller.http_port
    assert port is not None
    return "127.0.0.1", port


def _session(
    ctl: RunningController, local: str, headers: dict[str, str] | None = None
) -> aiohttp.ClientSession:
    """An HTTP client from loopback address ``local``, a new connection per request."""
    connector = aiohttp.TCPConnector(local_addr=(local, 0), force_close=True)
    return aiohttp.ClientSession(
        base_url=ctl.controller.http_url, connector=connector, headers=headers
    )


async def _get(
    ctl: RunningController, path: str, local: str = "127.0.0.1", **headers: str
) -> tuple[int, Any]:
    async with _session(ctl, local, headers) as http, http.get(path) as resp:
        return resp.status, await resp.json()


async def _answered(
    ctl: RunningController, path: str, local: str, timeout: float = 3.0, **headers: str
) -> None:
    """Ask until the answer is 200: the server uncounts a connection when it has seen
    it close, a moment after the client closed it (polled, bounded)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                if (await _get(ctl, path, local, **headers))[0] == 200:
                    return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)


async def _until_closed(reader: asyncio.StreamReader, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection."""
    async with asyncio.timeout(timeout):
        try:
            return await reader.read()
        except ConnectionResetError:
            return b""


# ------------------------------------------------------------------ 9. slowloris


@pytest.mark.parametrize("kind", ["idle", "trickled_header", "half_body"])
async def test_slow_sockets_are_closed_within_the_timeout(
    edge_ctl: RunningController, kind: str
) -> None:
    loop = asyncio.get_running_loop()
    host, port = _host_port(edge_ctl)
    reader, writer = await asyncio.open_connection(host, port, local_addr=("127.0.0.21", 0))
    opened = loop.time()
    trickle: asyncio.Task[None] | None = None
    if kind == "trickled_header":

        async def drip() -> None:  # the attack's pace: a byte of header every 0.2 s
            writer.write(b"GET /api/health HTTP/1.1\r\nHost: tryggbo\r\nX-Slow: ")
            while True:
                writer.write(b"a")
                await writer.drain()
                await asyncio.sleep(0.2)

        trickle = asyncio.create_task(drip())
    elif kind == "half_body":
        writer.write(
            b"POST /api/auth/login HTTP/1.1\r\nHost: tryggbo\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            b'{"username": "te'
        )
        await writer.drain()
    try:
        answer = await _until_closed(reader, LIMITS.header_timeout_s + SLACK_S + 2)
    finally:
        if trickle is not None:
            trickle.cancel()
        writer.close()
    elapsed = loop.time() - opened
    timeout = LIMITS.body_timeout_s if kind == "half_body" else LIMITS.header_timeout_s
    assert timeout - 0.1 <= elapsed <= timeout + SLACK_S, elapsed
    if kind == "half_body":
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert b'"body_timeout"' in answer
    else:
        assert answer == b""


async def test_a_websocket_outlives_the_header_timeout(edge_ctl: RunningController) -> None:
    """The header timeout is about request heads: a live socket stays open."""
    host, port = _host_port(edge_ctl)
    headers = {"Authorization": f"Bearer {edge_ctl.token}"}
    async with _session(edge_ctl, "127.0.0.22", headers) as http, http.ws_connect("/api/ws") as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
        reader, writer = await asyncio.open_connection(host, port, local_addr=("127.0.0.22", 0))
        assert await _until_closed(reader, LIMITS.header_timeout_s + SLACK_S) == b""
        writer.close()
        # the idle socket is gone; the WebSocket opened before it still carries news
        status, _ = await _get(edge_ctl, "/api/health")
        assert status == 200
        async with (
            _session(edge_ctl, "127.0.0.22", headers) as other,
            other.post("/api/devices/a101-lock/commands", json={"action": "ping"}) as resp,
        ):
            assert resp.status == 504  # no devices here: no answer
        async with asyncio.timeout(5):
            while True:
                msg = await ws.receive_json()
                batch = msg["data"] if msg["type"] == "batch" else [msg]
                if any(m["type"] == "command" for m in batch):
                    break


# ------------------------------------------------------------- 9. socket caps


async def _page_sockets(
    stack: AsyncExitStack, ctl: RunningController, local: str, count: int, **headers: str
) -> None:
    """``count`` relatives' page sockets from ``local``: public, each its own
    connection, open (waiting for their hello) for 10 s."""
    for _ in range(count):
        http = await stack.enter_async_context(_session(ctl, local, headers))
        await stack.enter_async_context(http.ws_connect("/api/calls/ws"))


async def test_one_address_is_capped_while_another_still_connects(
    edge_ctl: RunningController,
) -> None:
    cap = LIMITS.max_sockets_per_address
    async with AsyncExitStack() as stack:
        await _page_sockets(stack, edge_ctl, "127.0.0.31", cap)
        with pytest.raises(aiohttp.ClientError):  # closed as it is accepted
            await _get(edge_ctl, "/api/health", "127.0.0.31")
        status, body = await _get(edge_ctl, "/api/health", "127.0.0.32")
        assert status == 200, body
    await _answered(edge_ctl, "/api/health", "127.0.0.31")  # the closed ones are uncounted


async def test_one_user_is_capped_while_another_still_connects(
    edge_ctl: RunningController,
) -> None:
    cap = LIMITS.max_sockets_per_user
    async with user_sessions(edge_ctl) as make, AsyncExitStack() as stack:
        tokens = {}
        for name in ("edge-nurse", "edge-other"):
            session = await make(name, ("staff",), units=("A",))
            tokens[name] = session.headers["Authorization"]
        sockets = []
        for n in range(cap):  # each from its own address: the user is what is counted
            http = await stack.enter_async_context(
                _session(edge_ctl, f"127.0.0.{41 + n}", {"Authorization": tokens["edge-nurse"]})
            )
            sockets.append(await stack.enter_async_context(http.ws_connect("/api/ws")))
        async with _session(
            edge_ctl, "127.0.0.49", {"Authorization": tokens["edge-nurse"]}
        ) as http:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect("/api/ws")
            assert refused.value.status == 429
            async with http.get("/api/devices") as resp:
                assert resp.status == 429
                assert (await resp.json())["error"]["code"] == "too_many_connections"
        async with (
            _session(edge_ctl, "127.0.0.49", {"Authorization": tokens["edge-other"]}) as http,
            http.get("/api/devices") as resp,
        ):
            assert resp.status == 200
        await sockets.pop().close()  # one closed: the user may open one again
        await _answered(edge_ctl, "/api/devices", "127.0.0.49", Authorization=tokens["edge-nurse"])


async def test_behind_the_proxy_each_forwarded_address_has_its_own_cap(
    edge_ctl: RunningController,
) -> None:
    cap = LIMITS.max_sockets_per_address
    async with AsyncExitStack() as stack:
        await _page_sockets(stack, edge_ctl, PROXY, cap, **{"X-Forwarded-For": "198.51.100.7"})
        async with _session(edge_ctl, PROXY, {"X-Forwarded-For": "198.51.100.7"}) as http:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect("/api/calls/ws")
            assert refused.value.status == 429
        status, _ = await _get(
            edge_ctl, "/api/health", PROXY, **{"X-Forwarded-For": "198.51.100.8"}
        )
        assert status == 200


# ----------------------------------------------------- 11. behind the reverse proxy


async def _invite(ctl: RunningController, apartment: str = "101") -> str:
    status, body = await ctl.call(
        "POST",
        "/api/calls/invitations",
        json={"apartment": apartment, "relative": "Rut", "valid_days": 1},
    )
    assert status == 201, body
    return str(body["link"].split("#t=", 1)[1])


def _guess(token: str) -> str:
    invitation_id, expires, _signature = token.split(".")
    return f"{invitation_id}.{expires}.{'A' * 43}"


async def _link(
    ctl: RunningController, token: str, local: str, forwarded_for: str | None = None
) -> tuple[int, Any]:
    headers = {"X-Invitation": token}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    async with _session(ctl, local, headers) as http, http.get("/api/calls/invitation") as resp:
        return resp.status, await resp.json()


async def test_throttles_behind_the_proxy_count_the_forwarded_client(
    edge_ctl: RunningController,
) -> None:
    invitations = edge_ctl.controller.invitations
    invitations.addresses = AddressThrottle()
    token = await _invite(edge_ctl)
    for _ in range(LINK_POLICY.ip_max_failures):
        status, body = await _link(edge_ctl, _guess(token), PROXY, "203.0.113.5, 198.51.100.20")
        assert status == 401, body
    status, body = await _link(edge_ctl, token, PROXY, "198.51.100.20")
    assert (status, body["error"]["code"]) == (429, "throttled")
    # another relative behind the same proxy is not throttled with the guesser
    status, body = await _link(edge_ctl, token, PROXY, "198.51.100.21")
    assert status == 200, body
    # from an address that is no proxy the header is ignored: no way out of a throttle
    for _ in range(LINK_POLICY.ip_max_failures):
        await _link(edge_ctl, _guess(token), "127.0.0.51")
    status, body = await _link(edge_ctl, token, "127.0.0.51", "198.51.100.22")
    assert (status, body["error"]["code"]) == (429, "throttled")
    _, activity = await edge_ctl.call("GET", "/api/activity", params={"action": "refused"})
    addresses = {r["details"].get("address") for r in activity["activity"]}
    assert {"198.51.100.20", "127.0.0.51"} <= addresses
    assert not addresses & {PROXY, "203.0.113.5", "198.51.100.22"}
    # the proxy's X-Forwarded-Proto: a sign-in over its HTTPS gets a Secure cookie
    login = {"username": "test-staff", "password": edge_ctl.passwords["test-staff"]}
    for proto, secure in (("https", True), ("http", False)):
        async with (
            _session(edge_ctl, PROXY, {"X-Forwarded-Proto": proto}) as http,
            http.post("/api/auth/login", json=login) as resp,
        ):
            assert resp.status == 200
            assert bool(resp.cookies["tryggbo_session"]["secure"]) is secure


# ---------------------------------------------------- 10. anonymous log flood


async def test_throttled_link_refusals_are_one_row_per_address_with_the_count(
    edge_ctl: RunningController,
) -> None:
    """20 refusals are written one by one, the 1,000 throttled ones after them as one
    row (written when the window ends, or when the daemon stops: done here)."""
    edge_ctl.controller.invitations.addresses = AddressThrottle()
    token = await _invite(edge_ctl)
    guessed, flood = _guess(token), 1000
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.61", 0), limit=4)
    async with aiohttp.ClientSession(
        base_url=edge_ctl.controller.http_url, connector=connector
    ) as http:

        async def refused() -> str:
            async with http.get("/api/calls/invitation", headers={"X-Invitation": guessed}) as r:
                return str((await r.json())["error"]["code"])

        codes = [await refused() for _ in range(LINK_POLICY.ip_max_failures)]
        codes += await asyncio.gather(*(refused() for _ in range(flood)))
    assert codes.count("invitation_invalid") == LINK_POLICY.ip_max_failures
    assert codes.count("throttled") == flood

    def rows(activity: dict[str, Any]) -> list[dict[str, Any]]:
        return [r for r in activity["activity"] if r["details"].get("address") == "127.0.0.61"]

    _, activity = await edge_ctl.call("GET", "/api/activity", params={"limit": "1000"})
    assert len(rows(activity)) == LINK_POLICY.ip_max_failures  # none per throttled refusal
    await edge_ctl.restart()  # a clean stop writes the open window's row
    await _without_keepalive(edge_ctl)
    _, activity = await edge_ctl.call("GET", "/api/activity", params={"limit": "1000"})
    written = rows(activity)
    assert len(written) == LINK_POLICY.ip_max_failures + 1
    summary = written[0]
    assert (summary["outcome"], summary["details"]["count"]) == ("throttled", flood)
    assert summary["subject"] == "GET /api/calls/invitation"


# ----------------------------------------------------------- 12. CSV export

ATTACK_REASON = "x;=cmd|' /C calc'!A0;"
FORMULA = re.compile(r"^\s*[=+\-@\uff1d\uff0b\uff0d\uff20]")


async def test_the_csv_export_has_no_formula_cell_whichever_separator_splits_it(
    edge_ctl: RunningController,
) -> None:
    for reason in (ATTACK_REASON, "ok,-2+3|=1\t@SUM(A1)"):
        status, body = await edge_ctl.command("a101-lock", "ping", reason=reason)
        assert status == 504, body  # no devices here: no answer, audited
    status, body = await edge_ctl.call(  # the relative's name goes to the activity log
        "POST",
        "/api/calls/invitations",
        json={"apartment": "101", "relative": 'Rut,"=HYPERLINK(""http://evil"")'},
    )
    assert status == 201, body
    async with edge_ctl.http.get("/api/audit/export.csv") as resp:
        assert resp.status == 200
        text = await resp.text()
    assert ATTACK_REASON.split(";")[1] in text  # the attack is in the file...
    for delimiter in (",", ";", "\t", "|"):  # ...but no spreadsheet runs it
        for row in csv.reader(io.StringIO(text), delimiter=delimiter):
            bad = [cell for cell in row if FORMULA.match(cell)]
            assert not bad, (delimiter, bad)
    for line in text.splitlines():  # even split by hand, ignoring the quotes
        for cell in re.split(r"[,;\t|]", line):
            assert not FORMULA.match(cell.strip('"')), (line, cell)
    reasons = [row[7] for row in csv.reader(io.StringIO(text))]
    assert "x;'=cmd|' /C calc'!A0;" in reasons  # quoted, one cell, readable


# ------------------------------------------------------- 15. tokens in URLs


async def test_a_token_in_the_websocket_url_is_refused(edge_ctl: RunningController) -> None:
    async with _session(edge_ctl, "127.0.0.81") as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"/api/ws?token={edge_ctl.token}")
        assert refused.value.status == 401
        headers = {"Authorization": f"Bearer {edge_ctl.token}"}
        async with http.ws_connect("/api/ws", headers=headers) as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "snapshot"


#: a token given a value in a query string (a mere mention, ``?token=`` in backticks,
#: is allowed)
TOKEN_IN_QUERY = re.compile(r"[?&](token|t|access_token)=[^`\s]", re.IGNORECASE)


def test_no_page_doc_or_banner_puts_a_token_in_a_query_string() -> None:
    """Pages, docs and the demo's code: a token goes in a header, a hello message or
    a URL fragment (``#token=``, never sent to a server), never in a query string.
    (docs/reliability.md records the attack, so it is not read.)"""
    root = Path(__file__).resolve().parents[2]
    files = [
        *root.glob("ui/static/*.js"),
        *root.glob("ui/*.html"),
        *root.glob("ui/static/*.html"),
        *(doc for doc in root.glob("docs/*.md") if doc.name != "reliability.md"),
        root / "README.md",
        root / "controller/ops/demo.py",
        root / "controller/cli/client.py",
    ]
    found = [
        f"{path.relative_to(root)}:{n}: {line.strip()}"
        for path in files
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if TOKEN_IN_QUERY.search(line)
    ]
    assert not found, "\n".join(found)
