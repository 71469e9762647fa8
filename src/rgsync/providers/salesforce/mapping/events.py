"""Writing Events: a new Event, the fields of an Event update, an invitee's EventRelation (SPEC §4.2)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rgsync.model import CalendarItem, EventInvitee, EventRecord, ShowAs
from rgsync.providers.salesforce.mapping.values import (
    TASK_DESCRIPTION_MAX,
    OrgShape,
    fit,
    id_list,
    key_value,
    sf_datetime,
    who_fields,
)


def _timing(start: datetime, end: datetime, all_day: bool) -> dict[str, Any]:
    if all_day:
        first = start.astimezone(UTC).date()
        days = max(1, (end.astimezone(UTC).date() - first).days)
        return {
            "IsAllDayEvent": True,
            "ActivityDate": first.isoformat(),
            "DurationInMinutes": days * 1440,
        }
    return {
        "IsAllDayEvent": False,
        "StartDateTime": sf_datetime(start),
        "EndDateTime": sf_datetime(end),
    }


def event_create(record: EventRecord | CalendarItem, shape: OrgShape, natural_key: str) -> dict[str, Any]:
    """A new Event (SPEC §4.2): the description is copied this once; private events relate to nobody."""
    if isinstance(record, EventRecord):
        item, who_ids, what_id, owner = record.item, record.who_ids, record.what_id, record.owner_id
    else:
        item, who_ids, what_id, owner = record, record.who_ids, record.what_id, record.owner_id
    fields: dict[str, Any] = {
        "attributes": {"type": "Event"},
        "Subject": item.subject[:255],
        "Location": item.location[:255] or None,
        "ShowAs": item.show_as.value,
        "IsPrivate": item.private,
        **_timing(item.start, item.end, item.all_day),
    }
    if item.description:
        fields["Description"] = fit(item.description, TASK_DESCRIPTION_MAX)
    if not item.private:
        fields.update(who_fields(who_ids, "EventWhoIds", shape))
        if what_id:
            fields["WhatId"] = what_id
    if owner:
        fields["OwnerId"] = owner
    key_field = shape.key_field("Event")
    if key_field:
        fields[key_field] = key_value(natural_key)
    return fields


def event_update(
    changes: Mapping[str, object], shape: OrgShape, current: CalendarItem | None
) -> tuple[dict[str, Any], list[str]]:
    """Event fields for `Update.changes` (CalendarItem names), and the names it cannot map.

    `current` is the Event as it is now (needed when the timing changes: an all-day Event is
    moved by its dates, a timed one by its times, and a change may give only one end).
    """
    out: dict[str, Any] = {}
    unknown: list[str] = []
    if any(name in changes for name in ("start", "end", "all_day")):
        all_day = changes.get("all_day", current.all_day if current else False)
        start = changes.get("start", current.start if current else None)
        end = changes.get("end", current.end if current else None)
        if isinstance(start, datetime) and isinstance(end, datetime):
            out.update(_timing(start, end, bool(all_day)))
        elif isinstance(start, datetime) and not all_day:
            out.update(IsAllDayEvent=False, StartDateTime=sf_datetime(start))
        elif isinstance(end, datetime) and not all_day:
            out.update(IsAllDayEvent=False, EndDateTime=sf_datetime(end))
        else:
            unknown.append("start/end")
    for name, value in changes.items():
        if name in ("start", "end", "all_day"):
            continue
        if name == "subject":
            out["Subject"] = str(value)[:255]
        elif name == "location":
            out["Location"] = str(value)[:255] or None
        elif name == "show_as":
            out["ShowAs"] = value.value if isinstance(value, ShowAs) else str(value)
        elif name == "description":
            out["Description"] = fit(str(value), TASK_DESCRIPTION_MAX) or None
        elif name == "private":
            out["IsPrivate"] = bool(value)
        elif name == "who_ids":
            out.update(who_fields(id_list(value), "EventWhoIds", shape, update=True))
        elif name == "what_id":
            out["WhatId"] = value or None
        else:
            unknown.append(name)
    return out, unknown


def event_invitee(invitee: EventInvitee) -> dict[str, Any]:
    """An EventRelation adding a User as invitee of an existing Event (SPEC §4.2)."""
    return {
        "attributes": {"type": "EventRelation"},
        "EventId": invitee.event_id,
        "RelationId": invitee.user_id,
        "IsInvitee": True,
    }
