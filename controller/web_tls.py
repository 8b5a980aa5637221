"""TLS for the web server (API, WebSocket, dashboard) from a certificate and key file.

Set ``TRYGGBO_TLS_CERT`` and ``TRYGGBO_TLS_KEY`` (PEM; the key readable by its owner
only) and ``tryggbo serve`` speaks HTTPS only, TLS 1.2 or newer. The demo stays plain
HTTP on loopback. Broker TLS is separate (config/mosquitto.py, devices/mqtt.py).
"""

from __future__ import annotations

import ssl
import stat
from pathlib import Path


class TlsConfigError(ValueError):
    """A certificate or key that cannot be used; the message says which and why."""


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """An SSL context serving ``cert`` with ``key``; TlsConfigError if unusable."""
    for label, path in (("certificate", cert), ("key", key)):
        if not path.is_file():
            raise TlsConfigError(f"TLS {label} {path} does not exist")
    if key.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TlsConfigError(f"TLS key {key} is readable by others: chmod 600 {key}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise TlsConfigError(f"cannot use TLS certificate {cert} with key {key}: {exc}") from None
    return context


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """The server context for the configured pair, None for plain HTTP (neither set)."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise TlsConfigError("web TLS needs both TRYGGBO_TLS_CERT and TRYGGBO_TLS_KEY")
    return server_context(cert, key)
