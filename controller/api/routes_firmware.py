"""Firmware images: technicians upload them, devices download them.

``POST /api/firmware?type=&version=`` (admin, technician): the body is the image
(``application/octet-stream``, at most 64 MiB), stored by its SHA-256 in the
firmware directory (``TRYGGBO_FIRMWARE_DIR``, else ``firmware/`` beside a SQLite
store, else ``var/firmware``). ``GET /api/firmware`` lists them.
``GET /api/firmware/{sha256}`` is public: devices have no API login, the name is the
image's hash and the device checks it against the ``sha256`` of its (for locks
signed) ``update_firmware`` command, so a swapped file is never installed.
The push itself is an ordinary ``update_firmware`` command through
``POST /api/devices/{id}/commands`` (technicians may send it), see ``tryggbo firmware``.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from aiohttp import web
from pydantic import AfterValidator, Field

from devices.contract import ContractError, spec_for

from ..store import ActivityRecord
from .access import principal_of, public, requires
from .errors import ApiError
from .keys import CLOCK, FIRMWARE_DIR, STORE
from .queries import Query, read_query
from .responses import json_response

if TYPE_CHECKING:
    from ..daemon import ControllerConfig

MAX_IMAGE = 64 * 1024 * 1024
_SHA = re.compile(r"^[0-9a-f]{64}$")


def _registered(device_type: str) -> str:
    try:
        spec_for(device_type)
    except ContractError as exc:
        raise ValueError(exc.message) from None
    return device_type


class UploadQuery(Query):
    """``POST /api/firmware?type=&version=``: the image's device type and version."""

    type: Annotated[str, Field(max_length=32), AfterValidator(_registered)]
    #: 1-32 of 0-9 A-Z a-z . + -
    version: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,31}$")


def images_dir(config: ControllerConfig) -> Path:
    """Where the images are kept (set as :data:`~.keys.FIRMWARE_DIR` when the app is built)."""
    if config.firmware_dir is not None:  # the setting firmware_dir, TRYGGBO_FIRMWARE_DIR
        return config.firmware_dir
    db_url = config.db_url
    if db_url.startswith("sqlite:///"):
        return Path(db_url.removeprefix("sqlite:///")).parent / "firmware"
    return Path("var/firmware")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


@requires("admin", "technician")
async def upload(request: web.Request) -> web.Response:
    query = read_query(request, UploadQuery)
    device_type, version = query.type, query.version
    digest = hashlib.sha256()
    chunks = []
    size = 0
    async for chunk in request.content.iter_chunked(256 * 1024):
        size += len(chunk)
        if size > MAX_IMAGE:
            raise ApiError(413, "too_large", f"an image is at most {MAX_IMAGE} bytes")
        digest.update(chunk)
        chunks.append(chunk)
    if size == 0:
        raise ApiError(400, "empty", "the body must be the image")
    sha = digest.hexdigest()
    directory = request.app[FIRMWARE_DIR]
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"sha256": sha, "size": size, "type": device_type, "version": version}
    _write_atomic(directory / f"{sha}.bin", b"".join(chunks))
    _write_atomic(directory / f"{sha}.json", json.dumps(meta).encode())
    store = request.app[STORE]
    clock = request.app[CLOCK]
    await store.add_activity(
        ActivityRecord(
            ts=clock.now(),
            actor=principal_of(request).actor,
            action="firmware_upload",
            subject=sha,
            outcome="ok",
            details={"type": device_type, "version": version, "size": size},
        )
    )
    return json_response({**meta, "path": f"/api/firmware/{sha}"}, status=201)


@requires("admin", "technician")
async def list_images(request: web.Request) -> web.Response:
    directory = request.app[FIRMWARE_DIR]
    images = []
    if directory.is_dir():
        for meta in sorted(directory.glob("*.json")):
            try:
                images.append(json.loads(meta.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
    return json_response({"images": images})


@public
async def download(request: web.Request) -> web.StreamResponse:
    sha = request.match_info["sha256"]
    if not _SHA.match(sha):
        raise ApiError(404, "unknown_image", "no such image")
    path = request.app[FIRMWARE_DIR] / f"{sha}.bin"
    if not path.is_file():
        raise ApiError(404, "unknown_image", "no such image")
    return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})


def register(app: web.Application) -> None:
    app.router.add_post("/api/firmware", upload)
    app.router.add_get("/api/firmware", list_images)
    app.router.add_get("/api/firmware/{sha256}", download)
