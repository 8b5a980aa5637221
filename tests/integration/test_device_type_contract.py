"""The shared checks every registered device type gets (Home Assistant's
``help_test_*`` idea): for each module of devices/contract/types/, on a real Mosquitto
with the real controller and the type's simulated firmware, in one apartment holding
one device of every type: the firmware obeys the contract, the twin follows it, the
API and the CLI show it, the Home Assistant discovery validates, the dashboard draws
it in Chromium, and its labels exist in Swedish and English. A new type gets all of
this by registering."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from config.credentials import SiteCredentials, ensure_credentials
from config.site import EXAMPLE_SITE, Site, load_site
from controller.device_labels import LANGUAGES, labels_of, missing_labels
from controller.ha_bridge.discovery import (
    BadCommand,
    HaTopics,
    command_for,
    discovery_configs,
    state_messages,
)
from controller.ops.brokers import MosquittoProcess
from controller.twins import Twin
from devices.contract import DEVICE_TYPES, DeviceTypeSpec
from devices.contract.type_spec import COMMON_KNOBS
from devices.firmware import SimulatedDevice
from tests.cli.conftest import run_cli
from tests.ops.ha_schema import problems

from .harness import (
    TIMEOUT_MS,
    RunningController,
    RunningHome,
    sign_in,
    start_controller,
    start_home,
    wait_all_online,
)

TYPES = list(DEVICE_TYPES.values())
#: what a report changes by itself, whatever the device does
VOLATILE = {"seq", "ts", "boot", "uptime_s"}


def _site_text() -> str:
    every_type = ", ".join(f'"{spec.name}"' for spec in TYPES)
    return f"""\
[site]
slug = "typetest"
night_window = "00:00-00:00"

