"""The primary calendar: events, recurring series expanded into occurrences, and the notifications
Outlook would have sent.

A calendar view (`/me/calendarView/delta?startDateTime=…&endDateTime=…`) shows single events and
the occurrences/exceptions of recurring series that overlap the window, each occurrence with its own
id and the series' `seriesMasterId`; series masters themselves are not shown.

Outlook sends mail on the organizer's behalf when an event with attendees is created, changed in a
way attendees see, or deleted. The emulator sends nothing but records each such request in
`notifications`, so tests can assert that rgsync never invites anyone.

`transactionId` makes creation idempotent: a POST whose transactionId matches an existing event of
the calendar returns that event instead of creating a second one.

The package: `records` (enumerations, the stored event, an instance a view shows, a notification),
`store` (the events, their writes, recurring series and calendar-view rows) and `rendering` (an
event or instance as Graph's event resource).
"""

from rgsync.sandbox.graph.calendar.records import (
    COLLECTION,
    Instance,
    Notification,
    StoredEvent,
)
from rgsync.sandbox.graph.calendar.rendering import removed
from rgsync.sandbox.graph.calendar.store import CalendarStore

__all__ = ["COLLECTION", "CalendarStore", "Instance", "Notification", "StoredEvent", "removed"]
