"""A real 3-node NATS cluster for the scale-out tests (issue 16): three ``nats-server``
processes on free loopback ports, each with ``server_name``, ``jetstream {
store_dir }``, ``cluster { routes }``, ``mqtt { listen }`` and the site's logins
(config/nats.py), so retained messages and persistent MQTT sessions are replicated
(R3). A test may SIGKILL a node and start it again on the same ports. Fixtures
``nats_session`` and ``nats`` (registered from tests/conftest.py).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from config.credentials import MqttLogin, SiteCredentials, ensure_credentials
from config.nats import NodeAddress, write_cluster_config
from config.site import Site
from controller.ops.brokers import free_ports, stop_process, wait_listening
from devices.mqtt import BrokerAddress, BrokerList
from tests.conftest import TEST_CONTROLLERS

NATS_SEARCH = ("/usr/sbin/nats-server", "/usr/bin/nats-server")


def find_nats_server() -> str | None:
    """Path of the nats-server binary (Debian installs it in /usr/sbin), or None."""
    return shutil.which("nats-server") or next((p for p in NATS_SEARCH if Path(p).exists()), None)


class NatsNode:
    """One nats-server process of the cluster; its ports are kept across restarts."""

    def __init__(self, binary: str, address: NodeAddress, conf: Path) -> None:
        self.binary = binary
        self.address = address
        self.conf = conf
        self.log = conf.with_suffix(".log")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def broker(self) -> BrokerAddress:
        """Where an MQTT client reaches this node."""
        return BrokerAddress(self.address.host, self.address.mqtt_port)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 20.0) -> None:
        """Start the node; return once its MQTT listener accepts connections."""
        if self.running:
            return
        log = self.log.open("ab")
        self._proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf), "-l", str(self.log)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        host, port = self.address.host, self.address.mqtt_port
        if not wait_listening(host, port, timeout) or not self.running:
            tail = self.log_tail()
            self.stop(kill=True)
            raise RuntimeError(f"nats-server {self.address.name} did not start:\n{tail}")

    def healthy(self, *, streams: bool = True) -> bool:
        """The node's ``/healthz`` says it serves JetStream: it has a meta leader and,
        with ``streams``, its streams and consumers are current. (A node restarted
        after SIGKILL may report a stale session's consumer not current for minutes
        while it serves clients: wait for it with ``streams=False``.)"""
        query = "" if streams else "?js-server-only=true"
        url = f"http://{self.address.host}:{self.address.monitor_port}/healthz{query}"
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def wait_healthy(self, timeout: float = 30.0, *, streams: bool = True) -> None:
        """Block until :meth:`healthy`; RuntimeError with the log's tail if not in time."""
        deadline = time.monotonic() + timeout
        while not self.healthy(streams=streams):
            if time.monotonic() > deadline or not self.running:
                raise RuntimeError(
                    f"nats-server {self.address.name} not healthy:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def accepts(self, login: MqttLogin, timeout: float = 5.0) -> bool:
        """An MQTT client with ``login`` (clean session) is accepted within ``timeout``:
        a node restarted after SIGKILL answers /healthz before it serves sessions."""
        accepted = threading.Event()
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"ready-check-{self.address.name}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        client.username_pw_set(login.username, login.password)
        client.on_connect = lambda _c, _u, _f, code, _p: code.is_failure or accepted.set()
        try:
            client.connect(self.address.host, self.address.mqtt_port, keepalive=10)
        except OSError:
            return False
        client.loop_start()
        try:
            return accepted.wait(timeout)
        finally:
            client.disconnect()
            client.loop_stop()

    def wait_serving(self, login: MqttLogin, timeout: float = 60.0) -> None:
        """Block until :meth:`accepts`; RuntimeError with the log's tail if not in time."""
        deadline = time.monotonic() + timeout
        while not self.accepts(login):
            if time.monotonic() > deadline or not self.running:
                raise RuntimeError(
                    f"nats-server {self.address.name} serves no MQTT:\n{self.log_tail()}"
                )

    def stop(self, *, kill: bool = False, timeout: float = 10.0) -> None:
        """SIGTERM (a clean shutdown) or, with ``kill``, SIGKILL."""
        proc, self._proc = self._proc, None
        stop_process(proc, kill=kill, timeout=timeout)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class NatsCluster:
    """Three NATS nodes of one site's cluster on loopback."""

    def __init__(self, creds: SiteCredentials, directory: Path, size: int = 3) -> None:
        binary = find_nats_server()
        if binary is None:
            raise RuntimeError(
                "nats-server is not installed: run `make test` (it installs it) or "
                "apt-get install nats-server"
            )
        self.credentials = creds
        addresses = [NodeAddress(f"n{i + 1}", "127.0.0.1", *free_ports(3)) for i in range(size)]
        confs = write_cluster_config(creds, directory, addresses)  # as production's
        self.nodes = [
            NatsNode(binary, address, conf) for address, conf in zip(addresses, confs, strict=True)
        ]

    @property
    def brokers(self) -> list[BrokerAddress]:
        """The MQTT address of every node, in order (a client's failover list)."""
        return [n.broker for n in self.nodes]

    def start(self, timeout: float = 60.0) -> None:
        """Start every node that is not running (together: JetStream needs a quorum)
        and wait until each serves JetStream; a new cluster also until its streams
        are current, a restarted node until it accepts an MQTT client."""
        fresh = not any(node.running for node in self.nodes)
        restarted = [node for node in self.nodes if not node.running]
        for node in restarted:
            node.start(timeout)
        for node in self.nodes:
            node.wait_healthy(timeout, streams=fresh)
        for node in restarted:
            node.wait_serving(self.credentials.fire_panel, timeout)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def log_tails(self) -> str:
        return "\n".join(f"--- {n.address.name}\n{n.log_tail()}" for n in self.nodes)


@contextmanager
def nats_cluster(creds: SiteCredentials, directory: Path) -> Iterator[NatsCluster]:
    """A running 3-node cluster for the site of ``creds``; stopped afterwards."""
    cluster = NatsCluster(creds, directory)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@dataclass
class ClusterUnderTest:
    """The suite's NATS cluster plus the site and credentials it was configured for."""

    cluster: NatsCluster
    site: Site
    credentials: SiteCredentials

    @property
    def brokers(self) -> BrokerList:
        """Every node, in order: what a device or controller is configured with."""
        return BrokerList(tuple(self.cluster.brokers))

    @property
    def nodes(self) -> list[NatsNode]:
        return self.cluster.nodes

    def node_at(self, broker: BrokerAddress) -> NatsNode:
        """The node listening at ``broker``."""
        return next(n for n in self.nodes if n.broker == broker)


@pytest.fixture(scope="session")
def nats_session(
    tmp_path_factory: pytest.TempPathFactory, example_site: Site
) -> Iterator[ClusterUnderTest]:
    """A 3-node NATS cluster for the example site, for the whole session."""
    if find_nats_server() is None:
        pytest.fail(
            "nats-server is not installed: run `make test` (it installs it) or "
            "apt-get install nats-server"
        )
    root = tmp_path_factory.mktemp("nats")
    creds = ensure_credentials(
        example_site, root / "credentials.json", controllers=TEST_CONTROLLERS
    )
    with nats_cluster(creds, root) as cluster:
        yield ClusterUnderTest(cluster, example_site, creds)


@pytest.fixture
def nats(nats_session: ClusterUnderTest) -> Iterator[ClusterUnderTest]:
    """The session's cluster with every node running and healthy before and after the
    test (a test may kill nodes)."""
    nats_session.cluster.start()
    yield nats_session
    nats_session.cluster.start()
