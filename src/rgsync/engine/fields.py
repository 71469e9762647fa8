"""The synced fields of calendar items, tasks and contacts as normalised strings.

A link's `fields` (the base of the three-way comparison, SPEC §4.4, §5, §6.2) holds the values
last written to or read from both sides. Both sides' items are reduced to the same normalised
strings with `fields_of`, so "changed since the last session" is a plain string comparison that
does not depend on how a provider formats a date or pads a subject. `typed_changes` turns merged
strings back into the typed values an `Update` carries, and `item_from_fields` rebuilds a whole
item from a base (to re-create something deleted on one side).

Only fields that flow between the sides are listed here. The calendar description is deliberately
absent: it is copied once on creation and never again (SPEC §4.4).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, Final, TypeVar, cast

from rgsync.model import CalendarItem, ContactItem, PostalAddress, Priority, ShowAs, TaskItem

SyncedItem = CalendarItem | TaskItem | ContactItem
R = TypeVar("R", CalendarItem, TaskItem, ContactItem)

TRUE: Final = "1"
FALSE: Final = "0"

# Sub-fields of a composite value are named "<field>.<part>" so each part merges on its own
# (a new street in the mailbox and a new city in Salesforce both survive).
_MAILING_PARTS: Final = tuple(f.name for f in dataclasses.fields(PostalAddress))

EVENT_FIELDS: Final[tuple[str, ...]] = ("subject", "start", "end", "all_day", "location", "show_as")
TASK_FIELDS: Final[tuple[str, ...]] = ("subject", "due", "completed", "priority", "notes")
CONTACT_FIELDS: Final[tuple[str, ...]] = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "mobile_phone",
    "title",
    "department",
    "company",
    *(f"mailing.{part}" for part in _MAILING_PARTS),
    "notes",
)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def text(value: str) -> str:
    """Normalise free text: unify line ends and trim the outer whitespace services tend to drop."""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def encode_datetime(value: datetime) -> str:
    """An aware datetime as UTC to the second (Salesforce keeps no sub-second part)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decode_datetime(value: str) -> datetime:
    """Inverse of `encode_datetime`."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _encode_bool(value: bool) -> str:
    return TRUE if value else FALSE


def _decode_bool(value: str) -> bool:
    return value == TRUE


def _encode_date(value: date | None) -> str:
    return value.isoformat() if value else ""


def _decode_date(value: str) -> date | None:
    return date.fromisoformat(value) if value else None


def _decode_show_as(value: str) -> ShowAs:
    try:
        return ShowAs(value)
    except ValueError:
        return ShowAs.BUSY


def _decode_priority(value: str) -> Priority:
    try:
        return Priority(value)
    except ValueError:
        return Priority.NORMAL


def _identity(value: str) -> str:
    return value


# How each base key turns back into a typed value.
_DECODERS: Final[dict[type, dict[str, Callable[[str], object]]]] = {
    CalendarItem: {
        "subject": _identity,
        "start": decode_datetime,
        "end": decode_datetime,
        "all_day": _decode_bool,
        "location": _identity,
        "show_as": _decode_show_as,
    },
    TaskItem: {
        "subject": _identity,
        "due": _decode_date,
        "completed": _decode_bool,
        "priority": _decode_priority,
        "notes": _identity,
    },
    ContactItem: {name: _identity for name in CONTACT_FIELDS},
}


def fields_of(item: SyncedItem) -> dict[str, str]:
    """The normalised synced field values of an item (what `Link.fields` stores for it)."""
    if isinstance(item, CalendarItem):
        return {
            "subject": text(item.subject),
            "start": encode_datetime(item.start),
            "end": encode_datetime(item.end),
            "all_day": _encode_bool(item.all_day),
            "location": text(item.location),
            "show_as": item.show_as.value,
        }
    if isinstance(item, TaskItem):
        return {
            "subject": text(item.subject),
            "due": _encode_date(item.due),
            "completed": _encode_bool(item.completed),
            "priority": item.priority.value,
            "notes": text(item.notes),
        }
    values = {
        "first_name": text(item.first_name),
        "last_name": text(item.last_name),
        # Salesforce compares email addresses case-insensitively; so do we.
        "email": text(item.email).lower(),
        "phone": text(item.phone),
        "mobile_phone": text(item.mobile_phone),
        "title": text(item.title),
        "department": text(item.department),
        "company": text(item.company),
        "notes": text(item.notes),
    }
    for part in _MAILING_PARTS:
        values[f"mailing.{part}"] = text(str(getattr(item.mailing, part)))
    return values


def typed_changes(
    record_type: type[SyncedItem], values: Mapping[str, str], complete: Mapping[str, str] | None = None
) -> dict[str, object]:
    """Turn base strings into `Update.changes`: item field names mapped to typed values.

    Composite parts ("mailing.city") are folded into their field ("mailing": PostalAddress); parts
    that `values` lacks are taken from `complete` (the item's full current values), else empty.
    """
    decoders = _DECODERS[record_type]
    changes: dict[str, object] = {}
    composite: set[str] = set()
    for key, value in values.items():
        if "." in key:
            composite.add(key.split(".", 1)[0])
            continue
        decode = decoders.get(key)
        if decode is not None:
            changes[key] = decode(value)
    if "mailing" in composite:
        rest = complete or {}
        changes["mailing"] = PostalAddress(
            **{
                part: values.get(f"mailing.{part}", rest.get(f"mailing.{part}", ""))
                for part in _MAILING_PARTS
            }
        )
    return changes


_BLANKS: Final[dict[type, SyncedItem]] = {
    CalendarItem: CalendarItem(id="", subject="", start=_EPOCH, end=_EPOCH),
    TaskItem: TaskItem(id="", subject=""),
    ContactItem: ContactItem(id=""),
}


def item_from_fields(record_type: type[R], values: Mapping[str, str], **overrides: Any) -> R:
    """Rebuild an item from base values (e.g. to re-create one deleted on one side).

    Keys the base lacks keep the record type's defaults; `overrides` set other fields (id,
    salesforce_id, owner_id, …).
    """
    known = {k: v for k, v in values.items() if k in _DECODERS[record_type] or k.startswith("mailing.")}
    # Typed as Any: the values were decoded per field above, which the checker cannot follow.
    values_typed: dict[str, Any] = {**typed_changes(record_type, known), **overrides}
    return cast(R, dataclasses.replace(_BLANKS[record_type], **values_typed))


def apply_fields(item: R, values: Mapping[str, str]) -> R:
    """`item` with the given base values applied (what the item looks like after an update)."""
    changes: dict[str, Any] = typed_changes(type(item), values, fields_of(item))
    return dataclasses.replace(item, **changes)
