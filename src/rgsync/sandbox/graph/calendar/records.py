"""What the Graph calendar keeps: its enumerations, a stored event or series master, an instance a
calendar view shows, a notification Outlook would have sent, and the occurrence starts of a series."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rgsync.sandbox.graph.common import Json
from rgsync.sandbox.graph.recurrence import occurrence_starts

COLLECTION = "calendar"
SHOW_AS = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")
SENSITIVITY = ("normal", "personal", "private", "confidential")
RESPONSES = ("none", "organizer", "tentativelyAccepted", "accepted", "declined", "notResponded")
OCCURRENCE = "_occ_"


@dataclass
class Notification:
    """A message Outlook would have sent to attendees: an invitation, an update or a cancellation."""

    kind: str
    event_id: str
    subject: str
    recipients: tuple[str, ...]
    method: str
    path: str


@dataclass
class StoredEvent:
    """A single event or a series master. Times are aware UTC datetimes; `time_zone` is the zone
    the client gave (all-day events are midnight to midnight in it)."""

    id: str
    subject: str
    start: datetime
    end: datetime
    time_zone: str = "UTC"
    is_all_day: bool = False
    body: Json = field(default_factory=lambda: {"contentType": "text", "content": ""})
    location: str = ""
    show_as: str = "busy"
    sensitivity: str = "normal"
    is_cancelled: bool = False
    ical_uid: str = ""
    organizer: Json = field(default_factory=dict)
    attendees: list[Json] = field(default_factory=list)
    response: str = "organizer"
    transaction_id: str | None = None
    extended: dict[str, str] = field(default_factory=dict)
    recurrence: Json | None = None
    exceptions: dict[str, Json] = field(default_factory=dict)  # original start (ISO UTC) -> changes
    cancelled_occurrences: set[str] = field(default_factory=set)
    extra: Json = field(default_factory=dict)
    created: str = ""
    modified: str = ""
    change_key: str = ""

    @property
    def is_organizer(self) -> bool:
        """True when the calendar's owner organizes the event (Outlook notifies only then)."""
        return self.response == "organizer"

    def others(self, owner: str) -> tuple[str, ...]:
        """Attendee addresses other than the calendar's owner."""
        found = []
        for attendee in self.attendees:
            address = str((attendee.get("emailAddress") or {}).get("address", "")).lower()
            if address and address != owner.lower():
                found.append(address)
        return tuple(found)


@dataclass(frozen=True)
class Instance:
    """What a calendar view shows: a single event, or one occurrence/exception of a series."""

    id: str
    master: StoredEvent
    start: datetime
    end: datetime
    kind: str  # singleInstance | occurrence | exception
    changes: Mapping[str, Any] = field(default_factory=dict)


def stamp_to_iso(stamp: str) -> str | None:
    try:
        return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).isoformat()
    except ValueError:
        return None


def starts_of(stored: StoredEvent, _window_start: datetime, window_end: datetime) -> Iterator[datetime]:
    """Original starts of a stored series' occurrences up to `window_end`."""
    assert stored.recurrence is not None
    return occurrence_starts(stored.recurrence, stored.start, stored.time_zone, window_end)
