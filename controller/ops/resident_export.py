"""Everything the store holds about one resident (GDPR right of access), as JSON.

A resident is known by their apartment: the export holds the apartment's entry of
the site file (name, night supervision basis), the events and command audit of its
devices, the activity lines and the alarms recorded for it, the staff-entered day
plan, the relatives' call invitations (never their links), and nothing of any other
apartment. Each list is complete up to :data:`MAX_ROWS` (``truncated`` says
if a list was cut).
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from typing import Any

from config.site import Site, apartment_json
from controller.calls.invitations import CallStore
from controller.store import Store

MAX_ROWS = 200_000
_PAGE = 5000


class UnknownApartment(LookupError):
    """No apartment of that number on this site."""


def _jsonable(record: Any) -> dict[str, Any]:
    out = asdict(record) if is_dataclass(record) and not isinstance(record, type) else {}
    for key, value in out.items():
        if isinstance(value, date):  # and datetime
            out[key] = value.isoformat()
        elif hasattr(value, "value"):
            out[key] = value.value
        elif isinstance(value, tuple):
            out[key] = list(value)
    return out


async def export_apartment(store: Store, site: Site, number: str, now: datetime) -> dict[str, Any]:
    """The export document of apartment ``number``."""
    apartment = next((a for a in site.apartments if a.number == number), None)
    if apartment is None:
        raise UnknownApartment(f"no apartment {number!r} on site {site.slug}")
    devices = [d.id for d in apartment.devices]

    events: list[Any] = []
    for device in devices:
        before: int | None = None
        while len(events) < MAX_ROWS:
            page = await store.recent_events(limit=_PAGE, device=device, before_id=before)
            events += page
            if len(page) < _PAGE:
                break
            before = page[-1].id
    audit = await store.audit(limit=MAX_ROWS, devices=devices) if devices else []
    activity: list[Any] = []
    before = None
    while len(activity) < MAX_ROWS:
        rows = await store.activity(limit=_PAGE, apartment=number, before_id=before)
        activity += rows
        if len(rows) < _PAGE:
            break
        before = rows[-1].id
    alarms: list[Any] = []
    before = None
    while len(alarms) < MAX_ROWS:
        found = await store.alarms(limit=_PAGE, state=None, apartment=number, before_id=before)
        alarms += found
        if len(found) < _PAGE:
            break
        before = found[-1].id
    plan = await store.plan_entries(number, None)
    calls: CallStore = store  # type: ignore[assignment]  # SqlStore's CallsMixin
    invitations = await calls.list_invitations(number)
    sizes = {"events": len(events), "audit": len(audit), "activity": len(activity)}
    sizes["alarms"] = len(alarms)
    truncated = [name for name, size in sizes.items() if size >= MAX_ROWS]
    return {
        "exported_at": now.isoformat(),
        "site": site.slug,
        "apartment": apartment_json(apartment),
        "devices": devices,
        "events": [_jsonable(e) for e in events],
        "audit": [_jsonable(a) for a in audit],
        "activity": [_jsonable(a) for a in activity],
        "alarms": [_jsonable(a) for a in alarms],
        "plan_entries": [_jsonable(p) for p in plan],
        "invitations": [_jsonable(i) for i in invitations],
        "truncated": truncated,
    }
