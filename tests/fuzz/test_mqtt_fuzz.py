"""Fuzzing every topic the controller reads, with hypothesis.

1. Straight into ``DeviceReports`` (the controller's only MQTT handler), thousands of
   topic/payload pairs: random bytes, random JSON, and near-valid payloads built from
   each channel's real fields with random values. Nothing may raise, no twin may appear
   or change type, a twin's state is always a valid model of its type.
2. A sample of the same generated inputs through the real broker, each device's own
   login on its own topics, to the running controller: it stays healthy, the twins of
   devices nobody fuzzed are untouched, and commands still work.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.site import Site
from controller.daemon import Controller, ControllerConfig
from devices.contract import (
    Ack,
    Channel,
    Event,
    FireSignal,
    Meta,
    SiteTopics,
    spec_for,
)
from devices.mqtt import BrokerAddress
from tests.conftest import BrokerUnderTest
from tests.integration.harness import (
    RunningController,
    RunningHome,
    start_controller,
    start_home,
    wait_all_online,
)
from tests.reliability_fixtures import private_broker

#: What the controller subscribes to (controller/mqtt_link.py) and what it ignores.
READ_CHANNELS = [Channel.META, Channel.AVAILABILITY, Channel.STATE, Channel.EVENT, Channel.ACK]
SAMPLE: list[tuple[Channel, bytes]] = []  # part 1 fills it, part 2 replays it
SAMPLE_MAX = 240

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _fields(model: Any) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def near_valid(fields: list[str]) -> st.SearchStrategy[bytes]:
    """A JSON object with the channel's real field names and random values."""
    return st.dictionaries(st.sampled_from(fields), json_values, max_size=len(fields)).map(
        lambda d: json.dumps(d, allow_nan=True).encode()
    )


def payloads(fields: list[str]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=200),
        json_values.map(lambda v: json.dumps(v, allow_nan=True).encode()),
        near_valid(fields),
        st.sampled_from([b"", b"online", b"offline", b"null", b"{}", b"[]", b"\xff" * 20_000]),
    )


@pytest.fixture(scope="module")
def offline_controller(rel_broker_session: BrokerUnderTest, tmp_path_factory) -> Controller:
    """A wired controller that never runs: its handler is called directly."""
    b = rel_broker_session
    db = tmp_path_factory.mktemp("fuzz") / "never-opened.sqlite"
    return Controller(
        ControllerConfig(
            broker=BrokerAddress("127.0.0.1", 1),
            site=b.site,
            credentials=b.credentials,
            db_url=f"sqlite:///{db}",
        )
    )


def _inputs(site: Site) -> st.SearchStrategy[tuple[str, Channel | None, bytes]]:
    topics = SiteTopics(site.slug)
    devices = [d for _a, d in site.devices()]
    per_device = []
    for dev in devices[:9]:
        spec = spec_for(dev.type)
        fields = {
            Channel.STATE: _fields(spec.state_model),
            Channel.EVENT: [*_fields(Event), "reason", "target", "call_id"],
            Channel.META: _fields(Meta),
            Channel.ACK: _fields(Ack),
            Channel.AVAILABILITY: ["x"],
        }
        for channel in READ_CHANNELS:
            per_device.append(
                payloads(fields[channel]).map(
                    lambda p, d=dev.id, c=channel: (topics.device(d, c), c, p)
                )
            )
    odd_topics = st.sampled_from(
        [
            topics.device("a999-lock", Channel.STATE),  # not in the site file
            f"{topics.root}/dev/../state",
            "tryggbo/other-site/dev/a101-lock/state",
            f"{topics.root}/dev/a101-lock/unknown",
            f"{topics.root}/dev/a101-lock",
            topics.fire,
        ]
    )
    return st.one_of(
        *per_device,
        st.tuples(odd_topics, st.none(), payloads(_fields(FireSignal))),
        st.tuples(
            st.text(alphabet="abc/-_ 0123456789é", max_size=60).map(lambda t: f"{topics.root}/{t}"),
            st.none(),
            st.binary(max_size=50),
        ),
    )


def test_device_reports_survive_anything(offline_controller: Controller) -> None:
    ctl = offline_controller
    reports = ctl.reports
    ids = {t.id: t.type for t in ctl.twins.all()}

    @settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_inputs(ctl.site), st.booleans())
    def one(item: tuple[str, Channel | None, bytes], retain: bool) -> None:
        topic, channel, payload = item
        try:
            message = aiomqtt.Message(topic, payload, 1, retain, 1, None)
        except ValueError:
            return  # not a topic a broker would deliver
        before = reports.received
        reports(message)  # must never raise
        assert reports.received == before + 1
        assert {t.id: t.type for t in ctl.twins.all()} == ids
        for twin in ctl.twins.all():
            if twin.reported is not None:
                assert isinstance(twin.reported, spec_for(twin.type).state_model)
        assert reports.fire is None or reports.fire.state in ("alarm", "normal")
        if channel is not None and len(SAMPLE) < SAMPLE_MAX and len(payload) < 1000:
            SAMPLE.append((channel, payload))

    one()
    assert reports.dropped.total > 0


@pytest.fixture(scope="module")
async def own_home(
    example_site: Site, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[RunningController, RunningHome, BrokerUnderTest]]:
    """A broker, home and controller of this module alone: the twins nobody fuzzed must
    stay as they are, which no earlier test's leftovers (a curtain on its way, a lock's
    relock, a device's fallback routine) may change on a shared home."""
    directory = tmp_path_factory.mktemp("fuzz-home")
    async with private_broker(example_site, directory) as broker:
        home = await start_home(broker.address, broker.site, broker.credentials)
        try:
            running = await start_controller(
                broker.address, broker.site, broker.credentials, directory / "s.sqlite"
            )
            try:
                await wait_all_online(running.controller, timeout=30)
                yield running, home, broker
            finally:
                await running.stop()
        finally:
            await home.stop()


FUZZED = ["a101-lock", "a101-curtain", "a101-screen", "a102-lock", "a102-curtain", "a102-screen"]


async def test_fuzzed_traffic_through_the_broker_leaves_the_controller_working(
    own_home: tuple[RunningController, RunningHome, BrokerUnderTest],
) -> None:
    if not SAMPLE:
        pytest.skip("run with the in-process fuzz test first (it generates the corpus)")
    rel_ctl, rel_home, rel_broker = own_home
    ctl = rel_ctl.controller
    topics = SiteTopics(rel_broker.site.slug)
    untouched = {t.id: t.reported for t in ctl.twins.all() if t.id not in FUZZED}
    dropped_before = ctl.reports.dropped.total
    for i, (channel, payload) in enumerate(SAMPLE):  # each device's own connection
        device = FUZZED[i % len(FUZZED)]
        await rel_home.home[device].link.publish_raw(topics.device(device, channel), payload)
    # the fuzzed devices announce themselves again (as after a reconnect)
    for device in FUZZED:
        rel_home.home[device].link.drop()
    await wait_all_online(ctl, timeout=30)
    for device in FUZZED:
        real = rel_home.home[device].state
        await rel_ctl.wait_twin(device, lambda t, r=real: t.reported.boot == r.boot)
    assert not rel_ctl.task.done()
    assert ctl.reports.dropped.total > dropped_before
    assert {t.id: t.reported for t in ctl.twins.all() if t.id not in FUZZED} == untouched
    status, health = await rel_ctl.call("GET", "/api/health")
    assert status == 200, health
    status, body = await rel_ctl.command("a101-screen", "set_brightness", args={"brightness": 64})
    assert (status, body["outcome"]) == (200, "ok"), body
