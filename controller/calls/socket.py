"""A WebSocket whose first message must be ``{"type": "hello", "token": ...}`` (the
credential stays out of URLs and logs), with an ordered, non-blocking outbox."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSMsgType, web

from devices.contract import ContractError
from devices.contract.codec import parse_json

from ..api.app import keep_socket
from ..api.responses import dumps

HELLO_TIMEOUT_S = 10.0
MAX_MESSAGE = 64 * 1024
OUTBOX_MAX = 1000


class PageSocket:
    """The server side of one page's socket."""

    def __init__(self) -> None:
        self.ws = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_MESSAGE)
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(OUTBOX_MAX)
        self._pump: asyncio.Task[None] | None = None
        self._closer: asyncio.Future[bool] | None = None

    async def open(self, request: web.Request) -> str | None:
        """Accept the socket and read the hello; its token, or None (closed)."""
        await self.ws.prepare(request)
        keep_socket(request, self.ws)
        self._pump = asyncio.create_task(self._send_all())
        try:
            async with asyncio.timeout(HELLO_TIMEOUT_S):
                msg = await self.ws.receive()
        except TimeoutError:
            await self.refuse("no_hello", "send hello with your credential first")
            return None
        data = _parse(msg)
        if not data or data.get("type") != "hello" or not isinstance(data.get("token"), str):
            await self.refuse("no_hello", "send hello with your credential first")
            return None
        return str(data["token"])

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message; a page too slow to take 1000 is cut off."""
        try:
            self._outbox.put_nowait(message)
        except asyncio.QueueFull:
            self._closer = asyncio.ensure_future(self.ws.close(code=1011, message=b"too slow"))

    async def _send_all(self) -> None:
        while True:
            message = await self._outbox.get()
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_str(dumps(message))

    async def refuse(self, code: str, message: str, **details: Any) -> None:
        """Say why (sent directly, after anything queued), then close."""
        await self._stop_pump()
        with contextlib.suppress(ConnectionError, RuntimeError):
            while not self._outbox.empty():
                await self.ws.send_str(dumps(self._outbox.get_nowait()))
            await self.ws.send_str(
                dumps({"type": "error", "code": code, "message": message, **details})
            )
        await self.ws.close(code=4001, message=code.encode()[:120])

    async def _stop_pump(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        """The page's JSON object messages (bad ones answered with an error)."""
        async for msg in self.ws:
            if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                break
            data = _parse(msg)
            if data is None or not isinstance(data.get("type"), str):
                self.send(
                    {"type": "error", "code": "bad_message", "message": "JSON object with type"}
                )
                continue
            yield data

    async def close(self) -> None:
        await self._stop_pump()
        await self.ws.close()


def _parse(msg: Any) -> dict[str, Any] | None:
    if msg.type != WSMsgType.TEXT:
        return None
    try:
        data = parse_json(msg.data)
    except ContractError:
        return None
    return data if isinstance(data, dict) else None
