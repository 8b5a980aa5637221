"""Site and device names, and every MQTT topic of the contract.

Nothing outside this module spells a topic by hand: builders make topics from
validated names, :func:`parse_topic` turns a received topic back into parts.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints

from .errors import ContractError

ROOT = "tryggbo"
SITE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"
DEVICE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
_SITE_RE = re.compile(SITE_PATTERN)
_DEVICE_RE = re.compile(DEVICE_PATTERN)

SiteId = Annotated[str, StringConstraints(pattern=SITE_PATTERN)]
DeviceId = Annotated[str, StringConstraints(pattern=DEVICE_PATTERN)]


class Channel(StrEnum):
    """The per-device topics under ``tryggbo/{site}/dev/{device}/``."""

    META = "meta"
    AVAILABILITY = "availability"
    STATE = "state"
    EVENT = "event"
    CMD = "cmd"
    ACK = "ack"
    SCHEDULE = "schedule"
    #: the controller confirms a screen's help press once its alarm is stored
    CONFIRM = "confirm"


#: Channels a device publishes (the rest it only reads).
DEVICE_PUBLISHES = frozenset(
    {Channel.META, Channel.AVAILABILITY, Channel.STATE, Channel.EVENT, Channel.ACK}
)


def check_site(site: str) -> str:
    """Return ``site`` if it is a valid site slug, else raise :class:`ContractError`."""
    if not isinstance(site, str) or not _SITE_RE.match(site):
        raise ContractError("bad_name", f"site {site!r} must match {SITE_PATTERN}")
    return site


def check_device(device: str) -> str:
    """Return ``device`` if it is a valid device id, else raise :class:`ContractError`."""
    if not isinstance(device, str) or not _DEVICE_RE.match(device):
        raise ContractError("bad_name", f"device {device!r} must match {DEVICE_PATTERN}")
    return device


@dataclass(frozen=True, slots=True)
class SiteTopics:
    """Topic builder for one site; validates the slug once, on construction."""

    site: str

    def __post_init__(self) -> None:
        check_site(self.site)

    @property
    def root(self) -> str:
        return f"{ROOT}/{self.site}"

    def device(self, device: str, channel: Channel) -> str:
        """``tryggbo/{site}/dev/{device}/{channel}``."""
        return f"{self.root}/dev/{check_device(device)}/{Channel(channel).value}"

    def device_prefix(self, device: str) -> str:
        """``tryggbo/{site}/dev/{device}/`` - everything a device may publish under."""
        return f"{self.root}/dev/{check_device(device)}/"

    def all_devices(self, channel: Channel | None = None) -> str:
        """Wildcard for one channel of every device (or every channel)."""
        return f"{self.root}/dev/+/{Channel(channel).value}" if channel else f"{self.root}/dev/#"

    @property
    def fire(self) -> str:
        """The site's fire-alarm topic (retained, read by every lock)."""
        return f"{self.root}/fire"

    @property
    def controller_availability(self) -> str:
        return f"{self.root}/controller/availability"


class TopicKind(StrEnum):
    DEVICE = "device"
    FIRE = "fire"
    CONTROLLER_AVAILABILITY = "controller_availability"


@dataclass(frozen=True, slots=True)
class ParsedTopic:
    """A received topic split into its parts."""

    site: str
    kind: TopicKind
    device: str | None = None
    channel: Channel | None = None


#: Topics parse_topic keeps parsed; past this many the cache starts again.
TOPIC_CACHE_SIZE = 1 << 16
_parsed: dict[str, ParsedTopic] = {}


def parse_topic(topic: str) -> ParsedTopic:
    """Split a contract topic into site, kind, device and channel.

    Raises :class:`ContractError` (``bad_topic``) for anything that is not a topic of
    the contract. Results are cached (a site's topics repeat with every message;
    refusals are not cached) in a plain dict emptied when full: ~3 topics a device, so
    its size is the site's, and a dict entry costs less than an LRU link (issue 18).
    """
    parsed = _parsed.get(topic)
    if parsed is None:
        parsed = _parse_topic(topic)
        if len(_parsed) >= TOPIC_CACHE_SIZE:
            _parsed.clear()
        _parsed[topic] = parsed
    return parsed


def _parse_topic(topic: str) -> ParsedTopic:
    if not isinstance(topic, str) or len(topic) > 256:
        raise ContractError("bad_topic", "topic missing or too long")
    parts = topic.split("/")
    if len(parts) < 3 or parts[0] != ROOT or not _SITE_RE.match(parts[1]):
        raise ContractError("bad_topic", f"{topic!r} is not under {ROOT}/<site>/")
    site = sys.intern(parts[1])  # one string for all the site's cached topics
    rest = parts[2:]
    if rest == ["fire"]:
        return ParsedTopic(site, TopicKind.FIRE)
    if rest == ["controller", "availability"]:
        return ParsedTopic(site, TopicKind.CONTROLLER_AVAILABILITY)
    if len(rest) == 3 and rest[0] == "dev" and _DEVICE_RE.match(rest[1]):
        try:
            channel = Channel(rest[2])
        except ValueError:
            raise ContractError("bad_topic", f"unknown channel {rest[2]!r}") from None
        return ParsedTopic(site, TopicKind.DEVICE, sys.intern(rest[1]), channel)
    raise ContractError("bad_topic", f"{topic!r} is not a topic of the contract")
