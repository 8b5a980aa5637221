"""The CLI's one HTTP client of the daemon's API: where it is, the token, calls, the
live feed, and every API or network failure turned into one line and an exit code.

The API URL and token come from ``--api``/``--token``, else ``TRYGGBO_API`` and
``TRYGGBO_TOKEN``, else the CLI config file (``TRYGGBO_CLI_CONFIG`` or
``~/.config/tryggbo/cli.toml``, keys ``api`` and ``token``; keep it 0600).
``--url``/``TRYGGBO_URL`` (what ``tryggbo schedules`` once read) still work, with a
warning: they are deprecated.
"""

from __future__ import annotations

import asyncio
import json
import os
import tomllib
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import aiohttp
import typer

from controller.cli.exit_codes import ExitCode, for_http_status
from controller.cli.output import fail, warn

T = TypeVar("T")

DEFAULT_API = "http://127.0.0.1:8080"
DEFAULT_CONFIG = Path("~/.config/tryggbo/cli.toml")

ApiOption = Annotated[
    str | None, typer.Option("--api", help="daemon URL (env TRYGGBO_API)", show_default=False)
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", help="API token (env TRYGGBO_TOKEN)", show_default=False),
]
UrlOption = Annotated[
    str | None,
    typer.Option("--url", hidden=True, help="deprecated: use --api", show_default=False),
]


def deprecated_url(api: str | None, url: str | None) -> str | None:
    """``--api``, else the deprecated ``--url`` (with a warning)."""
    if url is not None:
        warn("--url is deprecated: use --api (or TRYGGBO_API)")
    return api if api is not None else url


