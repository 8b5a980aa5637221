"""A NATS Server node's configuration for a site's clustered broker (config/nats.py) and
``tryggbo provision nats-config``: what nats-server itself accepts, routes to the other
nodes, and the site's logins with the rights of Mosquitto's ACL."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config.credentials import ensure_credentials
from config.nats import NodeAddress, render_users, subject, write_cluster_config
from config.site import EXAMPLE_SITE, load_site
from controller.cli.provision import provision_app
from tests.nats_cluster import find_nats_server

NODES = [
    "n1=10.0.0.1:1883:6222:8222",
    "n2=10.0.0.2:1883:6222:8222",
    "n3=10.0.0.3:1883:6222:8222",
]


def test_topics_map_to_subjects_word_for_word() -> None:
    assert subject("tryggbo/solgarden/dev/+/event") == "tryggbo.solgarden.dev.*.event"
    assert subject("tryggbo/solgarden/#") == "tryggbo.solgarden.>"


@pytest.mark.parametrize(
    "text",
    ["n1", "n1=host:1883:6222", "=h:1:2:3", "n 1=h:1:2:3", "n1=h:1:x:3", "n1=h:1:1:3", "n1=:1:2:3"],
)
def test_a_bad_node_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="node"):
        NodeAddress.parse(text)


def test_each_node_is_accepted_by_nats_server_and_routes_to_the_others(tmp_path: Path) -> None:
    binary = find_nats_server()
    if binary is None:
        pytest.fail("nats-server is not installed: run `make test` (it installs it)")
    creds = ensure_credentials(load_site(EXAMPLE_SITE), tmp_path / "credentials.json")
    nodes = [NodeAddress.parse(t) for t in NODES]
    files = write_cluster_config(creds, tmp_path / "nats", nodes)
    assert [f.name for f in files] == ["n1.conf", "n2.conf", "n3.conf"]
    for node, conf_file in zip(nodes, files, strict=True):
        assert stat.S_IMODE(conf_file.stat().st_mode) == 0o600  # it holds passwords
        checked = subprocess.run(
            [binary, "-t", "-c", str(conf_file)], capture_output=True, text=True, timeout=30
        )
        assert checked.returncode == 0, checked.stderr
        conf = json.loads(conf_file.read_text().split("\n", 1)[1])
        assert conf["server_name"] == node.name
        assert conf["mqtt"] == {**conf["mqtt"], "host": node.host, "port": node.mqtt_port}
        assert conf["mqtt"]["stream_replicas"] == 3
        others = {f"nats-route://{n.host}:{n.cluster_port}" for n in nodes if n != node}
        assert set(conf["cluster"]["routes"]) == others
        assert Path(conf["jetstream"]["store_dir"]).is_dir()


def test_logins_have_the_rights_of_mosquittos_acl(tmp_path: Path) -> None:
    creds = ensure_credentials(
        load_site(EXAMPLE_SITE), tmp_path / "credentials.json", controllers=("ctl-two",)
    )
    users = {u["user"]: u for u in render_users(creds)}
    assert set(users) == {
        *(c.username for c in creds.controller_logins()),
        creds.fire_panel.username,
        *(d.username for d in creds.devices.values()),
    }
    site = f"tryggbo.{creds.site}"
    for login in creds.controller_logins():
        rights = users[login.username]["permissions"]
        assert rights["publish"]["allow"] == [f"{site}.>"]
    lock = users[creds.device("a101-lock").username]
    own = f"{site}.dev.a101-lock"
    assert sorted(lock["permissions"]["publish"]["allow"]) == sorted(
        f"{own}.{ch}" for ch in ("meta", "availability", "state", "event", "ack")
    )
    reads = [f"{own}.cmd", f"{own}.schedule", f"{own}.confirm", f"{site}.fire"]
    reads += [f"{site}.controller.availability", "$MQTT.sub.>"]
    assert sorted(lock["permissions"]["subscribe"]["allow"]) == sorted(reads)
    assert all(u["allowed_connection_types"] == ["MQTT"] for u in users.values())


def test_provision_nats_config_writes_every_node_and_names_the_broker_list(
    tmp_path: Path,
) -> None:
    creds_file = tmp_path / "credentials.json"
    ensure_credentials(load_site(EXAMPLE_SITE), creds_file)
    args = ["--out", str(tmp_path / "nats"), "--credentials", str(creds_file), "--json"]
    for node in NODES:
        args += ["--node", node]
    result = CliRunner().invoke(provision_app, ["nats-config", *args])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["broker"] == "mqtt://10.0.0.1:1883,mqtt://10.0.0.2:1883,mqtt://10.0.0.3:1883"
    assert [Path(c).name for c in body["confs"]] == ["n1.conf", "n2.conf", "n3.conf"]
    refused = CliRunner().invoke(
        provision_app, ["nats-config", *args[:4], "--node", "n1=10.0.0.1:1883"]
    )
    assert refused.exit_code == 2
    assert "n1=10.0.0.1:1883" in refused.output
