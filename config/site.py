"""The site file (TOML): the home, its apartments and their devices.

``load_site(path)`` validates with pydantic and raises :class:`SiteFileError` whose
message names each bad field and its problem (``apartments[3].number: ...``).
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from datetime import date, timedelta
from functools import cache, cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.dataclasses import dataclass

from devices.contract import DeviceId, DeviceType, SiteId

EXAMPLE_SITE = Path(__file__).with_name("example-site.toml")
#: A second home, for deployments serving several homes (docs/architecture.md).
SECOND_EXAMPLE_SITE = Path(__file__).with_name("example-site-2.toml")
#: A weekly visiting window, e.g. ``mon-fri 10:00-19:00`` (checked fully by
#: controller/calls/visiting.py).
VisitingWindow = Annotated[
    str,
    Field(pattern=r"^(daily|[a-z]{3}([-,][a-z]{3})*) [0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9]$"),
]


class SiteFileError(ValueError):
    """A site file that cannot be read or does not validate."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: The site's entries kept by the thousand are pydantic dataclasses with slots: the
#: same validation as a model, without a per-instance dict (618 -> 278 bytes a device
#: with its apartment; issue 18, memory). Dump one with ``TypeAdapter``.
_KEPT = ConfigDict(extra="forbid")


@dataclass(config=_KEPT, frozen=True, slots=True)
class DeviceEntry:
    id: DeviceId
    type: DeviceType
    model: str = Field(default="", max_length=64)


class NightSupervision(Strict):
    """The recorded basis for watching a resident's door at night (it is monitoring):
    the resident's consent or a documented decision, when it was made and when it must
    be reviewed. Without it, no night-door alarm is raised for that apartment."""

    basis: Literal["consent", "decision"]
    decided: date
    review: date
    note: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _review_after_decision(self) -> NightSupervision:
        if self.review <= self.decided:
            raise ValueError("review must be after decided")
        return self


@dataclass(config=_KEPT, frozen=True, slots=True)
class Apartment:
    number: Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{1,8}$")]
    floor: int = Field(default=0, ge=-5, le=99)
    #: a staff user's unit (controller/auth/users.py: letters a-z, digits, _ and -)
    wing: str = Field(default="", pattern=r"^[0-9A-Za-z_-]{0,32}$")
    resident: str = Field(default="", max_length=64)
    devices: list[DeviceEntry] = Field(default_factory=list)
    night_supervision: NightSupervision | None = None
    #: Weekly windows for relatives' video calls (None: the site's default), e.g.
    #: ``["mon-fri 10:00-19:00"]``; see controller/calls/visiting.py.
    visiting_hours: list[VisitingWindow] | None = None

    @model_validator(mode="before")
    @classmethod
    def _expand_types(cls, data: Any) -> Any:
        """``devices = ["lock", "curtain"]`` is short for ids ``a{number}-{type}``."""
        if isinstance(data, dict) and isinstance(data.get("devices"), list):
            number = str(data.get("number", "")).lower()
            data = dict(data)
            data["devices"] = [
                {"id": f"a{number}-{d}", "type": d} if isinstance(d, str) else d
                for d in data["devices"]
            ]
        return data

    @field_validator("wing")
    @classmethod
    def _shared_wing(cls, value: str) -> str:
        """One string per wing name, not one per apartment (issue 18: memory)."""
        return sys.intern(value)


def apartment_json(apartment: Apartment) -> dict[str, Any]:
    """An apartment as the site file's JSON (its devices with it)."""
    return _apartment_adapter().dump_python(apartment, mode="json", by_alias=True)


@cache
def _apartment_adapter() -> TypeAdapter[Apartment]:
    return TypeAdapter(Apartment)


_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class Shift(Strict):
    """A shift and whom its alarms go to, in order: a new alarm to the first person,
    each escalation to the next, and once the list is used up to everyone on duty
    (controller/alarms/escalation.py). Times are the site's local time; a shift that
    ends before it starts runs over midnight (``22:00``-``07:00``)."""

    name: str = Field(min_length=1, max_length=32)
    start: str = Field(pattern=_HHMM)
    end: str = Field(pattern=_HHMM)
    #: usernames (controller/auth/), the first answers first
    escalation: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=20
    )

    @model_validator(mode="after")
    def _sensible(self) -> Shift:
        if self.start == self.end:
            raise ValueError(f"shift {self.name}: start and end are the same time")
        if len(set(self.escalation)) != len(self.escalation):
            raise ValueError(f"shift {self.name}: a person is listed twice in escalation")
        return self

    def minutes(self) -> set[int]:
        """The minutes of the day (0-1439) the shift covers."""
        start, end = (int(t[:2]) * 60 + int(t[3:]) for t in (self.start, self.end))
        if start < end:
            return set(range(start, end))
        return set(range(start, 24 * 60)) | set(range(0, end))


#: The unlock reason every site accepts, with a text: ``"other: locksmith"``.
OTHER_REASON = "other"