[[apartments]]
number = "101"
wing = "A"
resident = "Test Person"
devices = [{every_type}]
night_supervision = {{ basis = "consent", decided = 2020-01-01, review = 2099-01-01 }}
"""


@dataclass
class TypeHome:
    site: Site
    home: RunningHome
    ctl: RunningController

    def device(self, spec: DeviceTypeSpec) -> SimulatedDevice:
        entry = next(d for _a, d in self.site.devices() if d.type is spec.type)
        return self.home.home[entry.id]


@pytest.fixture(scope="module")
def type_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Any]]:
    root: Path = tmp_path_factory.mktemp("types")
    (root / "site.toml").write_text(_site_text(), encoding="utf-8")
    site = load_site(root / "site.toml")
    creds: SiteCredentials = ensure_credentials(site, root / "credentials.json")
    broker = MosquittoProcess(creds, root / "broker")
    broker.start()
    try:
        yield site, (broker, creds, root)
    finally:
        broker.stop()


@pytest.fixture(scope="module")
async def types_home(type_broker: tuple[Site, Any]) -> AsyncIterator[TypeHome]:
    site, (broker, creds, root) = type_broker
    home = await start_home(broker.address, site, creds)
    ctl = await start_controller(broker.address, site, creds, root / "store.sqlite")
    try:
        await wait_all_online(ctl.controller)
        yield TypeHome(site, home, ctl)
    finally:
        await ctl.stop()
        await home.stop()


def _own_fields(state: Any) -> dict[str, Any]:
    dumped = state if isinstance(state, dict) else state.model_dump(mode="json", by_alias=True)
    return {k: v for k, v in dumped.items() if k not in VOLATILE}


def _reports(fields: dict[str, Any]) -> Callable[[Twin], bool]:
    """A twin whose reported state has these type fields."""
    return lambda twin: twin.reported is not None and _own_fields(twin.reported) == fields


def _ids(spec: DeviceTypeSpec) -> str:
    return spec.name


@pytest.mark.parametrize("spec", TYPES, ids=_ids)
def test_the_example_home_has_it(spec: DeviceTypeSpec) -> None:
    """The demo shows every type: the example site has at least one device of it."""
    site = load_site(EXAMPLE_SITE)
    assert any(d.type is spec.type for _a, d in site.devices()), spec.name


@pytest.mark.parametrize("spec", TYPES, ids=_ids)
def test_its_labels_exist_in_both_languages(spec: DeviceTypeSpec) -> None:
    assert missing_labels(spec) == []
    texts = labels_of(spec.name)
    assert set(texts) == set(LANGUAGES)
    for key in spec.label_keys():
        # an empty text hides a value (a lock not held by fire); a name never is empty
        if key == "label" or key.startswith(("action_", "arg_", "alarm_", "field_")):
            assert all(texts[lang][key].strip() for lang in LANGUAGES), key


@pytest.mark.parametrize("spec", TYPES, ids=_ids)
async def test_firmware_obeys_the_contract_and_the_twin_follows(
    types_home: TypeHome, spec: DeviceTypeSpec
) -> None:
    ctl, device = types_home.ctl, types_home.device(spec)
    status, twin = await ctl.call("GET", f"/api/devices/{device.device_id}")
    assert (status, twin["type"], twin["availability"]) == (200, spec.name, "online"), twin
    assert spec.state_model.model_validate(twin["state"])  # the twin holds the type's state
    status, body = await ctl.command(device.device_id, "ping")
    assert (status, body["outcome"]) == (200, "ok"), body  # signed types are signed
    status, body = await ctl.command(device.device_id, "no_such_action")
    assert (status, body["error"]["code"]) == (400, "unknown_action"), body
    for knob, takes_value in spec.knobs.items():
        if knob in COMMON_KNOBS:
            continue
        result = getattr(device, knob)(*([50] if takes_value else []))
        if hasattr(result, "__await__"):
            await result
        await ctl.wait_twin(device.device_id, _reports(_own_fields(device.state)))


@pytest.mark.parametrize("spec", TYPES, ids=_ids)
async def test_the_api_and_the_cli_show_it(types_home: TypeHome, spec: DeviceTypeSpec) -> None:
    ctl, device = types_home.ctl, types_home.device(spec)
    status, body = await ctl.call("GET", "/api/device-types")
    assert status == 200
    described = next(t for t in body["types"] if t["type"] == spec.name)
    assert set(described["actions"]) == set(spec.actions)
    assert [f["name"] for f in described["fields"]] == [f.name for f in spec.fields]
    assert described["labels"] == labels_of(spec.name)
    result = await run_cli(
        "devices",
        "list",
        "--type",
        spec.name,
        "--json",
        "--api",
        ctl.controller.http_url,
        "--token",
        ctl.token,
    )
    assert result.code == 0, result.stderr
    assert [d["id"] for d in json.loads(result.stdout)] == [device.device_id]


@pytest.mark.parametrize("spec", TYPES, ids=_ids)
async def test_home_assistant_discovery_validates(
    types_home: TypeHome, spec: DeviceTypeSpec
) -> None:
    topics = HaTopics(types_home.site.slug)
    device = types_home.device(spec)
    configs = {
        topic: config
        for topic, config in discovery_configs(types_home.site, topics).items()
        if config.get("device", {}).get("model") == spec.name
    }
    assert len(configs) == len(spec.ha), configs.keys()
    published = state_messages(topics, device.device_id, spec.name, device.state)
    for topic, config in configs.items():
        component = topic.split("/")[1]
        assert problems(component, config) == [], (topic, config)
        if "state_topic" in config:
            assert config["state_topic"] in published, (config["state_topic"], published)
    for entity in spec.ha:
        for leaf in entity.commands:
            assert any(
                c.get("command_topic", "").endswith(f"/{entity.entity}/{leaf}")
                or c.get("set_position_topic", "").endswith(f"/{entity.entity}/{leaf}")
                for c in configs.values()
            ), (entity.entity, leaf)
            with pytest.raises(BadCommand):
                command_for(spec.name, entity.entity, leaf, "not-a-command")


@pytest.mark.parametrize("spec", TYPES, ids=_ids)
async def test_the_dashboard_draws_it(
    types_home: TypeHome, spec: DeviceTypeSpec, page: Any, artifacts: Path
) -> None:
    ctl, device = types_home.ctl, types_home.device(spec)
    await sign_in(page, ctl)
    where = f'[data-apartment="101"] dd.{spec.name}[data-device="{device.device_id}"]'
    state = device.state.model_dump(mode="json", by_alias=True)
    for field in spec.fields:  # each value as the device reports it, in a data attribute
        value = state[field.name]
        if not isinstance(value, (dict, list)):
            want = str(value).lower() if isinstance(value, bool) else str(value)
            where += f'[data-{field.name}="{"" if value is None else want}"]'
    cell = page.locator(where)
    await cell.wait_for(timeout=TIMEOUT_MS)
    sv = labels_of(spec.name)["sv"]
    text = await cell.inner_text()
    assert f"{spec.name}." not in text, text  # no label key shown instead of its text
    assert await page.locator(f'[data-apartment="101"] dt:text-is("{sv["label"]}")').count() == 1
    await page.click('[data-apartment="101"] .cell-link')
    await page.locator(f"#apt-{spec.name}").wait_for(timeout=TIMEOUT_MS)
    for control in spec.controls:
        button = page.locator(f"#btn-{control.action}")
        assert await button.inner_text() == sv[f"action_{control.action}"]
    await page.screenshot(path=str(artifacts / f"device-type-{spec.name}.png"), full_page=True)
