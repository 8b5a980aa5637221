"""The web server's edges against a hostile client (issue 15, items 9 and 11).

- **Time.** A connection must send a whole request head within ``header_timeout_s``
  of opening or of its last answer, else it is closed (aiohttp's keep-alive timer,
  which also runs before the first request and is not moved by a trickle of bytes;
  a TLS handshake gets as long). A body must be whole ``body_timeout_s`` after its
  head, else 408 ``body_timeout`` and the connection is closed (:func:`body_deadline`).
- **Sockets.** At most ``max_sockets_per_address`` open connections per client
  address (more are closed as they are accepted) and ``max_sockets_per_user`` per
  signed-in user (429 ``too_many_connections``). A trusted proxy's connections are
  counted by the address it forwards, per request.
- **Client address.** ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed
  only from a trusted proxy (:func:`forwarded_client`): throttles then count the
  real client instead of the proxy everyone shares.
- **Accept errors** (out of file descriptors) are logged once, then counted
  (:class:`AcceptErrors`); asyncio logs a traceback for each, ~2,000 a second.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from ssl import SSLContext
from typing import Any, Literal

from aiohttp import web

from .auth import PRINCIPAL
from .errors import ApiError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Kind = Literal["address", "user"]
#: asyncio's message for a failed ``accept()`` (EMFILE, ENFILE, ENOBUFS, ENOMEM)
ACCEPT_MESSAGE = "socket.accept() out of system resource"
#: asyncio's pause before accepting again after such a failure (asyncio.constants)
ACCEPT_RETRY_DELAY_S = 1.0


@dataclass(frozen=True)
class EdgeLimits:
    """The settings of the edges (config/settings.py, docs/settings.md)."""

    header_timeout_s: float = 15.0
    body_timeout_s: float = 60.0
    max_sockets_per_address: int = 128
    max_sockets_per_user: int = 128
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()

    def trusted(self, address: str | None) -> bool:
        """True if ``address`` is one of the trusted reverse proxies."""
        ip = _ip(address)
        return ip is not None and any(ip in network for network in self.trusted_proxies)

    def cap(self, kind: Kind) -> int:
        return self.max_sockets_per_address if kind == "address" else self.max_sockets_per_user


def _ip(text: str | None) -> IPv4Address | IPv6Address | None:
    try:
        ip = ip_address((text or "").strip())
    except ValueError:
        return None
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def forwarded_client(forwarded_for: Iterable[str], limits: EdgeLimits) -> str | None:
    """The client a trusted proxy forwarded for: the right-most ``X-Forwarded-For``
    hop that is not itself a trusted proxy (hops left of it are the client's to
    forge). None if there is no usable hop."""
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            return None
        if not limits.trusted(str(ip)):
            return str(ip)
    return str(_ip(hops[0])) if hops and _ip(hops[0]) else None


class SocketCaps:
    """Open connections per client address and per user; a connection holds at most
    one claim of each kind (a proxy's connection moves to the client it now serves)."""

    def __init__(self, limits: EdgeLimits) -> None:
        self.limits = limits
        self._held: dict[object, dict[Kind, str]] = {}
        self._open: Counter[tuple[Kind, str]] = Counter()
        #: connections refused, by kind
        self.refused: Counter[Kind] = Counter()

    def claim(self, connection: object, kind: Kind, key: str) -> bool:
        """Count ``connection`` against ``key``; False (nothing counted) if over the cap."""
        held = self._held.setdefault(connection, {})
        if held.get(kind) == key:
            return True
        if self._open[(kind, key)] >= self.limits.cap(kind):
            self.refused[kind] += 1
            return False
        self._drop(kind, held.pop(kind, None))
        held[kind] = key
        self._open[(kind, key)] += 1
        return True

    def release(self, connection: object) -> None:
        """The connection is closed: its claims end."""
        for kind, key in self._held.pop(connection, {}).items():
            self._drop(kind, key)

    def open(self, kind: Kind, key: str) -> int:
        return self._open[(kind, key)]

    def _drop(self, kind: Kind, key: str | None) -> None:
        if key is None:
            return
        self._open[(kind, key)] -= 1
        if self._open[(kind, key)] <= 0:
            del self._open[(kind, key)]


class AcceptErrors:
    """Failed ``accept()`` calls: the first of an episode logged in one line, the rest
    counted (a summary every ``report_every_s``), the end of the episode logged with
    the count. Installed as the event loop's exception handler; other contexts go on
    to the handler that was there before."""

    def __init__(self, report_every_s: float = 60.0) -> None:
        self.report_every_s = report_every_s
        #: failed accepts of the current episode (0: accepting)
        self.failing = 0
        self.total = 0
        self._unreported = 0
        self._reported_at = self._failed_at = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: Any = None

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop, self._previous = loop, loop.get_exception_handler()
        loop.set_exception_handler(self._handle)

    def uninstall(self) -> None:
        if self._loop is not None and self._loop.get_exception_handler() == self._handle:
            self._loop.set_exception_handler(self._previous)
        self._loop = None

    def _handle(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != ACCEPT_MESSAGE:
            if self._previous is not None:
                self._previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        self.failed(context.get("exception"))

    def failed(self, exc: object) -> None:
        """One failed accept."""
        now = self._failed_at = time.monotonic()
        self.failing += 1
        self.total += 1
        if self.failing == 1:
            log.error(
                "HTTP server cannot accept connections: %s (open files limit %d); "
                "further accept errors are counted, not logged",
                exc,
                resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            )
            self._reported_at, self._unreported = now, 0
            return
        self._unreported += 1
        if now - self._reported_at >= self.report_every_s:
            log.error(
                "HTTP server still cannot accept connections: %d accept errors in the "
                "last %.0f s (%s)",
                self._unreported,
                now - self._reported_at,
                exc,
            )
            self._reported_at, self._unreported = now, 0

    def accepted(self) -> None:
        """A connection was handed over: ends an episode of failures, unless it came
        right after the last failure. asyncio accepts nothing for a second after one,
        so a connection handed over sooner (within milliseconds: accepted in the same
        pass, before the failure) does not show that accepting works again."""
        if self.failing and time.monotonic() - self._failed_at >= ACCEPT_RETRY_DELAY_S / 2:
            log.warning(
                "HTTP server accepts connections again, after %d accept errors", self.failing
            )
            self.failing = 0


class Edges:
    """The limits, the socket counts and the accept errors of one web server."""

    def __init__(self, limits: EdgeLimits) -> None:
        self.limits = limits
        self.caps = SocketCaps(limits)
        self.accept_errors = AcceptErrors()
        self._refusals_logged_at = 0.0
        self._refusals_unlogged = 0

    def runner(self, app: web.Application) -> web.AppRunner:
        """The app's runner: the header timeout is aiohttp's keep-alive timer; no
        lingering read of a body the handler left unread (the connection closes)."""
        return web.AppRunner(
            app,
            access_log=None,
            keepalive_timeout=self.limits.header_timeout_s,
            lingering_time=0,
        )

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        """A new connection: counted against its address, unless it is a trusted proxy
        (its requests are counted by the address they are for)."""
        self.accept_errors.accepted()
        peer = peer_address(transport)
        if self.limits.trusted(peer) or self.caps.claim(transport, "address", peer):
            return True
        self._note_refused("address", peer)
        return False

    def claim(self, request: web.Request, kind: Kind, key: str) -> None:
        """Count the request's connection against ``key``; over the cap: 429
        ``too_many_connections`` and the connection closes after the answer."""
        transport = request.transport
        if transport is None or self.caps.claim(transport, kind, key):
            return
        self._note_refused(kind, key)
        request.protocol.close()
        cap = self.limits.cap(kind)
        setting = f"http_max_sockets_per_{kind}"
        raise ApiError(
            429,
            "too_many_connections",
            f"this {kind} has {cap} connections open already ({setting}); close some",
            {"kind": kind, "limit": cap},
        )

    def _note_refused(self, kind: Kind, key: str) -> None:
        """A log line for the first refusal, then at most one a minute with the count."""
        now = time.monotonic()
        self._refusals_unlogged += 1
        if self._refusals_logged_at and now - self._refusals_logged_at < 60:
            return
        log.warning(
            "connections refused: %d since the last line (latest: %s %s over %d open; "
            "http_max_sockets_per_%s)",
            self._refusals_unlogged,
            kind,
            key,
            self.limits.cap(kind),
            kind,
        )
        self._refusals_logged_at, self._refusals_unlogged = now, 0


def peer_address(transport: asyncio.BaseTransport) -> str:
    """The TCP peer's address (the proxy's, behind a proxy)."""
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else ""


class _Gate(asyncio.Protocol):
    """Sits in front of aiohttp's handler: a connection over its address's cap is
    closed before aiohttp sees it, and every closed connection is uncounted."""

    def __init__(self, edges: Edges, handler: asyncio.Protocol) -> None:
        self._edges = edges
        self._handler: asyncio.Protocol | None = handler
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        if not self._edges.admit(transport):
            self._handler = None
            assert isinstance(transport, asyncio.Transport)
            transport.abort()
            return
        assert self._handler is not None
        self._handler.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._handler is not None:
            self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self._handler.eof_received() if self._handler is not None else None

    def pause_writing(self) -> None:
        if self._handler is not None:
            self._handler.pause_writing()

    def resume_writing(self) -> None:
        if self._handler is not None:
            self._handler.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._edges.caps.release(self._transport)
        if self._handler is not None:
            self._handler.connection_lost(exc)
            self._handler = None


class GuardedSite(web.BaseSite):
    """A TCP site whose connections pass :class:`Edges` first."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        edges: Edges,
        *,
        ssl_context: SSLContext | None = None,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context)
        self._host, self._port, self._edges = host, port, edges

    @property
    def name(self) -> str:
        return f"{'https' if self._ssl_context else 'http'}://{self._host}:{self.port}"

    @property
    def port(self) -> int:
        """The port listened on (the chosen one when 0 was asked for)."""
        sockets = getattr(self._server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else self._port

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        edges = self._edges
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _Gate(edges, server()),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            ssl_handshake_timeout=edges.limits.header_timeout_s if self._ssl_context else None,
        )


EDGES = web.AppKey("edges", Edges)


@web.middleware
async def client_address(request: web.Request, handler: Handler) -> web.StreamResponse:
    """From a trusted proxy: the request as from the client it forwards (address and
    scheme); from anyone else the forwarding headers are ignored."""
    edges = request.app[EDGES]
    if not edges.limits.trusted(request.remote):
        return await handler(request)
    changes: dict[str, Any] = {}
    client = forwarded_client(request.headers.getall("X-Forwarded-For", []), edges.limits)
    if client is not None:
        changes["remote"] = client
    scheme = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    if scheme in ("http", "https"):
        changes["scheme"] = scheme
    return await handler(request.clone(**changes) if changes else request)


@web.middleware
async def edges_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A proxied request counts against the client it is for; its body has a deadline."""
    edges = request.app[EDGES]
    transport = request.transport
    if transport is not None and edges.limits.trusted(peer_address(transport)):
        edges.claim(request, "address", request.remote or "")
    return await body_deadline(request, handler, edges.limits.body_timeout_s)


async def body_deadline(
    request: web.Request, handler: Handler, timeout_s: float
) -> web.StreamResponse:
    """Run ``handler``; a body not whole ``timeout_s`` after the head fails every read
    of it with 408 ``body_timeout`` (the error middleware answers it; the unread rest
    closes the connection)."""
    payload = request.content
    if not request.body_exists or payload.is_eof():
        return await handler(request)
    expired = ApiError(
        408,
        "body_timeout",
        f"the request body did not arrive within {timeout_s:g} s (http_body_timeout_s)",
    )
    timer = asyncio.get_running_loop().call_later(timeout_s, payload.set_exception, expired)
    payload.on_eof(timer.cancel)
    try:
        return await handler(request)
    finally:
        timer.cancel()


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft limit of open files to the hard one (systemd's default soft limit
    of 1,024 was what a thousand idle sockets exhausted); the (old, new) soft limits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return soft, hard
    return soft, soft


@web.middleware
async def user_sockets(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A signed-in caller's connection counts against its user."""
    principal = request.get(PRINCIPAL)
    if principal is not None:
        request.app[EDGES].claim(request, "user", principal.actor)
    return await handler(request)
