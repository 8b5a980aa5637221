"""Brokers Tryggbo starts itself: a private Mosquitto child process, or an embedded one.

Production runs a system Mosquitto configured by ``config.mosquitto``. The demo and
the test suite start a *private* Mosquitto from the same renderer on a free loopback
port (so tests can stop, kill and restart it). When no ``mosquitto`` binary exists,
the demo falls back to amqtt in-process (MQTT 3.1.1, loopback only) with the same
logins and topic rules as the Mosquitto it stands in for.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from config.credentials import SiteCredentials, write_private
from config.mosquitto import BrokerFiles, render_acl, write_broker_files
from devices.mqtt import BrokerAddress

log = logging.getLogger(__name__)

MOSQUITTO_SEARCH = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


class BrokerStartError(RuntimeError):
    """A broker that would not start; the message says why (log tail included)."""


def find_mosquitto() -> str | None:
    """Path of the mosquitto binary, or None."""
    found = shutil.which("mosquitto")
    return found or next((p for p in MOSQUITTO_SEARCH if Path(p).exists()), None)


#: ports below Linux's ephemeral range (32768-60999 by default): the kernel never gives
#: one of these to an outgoing connection, so a port chosen here cannot be taken by a
#: client socket between the choice and the server's bind (bind(0) ports could)
_PORT_RANGE = (20000, 32767)
_given: set[int] = set()


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct TCP ports nobody listens on right now, none given before by
    this process (so two servers started one after the other never get the same one)."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            port = random.randint(*_PORT_RANGE)
            if port in _given:
                continue
            sock = socket.socket()
            try:
                sock.bind((host, port))
            except OSError:
                sock.close()
                continue
            held.append(sock)
            ports.append(port)
            _given.add(port)
    finally:
        for sock in held:
            sock.close()
    return ports


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (see :func:`free_ports`)."""
    return free_ports(1, host)[0]


def stop_process(
    proc: subprocess.Popen[bytes] | None, *, kill: bool = False, timeout: float = 10.0
) -> None:
    """End a server child: SIGTERM (a clean shutdown) or, with ``kill``, SIGKILL; SIGKILL
    after ``timeout`` if it does not go. Nothing for one already gone."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_listening(host: str, port: int, timeout: float) -> bool:
    """Block until something accepts TCP on host:port, or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return True
        time.sleep(0.02)
    return False


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the process that started us dies (Linux), so a
    private broker never outlives a killed demo or test run."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class MosquittoProcess:
    """A private Mosquitto for one site, from the site's rendered conf, passwd and ACL.

    The port is chosen once and kept across restarts, so clients can reconnect.
    """

    def __init__(
        self,
        credentials: SiteCredentials,
        directory: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        binary: str | None = None,
    ) -> None:
        self.credentials = credentials
        self.directory = directory
        self.host = host
        self.port = port or free_port(host)
        self.binary = binary or find_mosquitto()
        self._proc: subprocess.Popen[bytes] | None = None
        self.files: BrokerFiles | None = None

    @property
    def address(self) -> BrokerAddress:
        return BrokerAddress(self.host, self.port)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self, timeout: float = 10.0) -> None:
        """Write the config and start Mosquitto; return once it accepts connections."""
        if self.running:
            return
        if not self.binary:
            raise BrokerStartError(
                "mosquitto is not installed: apt-get install mosquitto (as root)"
            )
        self.files = write_broker_files(
            self.credentials, self.directory, port=self.port, host=self.host
        )
        if os.geteuid() == 0:
            # A private broker keeps our uid so it can read the 0600 files we wrote.
            with self.files.conf.open("a") as fh:
                fh.write("user root\n")
        self._proc = subprocess.Popen(
            [self.binary, "-c", str(self.files.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        if not wait_listening(self.host, self.port, timeout) or not self.running:
            tail = self.log_tail()
            self.stop(kill=True)
            raise BrokerStartError(f"mosquitto did not start on port {self.port}:\n{tail}")
        log.info("private mosquitto pid %s on %s", self._proc.pid, self.address.url)

    def stop(self, *, kill: bool = False, timeout: float = 10.0) -> None:
        """Stop gracefully (SIGTERM: persistence saved) or ``kill`` (SIGKILL)."""
        proc, self._proc = self._proc, None
        stop_process(proc, kill=kill, timeout=timeout)

    def restart(self, *, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()

    def log_tail(self, lines: int = 20) -> str:
        path = self.directory / "mosquitto.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def render_amqtt_passwd(creds: SiteCredentials) -> str:
    """amqtt's password file (``user:argon2 hash``) of the site's logins."""
    from argon2 import PasswordHasher

    # amqtt checks a password on its event loop at every connect: cheap argon2
    # parameters are enough for the generated 32-character random passwords.
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    logins = [*creds.controller_logins(), creds.fire_panel, *creds.devices.values()]
    return "".join(f"{login.username}:{hasher.hash(login.password)}\n" for login in logins)


def amqtt_acl(acl: str) -> dict[str, dict[str, list[str]]]:
    """Mosquitto's ACL file (config/mosquitto.py ``render_acl``) as rules per kind
    and login: ``write`` is publish, ``read`` is subscribe and receive, ``readwrite``
    all three."""
    rules: dict[str, dict[str, list[str]]] = {"publish": {}, "subscribe": {}, "receive": {}}
    user = ""
    for line in acl.splitlines():
        words = line.split()
        if words[:1] == ["user"] and len(words) == 2:
            user = words[1]
        elif words[:1] == ["topic"] and len(words) == 3 and user:
            access, topic = words[1], words[2]
            kinds = {
                "read": ("subscribe", "receive"),
                "write": ("publish",),
                "readwrite": ("publish", "subscribe", "receive"),
            }[access]
            for kind in kinds:
                rules[kind].setdefault(user, []).append(topic)
    return rules


class EmbeddedBroker:
    """amqtt in-process: the zero-setup demo's fallback when Mosquitto is missing.

    MQTT 3.1.1 only, no persistence: loopback demos only. Nobody connects without one
    of the site's logins (amqtt's file authentication, argon2 hashes written 0600 to
    ``directory``), and each login may publish, subscribe and receive only what
    Mosquitto's ACL allows it (:func:`amqtt_acl`, checked by
    :class:`controller.ops.embedded_acl.SiteAclBroker`).
    """

    def __init__(
        self,
        credentials: SiteCredentials,
        directory: Path,
        host: str = "127.0.0.1",
        port: int | None = None,
    ) -> None:
        self.credentials = credentials
        self.directory = directory
        self.host = host
        self.port = port or free_port(host)
        self._broker: Any = None

    @property
    def address(self) -> BrokerAddress:
        return BrokerAddress(self.host, self.port)

    async def start(self) -> None:
        from controller.ops.embedded_acl import (
            SiteAclBroker,  # imports amqtt: only the fallback needs it
        )

        passwd = self.directory / "amqtt-passwd"
        write_private(passwd, await asyncio.to_thread(render_amqtt_passwd, self.credentials))
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.FileAuthPlugin": {"password_file": str(passwd)},
            },
        }
        acl = amqtt_acl(render_acl(self.credentials))
        self._broker = SiteAclBroker(config, acl)
        await self._broker.start()
        ok = await asyncio.to_thread(wait_listening, self.host, self.port, 10.0)
        if not ok:
            raise BrokerStartError(f"embedded broker did not listen on {self.port}")
        log.info("embedded amqtt broker on %s", self.address.url)

    async def stop(self) -> None:
        if self._broker is not None:
            with contextlib.suppress(Exception):
                await self._broker.shutdown()
            self._broker = None
