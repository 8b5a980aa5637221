"""Home Assistant interop: MQTT discovery for the site's devices, state and
availability out, commands in, always through the command bus (see bridge.py)."""

from .bridge import HaBridge, HaBridgeConfig, HaOutcome
from .discovery import HaTopics, discovery_configs

__all__ = ["HaBridge", "HaBridgeConfig", "HaOutcome", "HaTopics", "discovery_configs"]
