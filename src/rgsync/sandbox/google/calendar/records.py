"""What the Calendar emulator keeps: the API's limits and enumerations, an event with the change
number that stamps it, and a parsed start or end."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

MAX_LIST_RESULTS = 2500
DEFAULT_LIST_RESULTS = 250
# Open-ended series are expanded this far (Google itself stops expanding a few years out).
MAX_INSTANCES = 730
EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
INSTANCE_ID = re.compile(r"^(?P<series>[a-v0-9]{5,1024})_(?P<stamp>\d{8}(?:T\d{6}Z)?)$")
# Parameters Google refuses together with syncToken.
NOT_WITH_SYNC_TOKEN = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)
# Changes that make Google bump an event's `sequence` (what attendees' invitations depend on).
SEQUENCE_FIELDS = ("start", "end", "recurrence", "location", "summary")
SERVER_FIELDS = ("kind", "etag", "id", "htmlLink", "created", "updated", "iCalUID", "creator", "organizer")
STATUSES = ("confirmed", "tentative", "cancelled")
VISIBILITIES = ("default", "public", "private", "confidential")
TRANSPARENCIES = ("opaque", "transparent")
RESPONSE_STATUSES = ("needsAction", "declined", "tentative", "accepted")


@dataclass
class StoredEvent:
    """An event (a single event, a series, or a series exception) and its change number."""

    resource: dict[str, Any]
    changed: int
    order: int

    @property
    def cancelled(self) -> bool:
        """Whether the event is deleted (Google keeps it as status 'cancelled')."""
        return self.resource.get("status") == "cancelled"


@dataclass(frozen=True)
class When:
    """A parsed start or end: an aware datetime (timed) or a date (all-day) and its time zone name."""

    value: datetime | date
    zone_name: str | None

    @property
    def all_day(self) -> bool:
        """Whether this is a date (all-day) rather than a date-time."""
        return not isinstance(self.value, datetime)
