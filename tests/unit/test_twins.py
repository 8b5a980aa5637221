"""Twins: unknown until reported, out-of-order reports dropped, staleness by heartbeat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from config.site import EXAMPLE_SITE, load_site
from controller.twins import Reachability, TwinRegistry
from devices.contract import Availability, DeviceType, LockState, Meta

T0 = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)


def _registry() -> TwinRegistry:
    return TwinRegistry(load_site(EXAMPLE_SITE), stale_factor=2.5)


def _lock(seq: int, boot: str = "b1", lock: str = "locked") -> LockState:
    return LockState(seq=seq, ts=T0, boot=boot, lock=lock, door="closed", battery=80)


def test_every_twin_starts_unknown_never_unlocked() -> None:
    reg = _registry()
    assert len(reg) == len(list(load_site(EXAMPLE_SITE).devices()))
    twin = reg.get("a101-lock")
    assert twin is not None
    assert twin.reachability is Reachability.UNKNOWN
    assert twin.reported is None
    assert twin.to_dict()["state"] is None
    assert reg.counts()["unknown"] == len(reg)


def test_older_report_of_the_same_boot_is_dropped_new_boot_accepted() -> None:
    reg = _registry()
    twin = reg.get("a101-lock")
    assert reg.apply_state(twin, _lock(5, lock="unlocked"), T0)
    assert not reg.apply_state(twin, _lock(4, lock="locked"), T0)
    assert not reg.apply_state(twin, _lock(5, lock="locked"), T0)
    assert twin.reported.lock == "unlocked"
    assert reg.apply_state(twin, _lock(0, boot="b2", lock="locked"), T0)  # rebooted
    assert twin.reported.lock == "locked"
    assert twin.reachability is Reachability.ONLINE


def test_meta_of_the_wrong_type_is_ignored() -> None:
    reg = _registry()
    twin = reg.get("a101-lock")
    assert not reg.apply_meta(twin, Meta(type=DeviceType.SCREEN, model="x", firmware="1"), T0)
    assert twin.meta is None


def test_silent_device_goes_stale_after_two_and_a_half_heartbeats() -> None:
    reg = _registry()
    twin = reg.get("a101-lock")
    reg.apply_meta(twin, Meta(type=DeviceType.LOCK, model="m", firmware="1", heartbeat_s=60), T0)
    reg.apply_state(twin, _lock(1), T0)
    assert reg.mark_stale(T0 + timedelta(seconds=150)) == []
    assert reg.mark_stale(T0 + timedelta(seconds=151)) == [twin]
    assert twin.reachability is Reachability.STALE
    assert not twin.reachable
    assert reg.mark_stale(T0 + timedelta(seconds=300)) == []  # reported once only
    reg.apply_state(twin, _lock(2), T0 + timedelta(seconds=301))
    assert twin.reachability is Reachability.ONLINE


def test_last_will_marks_offline_and_online_returns() -> None:
    reg = _registry()
    twin = reg.get("a101-screen")
    assert reg.apply_availability(twin, Availability.ONLINE, T0)
    assert reg.apply_availability(twin, Availability.OFFLINE, T0)
    assert not reg.apply_availability(twin, Availability.OFFLINE, T0)
    assert twin.reachability is Reachability.OFFLINE
    assert reg.mark_stale(T0 + timedelta(days=1)) == []  # offline is not also stale


def test_a_replayed_online_does_not_undo_an_offline_learned_live() -> None:
    reg = _registry()
    twin = reg.get("a101-lock")
    reg.apply_state(twin, _lock(5), T0)
    reg.apply_availability(twin, Availability.OFFLINE, T0 + timedelta(seconds=1))
    later = T0 + timedelta(seconds=2)
    assert not reg.apply_availability(twin, Availability.ONLINE, later, retained=True)
    assert not reg.apply_state(twin, _lock(5), later, retained=True)  # not newer
    assert twin.reachability is Reachability.OFFLINE
    assert twin.last_seen == T0
    assert reg.apply_availability(twin, Availability.ONLINE, later)  # live: it is back
    assert twin.last_seen == later


def test_a_replayed_status_never_moves_last_seen_nor_revives_a_stale_twin() -> None:
    reg = _registry()
    twin = reg.get("a101-lock")
    # the controller starts: all it knows is the broker's retained copies
    reg.apply_meta(
        twin, Meta(type=DeviceType.LOCK, model="m", firmware="1", heartbeat_s=60), T0, retained=True
    )
    assert reg.apply_availability(twin, Availability.ONLINE, T0, retained=True)
    assert reg.apply_state(twin, _lock(1), T0, retained=True)
    assert twin.reachability is Reachability.ONLINE
    assert twin.last_seen is None
    # silent since the replay: stale after 2.5 heartbeats from it
    assert reg.mark_stale(T0 + timedelta(seconds=150)) == []
    assert reg.mark_stale(T0 + timedelta(seconds=151)) == [twin]
    # a newer state replayed later is recorded, but the twin stays stale
    later = T0 + timedelta(seconds=200)
    assert reg.apply_availability(twin, Availability.ONLINE, later, retained=True) is False
    assert reg.apply_state(twin, _lock(2, lock="unlocked"), later, retained=True)
    assert twin.reported.lock == "unlocked"
    assert twin.reachability is Reachability.STALE
    assert twin.last_seen is None
    reg.apply_state(twin, _lock(3), later)  # live traffic brings it back
    assert (twin.reachability, twin.last_seen) == (Reachability.ONLINE, later)


def test_kept_states_share_their_field_names_and_read_as_given() -> None:
    reg = _registry()
    first, second = reg.get("a101-lock"), reg.get("a102-lock")
    assert first is not None
    assert second is not None
    given = [_lock(1), _lock(2, lock="unlocked")]
    dumps = [s.model_dump(mode="json", by_alias=True) for s in given]
    assert reg.apply_state(first, given[0], T0)
    assert reg.apply_state(second, given[1], T0)
    assert first.reported is not None
    assert second.reported is not None
    assert first.reported.model_fields_set is second.reported.model_fields_set
    assert first.reported.model_fields_set == _lock(1).model_fields_set
    assert first.reported == _lock(1)
    assert [first.to_dict()["state"], second.to_dict()["state"]] == dumps


def test_a_twin_keeps_the_meta_fields_it_reads() -> None:
    reg = _registry()
    first, second = reg.get("a101-lock"), reg.get("a102-lock")
    assert first is not None
    assert second is not None
    version = 2
    for twin in (first, second):  # strings made anew for each, as decoding makes them
        meta = Meta(type=DeviceType.LOCK, model=f"m-{version}", firmware="3.1", heartbeat_s=30)
        assert reg.apply_meta(twin, meta, T0)
    assert first.meta is not None
    assert second.meta is not None
    assert (first.model, first.firmware, first.heartbeat_s) == ("m-2", "3.1", 30.0)
    assert first.meta.model is second.meta.model  # one string for every device's
    assert first.meta is second.meta  # and one TwinMeta
    other = Meta(type=DeviceType.LOCK, model="m-2", firmware="3.1", heartbeat_s=60)
    assert reg.apply_meta(second, other, T0)
    assert second.meta is not first.meta
    assert (first.heartbeat_s, second.heartbeat_s) == (30.0, 60.0)
