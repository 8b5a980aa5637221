"""Site and device names, and every MQTT topic of the contract.

Nothing outside this module spells a topic by hand: builders make topics from
validated names, :func:`parse_topic` turns a received topic back into parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, NamedTuple

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


class ParsedTopic(NamedTuple):
    """A received topic split into its parts (a named tuple: made for every message,
    four times quicker to make than a frozen dataclass)."""

    site: str
    kind: TopicKind
    device: str | None = None
    channel: Channel | None = None


#: A device's channels by name.
_CHANNELS = {channel.value: channel for channel in Channel}
#: Site slugs seen in topics -> whether they are valid (a broker carries a few sites).
_SITES: dict[str, bool] = {}
_MAX_SITES = 1024


def parse_topic(topic: str) -> ParsedTopic:
    """Split a contract topic into site, kind, device and channel.

    Raises :class:`ContractError` (``bad_topic``) for anything that is not a topic of
    the contract. Not cached: a cache of every device's topics cost ~800 bytes a device
    (the topic strings, their results and the dict), parsing a device's topic anew
    ~0.6 µs (issue 18).
    """
    parts = topic.split("/") if isinstance(topic, str) and len(topic) <= 256 else ()
    if len(parts) == 5 and parts[0] == ROOT and parts[2] == "dev":
        channel = _CHANNELS.get(parts[4])
        if channel is not None and _site_ok(parts[1]) and _DEVICE_RE.match(parts[3]):
            return ParsedTopic(parts[1], TopicKind.DEVICE, parts[3], channel)
    return _parse_other(topic)


def _site_ok(site: str) -> bool:
    ok = _SITES.get(site)
    if ok is None:
        ok = _SITE_RE.match(site) is not None
        if len(_SITES) < _MAX_SITES:
            _SITES[site] = ok
    return ok


def _parse_other(topic: str) -> ParsedTopic:
    """The site's own topics, and the refusal of anything else."""
    if not isinstance(topic, str) or len(topic) > 256:
        raise ContractError("bad_topic", "topic missing or too long")
    parts = topic.split("/")
    if len(parts) < 3 or parts[0] != ROOT or not _site_ok(parts[1]):
        raise ContractError("bad_topic", f"{topic!r} is not under {ROOT}/<site>/")
    site = parts[1]
    rest = parts[2:]
    if rest == ["fire"]:
        return ParsedTopic(site, TopicKind.FIRE)
    if rest == ["controller", "availability"]:
        return ParsedTopic(site, TopicKind.CONTROLLER_AVAILABILITY)
    if len(rest) == 3 and rest[0] == "dev" and _DEVICE_RE.match(rest[1]):
        raise ContractError("bad_topic", f"unknown channel {rest[2]!r}")
    raise ContractError("bad_topic", f"{topic!r} is not a topic of the contract")
