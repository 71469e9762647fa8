"""Calendar views of the EWS emulator: occurrences of recurring series as items of their own.

An occurrence (or an exception, a modified occurrence) is not stored: it is made from its master
when asked for, with an id that names the master and the original start, so GetItem, UpdateItem
and DeleteItem can address it like any item.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from .builders import text as _text
from .recurrence import occurrence_id, occurrence_starts, read_pattern, split_occurrence_id, zone
from .soap import format_datetime
from .store import EwsError, EwsState, StoredItem


def occurrence(master: StoredItem, original_start: datetime) -> StoredItem | None:
    """The occurrence (or exception) of a recurring master that originally started then."""
    key = format_datetime(original_start)
    if key in master.deleted_occurrences:
        return None
    start, end = master.datetime_of("Start"), master.datetime_of("End")
    assert start is not None and end is not None
    props = {
        name: copy.deepcopy(value)
        for name, value in master.props.items()
        if name
        not in (
            "Recurrence",
            "ModifiedOccurrences",
            "DeletedOccurrences",
            "FirstOccurrence",
            "LastOccurrence",
        )
    }
    props["Start"] = _text("Start", key)
    props["End"] = _text("End", format_datetime(original_start + (end - start)))
    props["OriginalStart"] = _text("OriginalStart", key)
    item_type = "Occurrence"
    overrides = master.exceptions.get(key)
    if overrides:
        item_type = "Exception"
        props.update({name: copy.deepcopy(value) for name, value in overrides.items()})
    props["CalendarItemType"] = _text("CalendarItemType", item_type)
    props["IsRecurring"] = _text("IsRecurring", "true")
    virtual = StoredItem(
        occurrence_id(master.id, original_start),
        master.folder_id,
        "CalendarItem",
        props,
        {k: copy.deepcopy(v) for k, v in master.extended.items()},
        master.version,
    )
    return virtual


def resolve_item(state: EwsState, item_id: str) -> StoredItem:
    """A stored item or a (virtual) occurrence by id; ErrorItemNotFound otherwise."""
    split = split_occurrence_id(item_id)
    if split is None:
        return state.item(item_id)
    master = state.item(split[0])
    found = occurrence(master, split[1]) if master.is_recurring_master else None
    if found is None:
        raise EwsError("ErrorItemNotFound", "The specified object was not found in the store.")
    return found


def expand(master: StoredItem, until: datetime) -> list[StoredItem]:
    """Every occurrence of a master starting before `until` (deleted ones left out)."""
    first = master.datetime_of("Start")
    assert first is not None
    tz = zone(master.props["StartTimeZone"].get("Id") if "StartTimeZone" in master.props else None)
    pattern = read_pattern(master.props["Recurrence"])
    found = []
    for start in occurrence_starts(pattern, first, tz, until):
        occ = occurrence(master, start)
        if occ is not None:
            found.append(occ)
    return found


def calendar_view(state: EwsState, folder_id: str, start: datetime, end: datetime) -> list[StoredItem]:
    """Singles, occurrences and exceptions overlapping [start, end), by start time."""
    if end - start > timedelta(days=731):
        raise EwsError("ErrorCalendarViewRangeTooBig", "The calendar view range is larger than two years.")
    found: list[StoredItem] = []
    for item in state.folder_items(folder_id):
        if item.tag != "CalendarItem":
            continue
        candidates = expand(item, end + timedelta(days=1)) if item.is_recurring_master else [item]
        for candidate in candidates:
            item_start, item_end = candidate.datetime_of("Start"), candidate.datetime_of("End")
            if item_start is None or item_end is None:
                continue
            # Exchange includes an item when it overlaps the range (zero-length items at the start too).
            if item_start < end and (item_end > start or item_start >= start):
                found.append(candidate)
    found.sort(key=lambda i: (i.datetime_of("Start") or datetime.min.replace(tzinfo=UTC), i.id))
    return found
