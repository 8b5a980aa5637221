"""Metrics that the integration test cannot move without disturbing the shared
controller: open alarms, schedule firings and misses (real Controller, real store,
real bus messages of the shapes the alarm service and the scheduler publish)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from config.site import Site
from controller.bus_messages import DeviceEvent
from controller.daemon import Controller, ControllerConfig
from devices.clock import ManualClock
from devices.mqtt import BrokerAddress
from scheduler.firings import FiringReport

from .records import NOW


def samples(ctl: Controller) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = ctl.metrics.render().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_open_alarms_and_schedule_firings_are_counted(
    tmp_path: Path, example_site: Site
) -> None:
    ctl = Controller(
        ControllerConfig(
            broker=BrokerAddress.parse("mqtt://127.0.0.1:1"),
            site=example_site,
            credentials=None,
            db_url=f"sqlite:///{tmp_path / 'm.sqlite'}",
        ),
        clock=ManualClock(NOW),
    )
    await ctl.store.open()
    try:
        before = samples(ctl)
        assert not [k for k in before if k[0] == "tryggbo_alarms_open"]
        assert before[("tryggbo_devices", (("state", "unknown"), ("type", "lock")))] == 24
        await ctl.alarms.handle(DeviceEvent(NOW, "a101-screen", "help_pressed", {}))
        for outcome in ("ok", "missed", "ok"):
            ctl.bus.publish(FiringReport("s1", NOW, NOW, outcome, {}))
        after = samples(ctl)
        assert after[("tryggbo_alarms_open", (("kind", "help"), ("state", "open")))] == 1
        assert after[("tryggbo_schedule_firings_total", (("outcome", "ok"),))] == 2
        assert after[("tryggbo_schedule_firings_total", (("outcome", "missed"),))] == 1
        assert after[("tryggbo_schedule_misses_total", ())] == 1
        assert after[("tryggbo_mqtt_connected", ())] == 0
    finally:
        await ctl.store.close()
