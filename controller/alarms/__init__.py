"""Alarms: rules (what is an alarm), the service (raise, dedupe, escalate, store)."""

from .model import ACTION_FROM, DEVICE_KINDS, AlarmKind, AlarmState, alarm_json
from .service import AlarmService

__all__ = ["ACTION_FROM", "DEVICE_KINDS", "AlarmKind", "AlarmService", "AlarmState", "alarm_json"]
