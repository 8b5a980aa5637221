"""A whole simulated home: one simulated device (own MQTT connection) per site device."""

from __future__ import annotations

import asyncio
import importlib
import random
from collections.abc import Collection, Mapping
from typing import Any

from config.credentials import DeviceCredentials, SiteCredentials
from config.site import Site
from devices.clock import Clock
from devices.contract import DEVICE_TYPES, DeviceType
from devices.mqtt import Brokers

from .base import SimulatedDevice


def _firmware_of(device_type: DeviceType) -> type[SimulatedDevice]:
    """The firmware class of a type: the one in ``devices/firmware/{type}.py``."""
    module = importlib.import_module(f"{__package__}.{device_type.value}")
    found = [
        cls
        for cls in vars(module).values()
        if isinstance(cls, type)
        and issubclass(cls, SimulatedDevice)
        and getattr(cls, "device_type", None) is device_type
    ]
    if len(found) != 1:
        raise TypeError(f"{module.__name__} must define one firmware for {device_type.value}")
    return found[0]


#: The firmware of each registered device type (``devices/firmware/{type}.py``).
FIRMWARE: Mapping[DeviceType, type[SimulatedDevice]] = {t: _firmware_of(t) for t in DEVICE_TYPES}


def make_device(
    device_type: DeviceType | str,
    site: str,
    device_id: str,
    broker: Brokers,
    credentials: DeviceCredentials,
    **options: Any,
) -> SimulatedDevice:
    """The simulated firmware for ``device_type``; ``options`` go to its constructor."""
    try:
        cls = FIRMWARE[DeviceType(device_type)]
    except (ValueError, KeyError):
        raise ValueError(f"no simulated firmware for device type {device_type!r}") from None
    return cls(site, device_id, broker, credentials, **options)


class SimulatedHome:
    """Every device of a site file, each with its own connection and credentials,
    except those in ``without``: devices something else runs under their login (a room
    screen whose kiosk page the daemon runs), which the broker would otherwise let the
    two take turns knocking each other off."""

    def __init__(
        self,
        site: Site,
        credentials: SiteCredentials,
        broker: Brokers,
        clock: Clock,
        *,
        heartbeat_s: float = 60.0,
        seed: int | None = None,
        without: Collection[str] = (),
    ) -> None:
        unknown = set(without) - {entry.id for _apartment, entry in site.devices()}
        if unknown:
            raise ValueError(f"not devices of site {site.slug}: {', '.join(sorted(unknown))}")
        rng = random.Random(seed)
        self.site = site
        self.devices: dict[str, SimulatedDevice] = {
            entry.id: make_device(
                entry.type,
                site.slug,
                entry.id,
                broker,
                credentials.device(entry.id),
                clock=clock,
                room=apartment.number,
                model=entry.model or "sim-1",
                heartbeat_s=heartbeat_s,
                rng=random.Random(rng.getrandbits(64)),
            )
            for apartment, entry in site.devices()
            if entry.id not in without
        }

    def __getitem__(self, device_id: str) -> SimulatedDevice:
        return self.devices[device_id]

    async def run(self) -> None:
        """Run every device until cancelled (each then publishes ``offline``)."""
        async with asyncio.TaskGroup() as tasks:
            for device_id, device in self.devices.items():
                tasks.create_task(device.run(), name=f"firmware-{device_id}")

    async def wait_all_online(self, timeout: float | None = 20.0) -> None:
        """Wait until every device is connected and announced."""
        async with asyncio.timeout(timeout):
            await asyncio.gather(*(d.wait_online(None) for d in self.devices.values()))
