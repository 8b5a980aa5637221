"""Device twins: what each device last reported, what was last asked of it, and
whether it is reachable.

A twin starts ``unknown`` (never "unlocked" before a report: Home Assistant's early
MQTT lock made that mistake). The device's report is authoritative; the desired state
is only what the last command asked for.
"""

from __future__ import annotations

import logging
import sys
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol

from config.site import Apartment, Site
from devices.contract import AnyState, Availability, DeviceType, Meta
from devices.contract.field_sets import shared_field_set

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_S = 60.0
#: How far back :meth:`TwinRegistry.takeovers` counts.
TAKEOVER_WINDOW = timedelta(seconds=60)


class Reachability(StrEnum):
    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"
    #: No report for ``stale_factor`` heartbeats although no last will arrived.
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class TwinMeta:
    """What a twin keeps of its device's ``meta``: the three fields anything reads (a
    whole :class:`Meta` per device cost ~1.2 kB; this, with its strings shared by every
    device that reports the same, ~70 bytes)."""

    model: str
    firmware: str
    heartbeat_s: int

    @classmethod
    def of(cls, meta: Meta) -> TwinMeta:
        """One shared instance for every device that reports the same three (it is
        frozen; one each cost 56 bytes a device)."""
        made = cls(meta.model, meta.firmware, meta.heartbeat_s)
        shared = _TWIN_METAS.get(made)
        if shared is None:
            shared = _TWIN_METAS[made] = cls(
                sys.intern(meta.model), sys.intern(meta.firmware), meta.heartbeat_s
            )
        return shared


#: the distinct :class:`TwinMeta` reported (a fleet has a few models and firmwares)
_TWIN_METAS: dict[TwinMeta, TwinMeta] = {}


#: A twin's ``desired`` before any command: one empty mapping for all (an empty dict
#: each cost 64 bytes a device).
NOTHING_ASKED: Mapping[str, Any] = MappingProxyType({})


@dataclass(slots=True)
class Twin:
    """The controller's picture of one device."""

    id: str
    type: DeviceType
    apartment: str
    reachability: Reachability = Reachability.UNKNOWN
    meta: TwinMeta | None = None
    reported: AnyState | None = None
    #: what the last command asked (replaced, never changed in place)
    desired: Mapping[str, Any] = field(default_factory=lambda: NOTHING_ASKED)
    #: the last live message (a retained one replayed by the broker does not count)
    last_seen: datetime | None = None
    #: the last replay of the device's retained messages (the controller subscribed):
    #: staleness counts from it or from ``last_seen``, whichever is later
    replayed_at: datetime | None = None
    changed_at: datetime | None = None
    #: the registry's :attr:`TwinRegistry.revision` at this twin's last change
    revision: int = 0

    @property
    def heartbeat_s(self) -> float:
        return float(self.meta.heartbeat_s) if self.meta else DEFAULT_HEARTBEAT_S

    @property
    def firmware(self) -> str | None:
        if self.reported is not None and self.reported.firmware:
            return self.reported.firmware
        return self.meta.firmware if self.meta else None

    @property
    def reachable(self) -> bool:
        """False when the device is known to be offline or stale."""
        return self.reachability not in (Reachability.OFFLINE, Reachability.STALE)

    @property
    def model(self) -> str | None:
        return self.meta.model if self.meta else None

    def to_dict(self) -> dict[str, Any]:
        """The twin as the API and the WebSocket show it."""
        return twin_json(self)


class TwinView(Protocol):
    """A twin or a snapshot of one (:class:`controller.bus_messages.TwinChanged`)."""

    @property
    def id(self) -> str: ...
    @property
    def type(self) -> DeviceType: ...
    @property
    def apartment(self) -> str: ...
    @property
    def reachability(self) -> Reachability: ...
    @property
    def reported(self) -> AnyState | None: ...
    @property
    def desired(self) -> Mapping[str, Any]: ...
    @property
    def last_seen(self) -> datetime | None: ...
    @property
    def firmware(self) -> str | None: ...
    @property
    def model(self) -> str | None: ...


def twin_json(twin: TwinView) -> dict[str, Any]:
    """A twin as the API and the WebSocket show it (the one place that says how)."""
    reported = twin.reported
    return {
        "id": twin.id,
        "type": twin.type.value,
        "apartment": twin.apartment,
        "availability": twin.reachability.value,
        "state": None if reported is None else reported.model_dump(mode="json", by_alias=True),
        "desired": dict(twin.desired),
        "last_seen": twin.last_seen.isoformat() if twin.last_seen else None,
        "firmware": twin.firmware,
        "model": twin.model,
    }


