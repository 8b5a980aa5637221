"""The web server over TLS with a certificate from the configuration (a self-signed one
made here with the openssl CLI); plain HTTP is not served on that port; a key readable
by others is refused."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import ssl
import subprocess
from pathlib import Path

import aiohttp
import pytest

from controller.daemon import Controller, ControllerConfig
from controller.ops.brokers import free_port
from controller.web_tls import TlsConfigError, tls_context
from devices.mqtt import BrokerAddress
from tests.conftest import BrokerUnderTest


def _self_signed(directory: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.fail("the openssl CLI is missing (apt-get install openssl)")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    os.chmod(key, 0o600)
    return cert, key


async def test_web_server_speaks_tls_only(
    rel_broker_session: BrokerUnderTest, tmp_path: Path
) -> None:
    cert, key = _self_signed(tmp_path)
    b = rel_broker_session
    # no broker on this port: the web server does not need one to answer /api/health
    controller = Controller(
        ControllerConfig(
            broker=BrokerAddress("127.0.0.1", free_port()),
            site=b.site,
            credentials=b.credentials,
            db_url=f"sqlite:///{tmp_path / 'tls.sqlite'}",
            http_port=0,
            tls_cert=cert,
            tls_key=key,
        )
    )
    task = asyncio.create_task(controller.run())
    try:
        async with asyncio.timeout(15):
            await controller.ready.wait()
        assert controller.http_url.startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cafile=str(cert))
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{controller.http_url}/api/health", ssl=trust) as resp,
        ):
            assert resp.status == 503  # it answers (failing: no broker), over TLS
            assert (await resp.json())["broker"]["connected"] is False
            assert resp.headers.get("Content-Type", "").startswith("application/json")
        plain = controller.http_url.replace("https://", "http://")
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ClientError):
                async with http.get(f"{plain}/api/health") as resp:
                    await resp.read()
        untrusted = ssl.create_default_context()  # the system CAs do not know this cert
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                async with http.get(f"{controller.http_url}/api/health", ssl=untrusted):
                    pass
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_bad_tls_configuration_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    assert tls_context(None, None) is None
    with pytest.raises(TlsConfigError, match="both"):
        tls_context(cert, None)
    os.chmod(key, 0o644)
    with pytest.raises(TlsConfigError, match="chmod 600"):
        tls_context(cert, key)
    os.chmod(key, 0o600)
    with pytest.raises(TlsConfigError, match="does not exist"):
        tls_context(tmp_path / "missing.pem", key)
    with pytest.raises(TlsConfigError, match="cannot use"):
        tls_context(key, key)  # a key is not a certificate
