"""Simulated firmware for every device type, speaking the MQTT contract like real devices."""

from .base import CommandFailed, SimulatedDevice
from .curtain import SimulatedCurtain
from .faults import Faults
from .home import FIRMWARE, SimulatedHome, make_device
from .lock import SimulatedLock
from .screen import SimulatedScreen

__all__ = [
    "FIRMWARE",
    "CommandFailed",
    "Faults",
    "SimulatedCurtain",
    "SimulatedDevice",
    "SimulatedHome",
    "SimulatedLock",
    "SimulatedScreen",
    "make_device",
]
