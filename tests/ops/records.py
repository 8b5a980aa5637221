"""A small store with records of two apartments, old and new, for the ops tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from controller.store import Store
from controller.store.alarm_records import AlarmRecord
from controller.store.records import ActivityRecord, AuditKind, AuditRecord, EventRecord

NOW = datetime.fromisoformat("2026-11-27T12:00:00+00:00")
OLD = NOW - timedelta(days=800)  # beyond every default retention
MID = NOW - timedelta(days=100)  # beyond the events' 90 days, within the audit's 730
NEW = NOW - timedelta(days=1)


def audit_pair(cmd: str, device: str, issued: datetime, resolved: datetime) -> list[AuditRecord]:
    base = {"command_id": cmd, "device": device, "action": "unlock", "actor": "nurse1"}
    return [
        AuditRecord(ts=issued, kind=AuditKind.ISSUED, reason="visit", **base),  # type: ignore[arg-type]
        AuditRecord(ts=resolved, kind=AuditKind.RESOLVED, outcome="ok", **base),  # type: ignore[arg-type]
    ]


async def fill(store: Store) -> None:
    """Events, audit, activity and alarms of apartments 101 and 102 at OLD, MID, NEW."""
    await store.add_events(
        [
            EventRecord(ts=when, device=f"a{apt}-lock", type="door_opened", details={"n": i})
            for i, when in enumerate((OLD, MID, NEW))
            for apt in (101, 102)
        ]
    )
    lines = audit_pair("c-old", "a101-lock", OLD, OLD + timedelta(seconds=1))
    lines += audit_pair("c-span", "a101-lock", OLD, NEW)  # crosses the cut-off: kept whole
    lines += audit_pair("c-mid", "a101-lock", MID, MID)
    lines += audit_pair("c-new-102", "a102-lock", NEW, NEW)
    for line in lines:
        await store.append_audit(line)
    for when, apt in ((OLD, "101"), (NEW, "101"), (NEW, "102")):
        await store.add_activity(
            ActivityRecord(ts=when, actor="nurse1", action="alarm_ack", apartment=apt)
        )
    for when, apt, state in ((OLD, "101", "closed"), (OLD, "101", "open"), (NEW, "102", "closed")):
        await store.add_alarm(
            AlarmRecord(
                kind="help",
                apartment=apt,
                device=f"a{apt}-screen",
                state=state,
                raised_at=when,
                closed_by="nurse1" if state == "closed" else None,
                closed_at=when if state == "closed" else None,
                close_note="ok" if state == "closed" else None,
            )
        )
