"""``tryggbo firmware push|list``: upload an image to the daemon, have devices fetch it.

A push to one device, or a rollout to every device of a type in waves: the first
wave is one device (a canary), later waves ``--wave`` devices at once; the rollout
stops after the first wave with a failure. A device succeeds when it reports the new
version (twin firmware), fails when it refuses the command or reports
``update_failed`` (it rolled back: its version is unchanged).
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from controller.cli.client import Api, ApiOption, TokenOption, run_api
from controller.cli.devices import TYPE_NAMES
from controller.cli.exit_codes import ExitCode, help_text
from controller.cli.output import JsonOption, err, fail, out, print_json

firmware_app = typer.Typer(help=f"Firmware images and updates. {help_text()}", no_args_is_help=True)


class Watcher:
    """Live twin and event messages per device, from one WebSocket feed."""

    def __init__(self) -> None:
        self.firmware: dict[str, str | None] = {}
        self.failed: dict[str, str] = {}
        self.changed = asyncio.Event()

    async def follow(self, feed: Any) -> None:
        async for msg in feed:
            data = msg.get("data") or {}
            if msg["type"] == "snapshot":
                for d in data.get("devices", []):
                    self.firmware[d["id"]] = d.get("firmware")
            elif msg["type"] == "twin":
                self.firmware[data["id"]] = data.get("firmware")
            elif msg["type"] == "event" and data.get("type") == "update_failed":
                details = data.get("details") or {}
                self.failed[data["device"]] = str(details.get("error") or "update_failed")
            else:
                continue
            self.changed.set()

    async def wait(self, device: str, version: str, timeout: float) -> str | None:
        """None when ``device`` runs ``version``; else the error."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    if device in self.failed:
                        return self.failed[device]
                    if self.firmware.get(device) == version:
                        return None
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            return "timeout"


async def _update_one(
    api: Api, watcher: Watcher, device: str, args: dict[str, Any], timeout: float
) -> dict[str, Any]:
    watcher.failed.pop(device, None)
    before = watcher.firmware.get(device)
    # The device downloads and checks the image before it acks: give it the longest wait.
    result = await api.command(
        device, "update_firmware", args, reason="firmware push", timeout_s=60
    )
    if result["outcome"] != "ok":
        error = result.get("error") or result["outcome"]
        return {"device": device, "ok": False, "error": error, "firmware": before}
    error = await watcher.wait(device, args["version"], timeout)
    return {
        "device": device,
        "ok": error is None,
        "error": error,
        "firmware": watcher.firmware.get(device),
    }


def waves(devices: list[str], size: int) -> list[list[str]]:
    """A canary of one, then waves of ``size``."""
    if not devices:
        return []
    rest = devices[1:]
    return [devices[:1]] + [rest[i : i + size] for i in range(0, len(rest), size)]


@firmware_app.command("push")
def firmware_push(
    version: Annotated[str, typer.Option(help="the image's version")],
    file: Annotated[Path, typer.Option("--file", help="the image file")],
    device: Annotated[str | None, typer.Option(help="update this one device")] = None,
    type_: Annotated[
        str | None, typer.Option("--type", help="update every device of this type")
    ] = None,
    wave: Annotated[
        int, typer.Option(min=1, max=100, help="devices per wave after the canary")
    ] = 5,
    timeout: Annotated[
        float, typer.Option(min=1, max=3600, help="seconds per device to report the version")
    ] = 120.0,
    image_base: Annotated[
        str | None,
        typer.Option(help="URL devices fetch images from (default: the --api URL)"),
    ] = None,
    json_out: JsonOption = False,
    api: ApiOption = None,
    token: TokenOption = None,
) -> None:
    """Upload IMAGE and update --device D or every device of --type T (exit 3 if any
    device failed; a rollout stops after the first wave with a failure)."""
    if (device is None) == (type_ is None):
        raise fail("give exactly one of --device and --type")
    if type_ is not None and type_ not in TYPE_NAMES:
        raise fail(f"--type must be one of {', '.join(TYPE_NAMES)}")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc}") from None
    if not data:
        raise fail(f"{file} is empty")
    sha = hashlib.sha256(data).hexdigest()

    async def push(session: Api) -> list[dict[str, Any]]:
        if device is not None:
            twin = await session.get(f"/api/devices/{device}")
            targets, kind = [device], twin["type"]
        else:
            listed = await session.get("/api/devices", type=type_)
            targets, kind = sorted(d["id"] for d in listed["devices"]), str(type_)
        uploaded = await session.call(
            "POST",
            "/api/firmware",
            params={"type": kind, "version": version},
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        base = (image_base or session.target.url).rstrip("/")
        args = {
            "version": version,
            "sha256": sha,
            "size": len(data),
            "url": base + uploaded["path"],
        }
        results: list[dict[str, Any]] = []
        watcher = Watcher()
        async with session.live() as feed:
            follower = asyncio.create_task(watcher.follow(feed))
            try:
                with Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    console=err,
                    disable=json_out,
                ) as progress:
                    bar = progress.add_task(f"firmware {version}", total=len(targets))
                    for group in waves(targets, wave):
                        done = await asyncio.gather(
                            *(_update_one(session, watcher, d, args, timeout) for d in group)
                        )
                        results.extend(done)
                        progress.advance(bar, len(group))
                        if not all(r["ok"] for r in done):
                            break
            finally:
                follower.cancel()
        skipped = [d for d in targets if d not in {r["device"] for r in results}]
        results += [
            {"device": d, "ok": False, "error": "skipped", "firmware": None} for d in skipped
        ]
        return results

    results = run_api(api, token, push)
    if json_out:
        print_json({"version": version, "sha256": sha, "size": len(data), "devices": results})
    else:
        table = Table("device", "result", "firmware now")
        for r in results:
            mark = "[green]updated[/]" if r["ok"] else f"[red]{r['error']}[/]"
            table.add_row(r["device"], mark, str(r.get("firmware") or ""))
        out.print(table)
    if not all(r["ok"] for r in results):
        raise typer.Exit(ExitCode.DEVICE)


@firmware_app.command("list")
def firmware_list(
    json_out: JsonOption = False, api: ApiOption = None, token: TokenOption = None
) -> None:
    """Images uploaded to the daemon."""
    body = run_api(api, token, lambda a: a.get("/api/firmware"))
    if json_out:
        print_json(body["images"])
        return
    table = Table("type", "version", "size", "sha256")
    for i in body["images"]:
        table.add_row(i["type"], i["version"], str(i["size"]), i["sha256"][:16])
    out.print(table)