def parse_args(pairs: list[str]) -> dict[str, Any]:
    """``["k=v", ...]`` to a dict; values are JSON when they parse (numbers, true,
    null, lists), strings otherwise. Exit 2 on a pair without ``=``."""
    args: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise fail(f"--arg {pair!r} must look like key=value")
        try:
            args[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            args[key.strip()] = raw
    return args


class ApiFailure(Exception):
    """An API answer that is not a success: status, error code and message."""

    def __init__(self, status: int, error: str, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.body = body

    def line(self) -> str:
        """The server's message on one line: its field problems, status and code."""
        problems = []
        details = self.body.get("error", {}).get("details") if isinstance(self.body, dict) else None
        for problem in details if isinstance(details, list) else []:
            if isinstance(problem, dict) and "field" in problem:
                problems.append(f"{problem['field']}: {problem.get('problem', '')}")
        text = f"{self}: {'; '.join(problems)}" if problems else str(self)
        return f"{' '.join(text.split())} ({self.status} {self.error})"

    def exit(self) -> typer.Exit:
        """Print :meth:`line`; the exit (:func:`for_http_status`) for the caller to raise."""
        return fail(self.line(), for_http_status(self.status))


@dataclass(frozen=True)
class ApiTarget:
    """Where the daemon is and the token to show it."""

    url: str
    token: str

    @classmethod
    def resolve(cls, api: str | None, token: str | None) -> ApiTarget:
        """The target from the options, else the environment, else the CLI config file;
        exit 2 with what is missing or malformed."""
        file_values: dict[str, Any] = {}
        path = Path(os.environ.get("TRYGGBO_CLI_CONFIG", str(DEFAULT_CONFIG))).expanduser()
        if path.exists():
            try:
                file_values = tomllib.loads(path.read_text(encoding="utf-8"))
                if path.stat().st_mode & 0o077:
                    warn(f"{path} holds a token; make it private: chmod 600")
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise fail(f"CLI config {path} cannot be read: {exc}") from None
        url = api or os.environ.get("TRYGGBO_API")
        if not url and os.environ.get("TRYGGBO_URL"):
            warn("TRYGGBO_URL is deprecated: use TRYGGBO_API")
            url = os.environ["TRYGGBO_URL"]
        url = url or file_values.get("api") or DEFAULT_API
        secret = token or os.environ.get("TRYGGBO_TOKEN") or file_values.get("token")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise fail(f"API URL {url!r} must start with http:// or https://")
        if not secret or not isinstance(secret, str):
            raise fail(
                'no API token: pass --token, set TRYGGBO_TOKEN, or put token = "..." in '
                f"{path} (make one with `tryggbo token create --user <technician>`)"
            )
        return cls(url.rstrip("/"), secret)

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[len("http") :] + "/api/ws"


class Api:
    """An open session to the daemon's API (use :func:`api_session`)."""

    def __init__(self, target: ApiTarget, http: aiohttp.ClientSession) -> None:
        self.target = target
        self.http = http

    async def call(
        self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201), **kwargs: Any
    ) -> Any:
        """JSON answer of ``method path``; :class:`ApiFailure` unless status in ``ok``."""
        async with self.http.request(method, self.target.url + path, **kwargs) as resp:
            try:
                body = await resp.json(content_type=None)
            except (json.JSONDecodeError, aiohttp.ContentTypeError):
                body = None
            if resp.status not in ok:
                detail = body.get("error") if isinstance(body, dict) else None
                if not isinstance(detail, dict):
                    detail = {}
                raise ApiFailure(
                    resp.status,
                    str(detail.get("code") or "http_error"),
                    str(detail.get("message") or resp.reason or ""),
                    body,
                )
            return body

    async def get(self, path: str, **params: Any) -> Any:
        """JSON answer of ``GET path?params`` (None values left out)."""
        clean = {k: str(v) for k, v in params.items() if v is not None}
        return await self.call("GET", path, params=clean)

    async def command(
        self,
        device: str,
        action: str,
        args: dict[str, Any],
        *,
        reason: str | None = None,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """Send a command and return its result (whatever the outcome)."""
        body: dict[str, Any] = {"action": action, "args": args}
        if reason:
            body["reason"] = reason
        if timeout_s is not None:
            body["timeout_s"] = timeout_s
        result: dict[str, Any] = await self.call(
            "POST", f"/api/devices/{device}/commands", json=body, ok=(200, 409, 504)
        )
        return result

    @asynccontextmanager
    async def live(self) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """The WebSocket feed: ``{"type", "data"}`` messages, the snapshot first."""
        async with self.http.ws_connect(self.target.ws_url, heartbeat=20) as ws:

            async def messages() -> AsyncIterator[dict[str, Any]]:
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        data = json.loads(msg.data)  # a burst comes as one batch
                        for one in data["data"] if data.get("type") == "batch" else [data]:
                            yield one
                    elif msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                        return

            yield messages()


@asynccontextmanager
async def api_session(target: ApiTarget) -> AsyncIterator[Api]:
    """An :class:`Api` with the token on every request."""
    headers = {"Authorization": f"Bearer {target.token}"}
    timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=None)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
        yield Api(target, http)


def run_api(api: str | None, token: str | None, work: Callable[[Api], Coroutine[Any, Any, T]]) -> T:
    """Resolve the target, open a session, run ``work``; every API and network error
    ends the command with one line on stderr and its :class:`ExitCode`."""
    target = ApiTarget.resolve(api, token)

    async def go() -> T:
        async with api_session(target) as session:
            return await work(session)

    try:
        return asyncio.run(go())
    except ApiFailure as exc:
        raise exc.exit() from None
    except aiohttp.WSServerHandshakeError as exc:
        code = for_http_status(exc.status)
        raise fail(f"live feed refused: {exc.message} ({exc.status})", code) from None
    except aiohttp.InvalidURL as exc:
        raise fail(f"API URL {target.url!r} is not a valid URL: {exc}") from None
    except (aiohttp.ClientConnectionError, OSError) as exc:
        message = str(exc) or type(exc).__name__
        raise fail(
            f"cannot reach the daemon at {target.url}: {message}", ExitCode.RUNTIME
        ) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        message = str(exc) or type(exc).__name__
        raise fail(f"the daemon at {target.url}: {message}", ExitCode.RUNTIME) from None
    except KeyboardInterrupt:
        raise typer.Exit(ExitCode.INTERRUPTED) from None
