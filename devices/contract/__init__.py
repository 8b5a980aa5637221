"""The Tryggbo MQTT contract v1: topics, payload models, signatures, codec.

Firmware, controller, CLI and tests spell topics and payloads only through this package.
"""

from .admission import MessageAdmission, Refusal, refusal_of
from .codec import decode, decode_availability, decode_object, decode_state, encode
from .device_types import DEVICE_TYPES, SAFETY_EVENTS, Args, DeviceTypeSpec, spec_for
from .errors import ContractError
from .names import (
    DEVICE_PUBLISHES,
    Channel,
    DeviceId,
    ParsedTopic,
    SiteId,
    SiteTopics,
    TopicKind,
    check_device,
    check_site,
    parse_topic,
)
from .payloads import (
    CONTRACT_VERSION,
    MAX_PAYLOAD_BYTES,
    Ack,
    AckStatus,
    AnyState,
    Availability,
    BaseState,
    Command,
    DeviceSchedule,
    DeviceType,
    Event,
    FallbackEntry,
    FireSignal,
    HelpConfirmed,
    Meta,
    new_command,
)
from .signing import canonical_json, sign_command, signing_body, verify_command
from .types.curtain import CurtainState
from .types.lock import LockState
from .types.screen import ScreenMessage, ScreenState

__all__ = [
    "CONTRACT_VERSION",
    "DEVICE_PUBLISHES",
    "DEVICE_TYPES",
    "MAX_PAYLOAD_BYTES",
    "SAFETY_EVENTS",
    "Ack",
    "AckStatus",
    "AnyState",
    "Args",
    "Availability",
    "BaseState",
    "Channel",
    "Command",
    "ContractError",
    "CurtainState",
    "DeviceId",
    "DeviceSchedule",
    "DeviceType",
    "DeviceTypeSpec",
    "Event",
    "FallbackEntry",
    "FireSignal",
    "HelpConfirmed",
    "LockState",
    "MessageAdmission",
    "Meta",
    "ParsedTopic",
    "Refusal",
    "ScreenMessage",
    "ScreenState",
    "SiteId",
    "SiteTopics",
    "TopicKind",
    "canonical_json",
    "check_device",
    "check_site",
    "decode",
    "decode_availability",
    "decode_object",
    "decode_state",
    "encode",
    "new_command",
    "parse_topic",
    "refusal_of",
    "sign_command",
    "signing_body",
    "spec_for",
    "verify_command",
]