class SiteInfo(Strict):
    slug: SiteId
    name: str = Field(default="", max_length=128)
    timezone: str = "Europe/Stockholm"
    latitude: float = Field(default=59.33, ge=-90, le=90)
    longitude: float = Field(default=18.07, ge=-180, le=180)
    #: What an unlock may give as its reason (each optionally followed by ": <text>"),
    #: besides "other: <text>" (controller/unlock_reasons.py).
    unlock_reasons: list[str] = Field(
        default_factory=lambda: ["care visit", "emergency", "technician", "resident request"],
        min_length=1,
    )
    #: Local time window in which a supervised resident's door opening raises an alarm.
    night_window: str = Field(
        default="22:00-06:00",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$",
    )
    #: A device offline this long raises an alarm.
    offline_alarm_minutes: int = Field(default=10, ge=1, le=1440)
    #: An alarm nobody acknowledged is escalated again after this long.
    escalate_after_minutes: int = Field(default=5, ge=1, le=120)
    #: The same in seconds, for a drill or a test that cannot wait minutes; a site file
    #: gives one or the other (:attr:`escalate_after`).
    escalate_after_seconds: int | None = Field(default=None, ge=5, le=7200)
    #: A lock reporting a battery under this raises an alarm.
    battery_low_percent: int = Field(default=15, ge=1, le=99)
    #: Default weekly windows for relatives' video calls (apartments may override).
    visiting_hours: list[VisitingWindow] = Field(default_factory=lambda: ["daily 09:00-20:00"])
    #: ICE servers for the video link (STUN/TURN, e.g. coturn); none: host candidates.
    ice_servers: list[dict[str, Any]] = Field(default_factory=list)
    #: The HTTPS address relatives reach the daemon at, for invitation links
    #: (None: the address staff used to make the link).
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    #: Who an alarm goes to during each shift, in order (none: everyone at once).
    shifts: list[Shift] = Field(default_factory=list, max_length=12)

    @field_validator("shifts")
    @classmethod
    def _shifts_apart(cls, shifts: list[Shift]) -> list[Shift]:
        covered: set[int] = set()
        names: set[str] = set()
        for shift in shifts:
            if shift.name.casefold() in names:
                raise ValueError(f"shift {shift.name} is listed twice")
            names.add(shift.name.casefold())
            minutes = shift.minutes()
            if covered & minutes:
                raise ValueError(f"shift {shift.name} overlaps another shift")
            covered |= minutes
        return shifts

    @field_validator("unlock_reasons")
    @classmethod
    def _plain_reasons(cls, reasons: list[str]) -> list[str]:
        cleaned = [r.strip() for r in reasons]
        for reason in cleaned:
            if not reason or len(reason) > 64 or ":" in reason:
                raise ValueError(f"unlock reason {reason!r}: 1-64 characters, no ':'")
            if reason.casefold() == OTHER_REASON:
                raise ValueError(f"{OTHER_REASON!r} is always accepted (with a text): not listed")
        if len({r.casefold() for r in cleaned}) != len(cleaned):
            raise ValueError("an unlock reason is listed twice")
        return cleaned

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _one_escalation_interval(self) -> SiteInfo:
        if self.escalate_after_seconds is not None and (
            "escalate_after_minutes" in self.model_fields_set
        ):
            raise ValueError("escalate_after_minutes or escalate_after_seconds, not both")
        return self

    @property
    def escalate_after(self) -> timedelta:
        """How long an open alarm waits for someone to take it, before each escalation."""
        if self.escalate_after_seconds is not None:
            return timedelta(seconds=self.escalate_after_seconds)
        return timedelta(minutes=self.escalate_after_minutes)


class Site(Strict):
    """A validated site file."""

    site: SiteInfo
    apartments: list[Apartment] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Site:
        seen_numbers: set[str] = set()
        seen_ids: set[str] = set()
        for apt in self.apartments:
            if apt.number in seen_numbers:
                raise ValueError(f"apartment {apt.number} appears twice")
            seen_numbers.add(apt.number)
            for dev in apt.devices:
                if dev.id in seen_ids:
                    raise ValueError(f"device {dev.id} appears twice")
                seen_ids.add(dev.id)
        return self

    @property
    def slug(self) -> str:
        return self.site.slug

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    def devices(self) -> Iterator[tuple[Apartment, DeviceEntry]]:
        """Every device with its apartment, in file order."""
        for apt in self.apartments:
            for dev in apt.devices:
                yield apt, dev

    def device(self, device_id: str) -> tuple[Apartment, DeviceEntry] | None:
        """The device and its apartment, or None."""
        return self._device_index.get(device_id)

    @cached_property
    def _device_index(self) -> dict[str, tuple[Apartment, DeviceEntry]]:
        # A linear scan per call cost the alarm service 8 % of the daemon's time at
        # 10,000 devices (docs/performance.md); the site is frozen, so index it once.
        return {d.id: (a, d) for a, d in self.devices()}


def describe_errors(exc: ValidationError) -> str:
    """One line per problem: ``apartments[3].number: String should match ...``."""
    lines = []
    for err in exc.errors():
        path = ""
        for part in err["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        lines.append(f"{path or '(file)'}: {err['msg']}")
    return "\n".join(lines)


def parse_site(data: dict[str, Any], source: str = "site file") -> Site:
    """Validate an already-parsed site document."""
    try:
        return Site.model_validate(data)
    except ValidationError as exc:
        raise SiteFileError(f"{source} is invalid:\n{describe_errors(exc)}") from None


def load_site(path: Path | str) -> Site:
    """Read and validate a site file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SiteFileError(f"site file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteFileError(f"site file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SiteFileError(f"site file {path} is not valid TOML: {exc}") from None
    return parse_site(data, str(path))