class TwinRegistry:
    """Every twin of the site; devices not in the site file have no twin."""

    def __init__(self, site: Site, stale_factor: float = 2.5) -> None:
        self.stale_factor = stale_factor
        #: grows with every change of any twin (reachability, meta or state)
        self.revision = 0
        self._site = site  # its device index gives a device's apartment
        self._twins: dict[str, Twin] = {}
        for apt, dev in site.devices():
            self._twins[dev.id] = Twin(dev.id, dev.type, apt.number)
        #: device -> when its connection was taken over (within TAKEOVER_WINDOW)
        self._takeovers: dict[str, deque[datetime]] = {}

    def __len__(self) -> int:
        return len(self._twins)

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._twins

    def get(self, device_id: str) -> Twin | None:
        return self._twins.get(device_id)

    def all(self) -> list[Twin]:
        return list(self._twins.values())

    def apartment(self, device_id: str) -> Apartment | None:
        found = self._site.device(device_id)
        return found[0] if found is not None else None

    def _changed(self, twin: Twin, now: datetime) -> None:
        self.revision += 1
        twin.revision = self.revision
        twin.changed_at = now

    def _seen(self, twin: Twin, now: datetime) -> None:
        twin.last_seen = now
        if twin.reachability is Reachability.STALE:
            twin.reachability = Reachability.ONLINE

    def apply_meta(self, twin: Twin, meta: Meta, now: datetime, *, retained: bool = False) -> bool:
        """Record a device's meta. A type that disagrees with the site file is ignored.
        A ``retained`` one (replayed) does not count as the device seen."""
        if meta.type != twin.type:
            log.warning(
                "device %s says it is a %s, site file says %s: meta ignored",
                twin.id,
                meta.type.value,
                twin.type.value,
            )
            return False
        twin.meta = TwinMeta.of(meta)
        if retained:
            twin.replayed_at = now
        else:
            self._seen(twin, now)
        self._changed(twin, now)
        return True

    def apply_availability(
        self, twin: Twin, value: Availability, now: datetime, *, retained: bool = False
    ) -> bool:
        """Record online/offline; returns True when reachability changed.

        A ``retained`` message is the broker's stored copy, replayed when the controller
        (re)subscribes: not news. It never moves ``last_seen``, and a retained ``online``
        only brings an ``unknown`` twin online: an ``offline`` or ``stale`` learned from
        live traffic stays (a broker restored from its last autosave replays an
        ``online`` older than the last will, and the payload has no boot/seq to tell).

        An ``online`` while the twin is already online is a new connection that took
        over the device's client id: the broker closed the old one without its last will
        (Mosquitto sends none on a takeover). Counted for :meth:`takeovers`."""
        new = Reachability.ONLINE if value is Availability.ONLINE else Reachability.OFFLINE
        if retained:
            twin.replayed_at = now
            if new is Reachability.ONLINE and twin.reachability is not Reachability.UNKNOWN:
                return False
        if new is Reachability.ONLINE and twin.reachability is Reachability.ONLINE:
            self._takeovers.setdefault(twin.id, deque()).append(now)
        if value is Availability.ONLINE and not retained:
            twin.last_seen = now
        changed = new is not twin.reachability
        twin.reachability = new
        if changed:
            self._changed(twin, now)
        return changed

    def apply_state(
        self, twin: Twin, state: AnyState, now: datetime, *, retained: bool = False
    ) -> bool:
        """Record a state report unless it is older than the one we have.

        Within one boot ``seq`` only grows, so a lower or equal ``seq`` with the same
        ``boot`` is a late duplicate and is dropped. A new ``boot`` starts afresh. A
        ``retained`` state (replayed) is recorded by the same rule but never moves
        ``last_seen`` nor brings a stale twin back: only live traffic shows the device
        is there.
        """
        old = twin.reported
        if retained:
            twin.replayed_at = now
        if old is not None and state.boot == old.boot and state.seq <= old.seq:
            return False
        twin.reported = shared_field_set(state)  # kept long: ~730 bytes less
        if not retained:
            self._seen(twin, now)
        if twin.reachability is Reachability.UNKNOWN:
            twin.reachability = Reachability.ONLINE
        self._changed(twin, now)
        return True

    def mark_stale(self, now: datetime) -> list[Twin]:
        """Mark online twins silent for ``stale_factor`` heartbeats as stale (counted
        from the last live message or the last replay, whichever is later: a device is
        not stale merely because the controller was away)."""
        # runs every second over every twin: one cutoff per heartbeat, no per-twin
        # timedelta (10,000 twins: ~20 ms a sweep before, 2 % of a core)
        cutoffs: dict[float, datetime] = {}
        online = Reachability.ONLINE
        stale = []
        for twin in self._twins.values():
            if twin.reachability is not online:
                continue
            heard, replayed = twin.last_seen, twin.replayed_at
            if replayed is not None and (heard is None or replayed > heard):
                heard = replayed
            if heard is None:
                continue
            heartbeat = twin.heartbeat_s
            cutoff = cutoffs.get(heartbeat)
            if cutoff is None:
                cutoff = cutoffs[heartbeat] = now - timedelta(seconds=heartbeat * self.stale_factor)
            if heard < cutoff:
                twin.reachability = Reachability.STALE
                self._changed(twin, now)
                stale.append(twin)
        return stale

    def takeovers(self, now: datetime) -> dict[str, int]:
        """Device -> connection takeovers within :data:`TAKEOVER_WINDOW` before ``now``.

        Many a minute mean two clients use one device's login and knock each other off
        the broker; one now and then is a device reconnecting before the broker noticed
        its old connection was gone."""
        since = now - TAKEOVER_WINDOW
        counts = {}
        for device, times in list(self._takeovers.items()):
            while times and times[0] < since:
                times.popleft()
            if times:
                counts[device] = len(times)
            else:
                del self._takeovers[device]
        return counts

    def counts(self) -> dict[str, int]:
        """Number of twins per reachability value."""
        out = {r.value: 0 for r in Reachability}
        for twin in self._twins.values():
            out[twin.reachability.value] += 1
        return out
