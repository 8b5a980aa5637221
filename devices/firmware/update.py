"""Firmware updates of the simulated devices: download, check, reboot, roll back.

``update_firmware`` carries ``url``, ``size``, ``sha256`` and ``version``. The device
downloads the image over HTTP (at most ``size`` bytes), checks size and SHA-256, and
only then acks ``ok`` and reboots into it. A failed download or check acks
``failed`` with ``update_failed`` (the running version is untouched). An image that
passes the checks but does not boot (its header is not a valid image for this type
and version) rolls back: the device reboots into the old version and reports
``update_failed`` with ``error: boot_failed``. A good boot reports ``updated``.

Simulated image format: the first line is ``TRYGGBO-FW1 <type> <version>``, the rest
is opaque. :func:`make_image` builds one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import aiohttp

IMAGE_MAGIC = b"TRYGGBO-FW1"
DOWNLOAD_TIMEOUT_S = 60.0


class UpdateError(Exception):
    """The update cannot go on; ``code`` is the ``error`` reported."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True)
class Image:
    data: bytes
    version: str


def make_image(device_type: str, version: str, body: bytes = b"\0" * 1024) -> bytes:
    """A bootable simulated image for ``device_type`` at ``version``."""
    return IMAGE_MAGIC + f" {device_type} {version}\n".encode() + body


async def download(url: str, size: int, sha256: str) -> bytes:
    """Fetch the image and check its size and SHA-256 (:class:`UpdateError` if not)."""
    timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(url) as resp,
        ):
            if resp.status != 200:
                raise UpdateError("download_failed", f"HTTP {resp.status} from {url}")
            data = await resp.content.read(size + 1)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise UpdateError("download_failed", str(exc) or type(exc).__name__) from None
    if len(data) != size:
        raise UpdateError("bad_size", f"got {len(data)} bytes or more, expected {size}")
    if hashlib.sha256(data).hexdigest() != sha256:
        raise UpdateError("bad_sha256", "the image's SHA-256 does not match")
    return data


def boots(data: bytes, device_type: str, version: str) -> bool:
    """Would this image boot on a ``device_type``: a valid header for it and ``version``."""
    header, _, _ = data.partition(b"\n")
    return header == IMAGE_MAGIC + f" {device_type} {version}".encode()
