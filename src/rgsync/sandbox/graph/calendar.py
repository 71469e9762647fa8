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
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rgsync.sandbox.graph.common import (
    GraphError,
    Json,
    change_key,
    date_time_zone,
    deep_copy,
    extended_properties,
    iso_utc,
    new_id,
    parse_date_time_zone,
    read_extended_properties,
    zone,
)
from rgsync.sandbox.graph.delta import ChangeLog
from rgsync.sandbox.graph.recurrence import check_recurrence, occurrence_starts

COLLECTION = "calendar"
SHOW_AS = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")
SENSITIVITY = ("normal", "personal", "private", "confidential")
RESPONSES = ("none", "organizer", "tentativelyAccepted", "accepted", "declined", "notResponded")
_OCCURRENCE = "_occ_"
# Fields a PATCH may set directly (stored as given); the rest are handled one by one.
_PLAIN_FIELDS = (
    "subject",
    "importance",
    "categories",
    "isReminderOn",
    "reminderMinutesBeforeStart",
    "responseRequested",
    "hideAttendees",
    "allowNewTimeProposals",
)


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


class CalendarStore:
    """Events of the primary calendar, their change log and the notifications Outlook would send."""

    def __init__(self, address: str, name: str, clock: Callable[[], datetime], log: ChangeLog) -> None:
        self.address = address
        self.name = name
        self.clock = clock
        self.log = log
        self.calendar_id = new_id("AAMkAC", 40)
        self.events: dict[str, StoredEvent] = {}
        self.notifications: list[Notification] = []

    # -- lookups ---------------------------------------------------------------------------------
    def resolve(self, event_id: str) -> tuple[StoredEvent, str | None]:
        """The stored event for an id, and the occurrence's original start when the id names one."""
        master_id, marker, stamp = event_id.partition(_OCCURRENCE)
        stored = self.events.get(master_id)
        if stored is None or (marker and stored.recurrence is None):
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        if marker:
            original = _stamp_to_iso(stamp)
            if (
                original is None
                or original in stored.cancelled_occurrences
                or not self._is_occurrence(stored, original)
            ):
                raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            return stored, original
        return stored, None

    def find_transaction(self, transaction_id: str) -> StoredEvent | None:
        """The event created with this transactionId, if it still exists."""
        return next((e for e in self.events.values() if e.transaction_id == transaction_id), None)

    def _is_occurrence(self, stored: StoredEvent, original_iso: str) -> bool:
        moment = datetime.fromisoformat(original_iso)
        for start in _starts(stored, moment - timedelta(days=1), moment + timedelta(days=1)):
            if start == moment:
                return True
        return False

    # -- writes ----------------------------------------------------------------------------------
    def create(
        self, body: Mapping[str, Any], *, method: str = "POST", path: str = "/me/events"
    ) -> tuple[StoredEvent, bool]:
        """Create an event from a Graph event body; returns (event, created). With a transactionId
        already used by an event of this calendar, that event is returned and nothing is created."""
        transaction = body.get("transactionId")
        if transaction is not None:
            if not isinstance(transaction, str) or not transaction:
                raise GraphError(
                    400, "ErrorInvalidRequest", "The property 'transactionId' must be a non-empty string."
                )
            existing = self.find_transaction(transaction)
            if existing is not None:
                return existing, False
        if "start" not in body or "end" not in body:
            raise GraphError(
                400,
                "ErrorInvalidRequest",
                "Your request can't be completed. The event needs a 'start' and an 'end'.",
            )
        now = iso_utc(self.clock())
        stored = StoredEvent(
            id=new_id("AAMkAE", 64),
            subject="",
            start=datetime.min.replace(tzinfo=UTC),
            end=datetime.min.replace(tzinfo=UTC),
        )
        stored.ical_uid = "040000008200E00074C5B7101A82E008" + new_id("", 48).upper()
        stored.organizer = {"emailAddress": {"name": self.name, "address": self.address}}
        stored.created = now
        stored.transaction_id = transaction
        self._apply(stored, body, creating=True)
        stored.modified = now
        stored.change_key = change_key()
        self.events[stored.id] = stored
        self.log.record(COLLECTION, stored.id, None)
        if stored.is_organizer and stored.others(self.address) and not stored.is_cancelled:
            self._notify("invitation", stored, method, path)
        return stored, True

    def update(
        self, event_id: str, changes: Mapping[str, Any], *, method: str = "PATCH", path: str = ""
    ) -> StoredEvent:
        """PATCH an event or one occurrence (which then becomes an exception)."""
        stored, original = self.resolve(event_id)
        before = deep_copy(stored)
        if "transactionId" in changes and changes["transactionId"] != stored.transaction_id:
            raise GraphError(
                400,
                "ErrorInvalidPropertyUpdate",
                "The property 'transactionId' can't be changed once the event is created.",
            )
        if original is not None:
            exception = stored.exceptions.setdefault(original, {})
            for name, value in changes.items():
                if name in (
                    "subject",
                    "location",
                    "showAs",
                    "start",
                    "end",
                    "body",
                    "sensitivity",
                    "isCancelled",
                ):
                    if name in ("start", "end"):
                        parse_date_time_zone(value, name)
                    exception[name] = deep_copy(value)
        else:
            self._apply(stored, changes, creating=False)
        stored.modified = iso_utc(self.clock())
        stored.change_key = change_key()
        self.log.record(COLLECTION, stored.id, before)
        visible = {"start", "end", "location", "subject", "attendees", "isAllDay", "recurrence", "body"}
        if (
            stored.is_organizer
            and (stored.others(self.address) or before.others(self.address))
            and visible & set(changes)
        ):
            self._notify("update", stored, method, path or f"/me/events/{event_id}")
        return stored

    def delete(self, event_id: str, *, method: str = "DELETE", path: str = "") -> None:
        """Delete an event (a whole series when given the master) or one occurrence."""
        stored, original = self.resolve(event_id)
        before = deep_copy(stored)
        if original is not None:
            stored.cancelled_occurrences.add(original)
            stored.exceptions.pop(original, None)
            stored.modified = iso_utc(self.clock())
            stored.change_key = change_key()
        else:
            del self.events[stored.id]
        self.log.record(COLLECTION, stored.id, before)
        if stored.is_organizer and stored.others(self.address) and not stored.is_cancelled:
            self._notify("cancellation", stored, method, path or f"/me/events/{event_id}")

    def _notify(self, kind: str, stored: StoredEvent, method: str, path: str) -> None:
        self.notifications.append(
            Notification(kind, stored.id, stored.subject, stored.others(self.address), method, path)
        )

    def _apply(self, stored: StoredEvent, body: Mapping[str, Any], *, creating: bool) -> None:
        for name in _PLAIN_FIELDS:
            if name in body:
                if name == "subject":
                    stored.subject = str(body[name] or "")
                else:
                    stored.extra[name] = deep_copy(body[name])
        if "body" in body:
            value = body["body"] or {}
            stored.body = {
                "contentType": str(value.get("contentType", "text")).lower(),
                "content": str(value.get("content", "")),
            }
        if "location" in body:
            value = body["location"] or {}
            stored.location = str(value.get("displayName", "")) if isinstance(value, Mapping) else str(value)
        if "showAs" in body:
            stored.show_as = _choice(body["showAs"], SHOW_AS, "showAs")
        if "sensitivity" in body:
            stored.sensitivity = _choice(body["sensitivity"], SENSITIVITY, "sensitivity")
        if "isCancelled" in body:
            stored.is_cancelled = bool(body["isCancelled"])
        if "iCalUId" in body and creating and body["iCalUId"]:
            stored.ical_uid = str(body["iCalUId"])
        if "organizer" in body and creating and body["organizer"]:
            stored.organizer = deep_copy(body["organizer"])
        if "responseStatus" in body and creating:
            stored.response = _choice(
                (body["responseStatus"] or {}).get("response", "organizer"), RESPONSES, "responseStatus"
            )
        if "attendees" in body:
            stored.attendees = [_attendee(a) for a in body["attendees"] or []]
        if "singleValueExtendedProperties" in body:
            stored.extended.update(read_extended_properties(body))
        if "recurrence" in body:
            stored.recurrence = check_recurrence(body["recurrence"]) if body["recurrence"] else None
        all_day = bool(body.get("isAllDay", stored.is_all_day))
        if "start" in body or "end" in body or "isAllDay" in body:
            start, start_zone = (
                parse_date_time_zone(body["start"], "start")
                if "start" in body
                else (stored.start, stored.time_zone)
            )
            end, _ = (
                parse_date_time_zone(body["end"], "end") if "end" in body else (stored.end, stored.time_zone)
            )
            if end < start:
                raise GraphError(
                    400,
                    "ErrorInvalidRequest",
                    "The end time of the event can't be earlier than its start time.",
                )
            if all_day:
                local_zone = zone(start_zone)
                for moment in (start, end):
                    local = moment.astimezone(local_zone)
                    if (local.hour, local.minute, local.second) != (0, 0, 0):
                        raise GraphError(
                            400,
                            "ErrorPropertyValidationFailure",
                            "At least one property failed validation: an all-day event's start and end must be at midnight.",
                        )
                if end == start:
                    raise GraphError(
                        400, "ErrorPropertyValidationFailure", "An all-day event must last at least one day."
                    )
            stored.start, stored.end, stored.time_zone, stored.is_all_day = start, end, start_zone, all_day

    # -- reading ---------------------------------------------------------------------------------
    def instances(
        self, stored: StoredEvent | None, window_start: datetime, window_end: datetime
    ) -> list[Instance]:
        """What a calendar view over the window shows of this event (nothing for None)."""
        if stored is None:
            return []
        if stored.recurrence is None:
            if stored.start < window_end and (
                stored.end > window_start or (stored.end == stored.start and stored.start >= window_start)
            ):
                return [Instance(stored.id, stored, stored.start, stored.end, "singleInstance")]
            return []
        found: list[Instance] = []
        duration = stored.end - stored.start
        for original in _starts(stored, window_start - duration - timedelta(days=1), window_end):
            iso = original.isoformat()
            if iso in stored.cancelled_occurrences:
                continue
            changes = stored.exceptions.get(iso, {})
            start = parse_date_time_zone(changes["start"], "start")[0] if "start" in changes else original
            end = parse_date_time_zone(changes["end"], "end")[0] if "end" in changes else start + duration
            if start < window_end and end > window_start:
                occurrence_id = f"{stored.id}{_OCCURRENCE}{original.strftime('%Y%m%dT%H%M%SZ')}"
                found.append(
                    Instance(
                        occurrence_id, stored, start, end, "exception" if changes else "occurrence", changes
                    )
                )
        return found

    def instance_at(self, stored: StoredEvent, original_iso: str) -> Instance:
        """The occurrence of a series whose original start is `original_iso`; Graph's 404 if none."""
        moment = datetime.fromisoformat(original_iso)
        stamp = moment.strftime("%Y%m%dT%H%M%SZ")
        for instance in self.instances(stored, moment - timedelta(days=400), moment + timedelta(days=400)):
            if instance.id.endswith(_OCCURRENCE + stamp):
                return instance
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")

    def render_instance(self, instance: Instance, time_zone: str = "UTC") -> Json:
        """An instance as Graph's event resource, times in `time_zone` (Prefer outlook.timezone)."""
        stored = instance.master
        changes = instance.changes
        body = self.render(stored, time_zone)
        body["id"] = instance.id
        body["type"] = instance.kind
        if instance.kind != "singleInstance":
            body["seriesMasterId"] = stored.id
            body["recurrence"] = None
            original = _stamp_to_iso(instance.id.rpartition(_OCCURRENCE)[2])
            body["originalStart"] = iso_utc(datetime.fromisoformat(original)) if original else None
        body["start"] = self._when(instance.start, stored, time_zone)
        body["end"] = self._when(instance.end, stored, time_zone)
        for name in ("subject", "showAs", "sensitivity", "isCancelled", "body"):
            if name in changes:
                body[name] = deep_copy(changes[name])
        if "location" in changes:
            value = changes["location"] or {}
            body["location"] = _location(
                str(value.get("displayName", "")) if isinstance(value, Mapping) else str(value)
            )
        return body

    def _when(self, moment: datetime, stored: StoredEvent, time_zone: str) -> Json:
        if stored.is_all_day:
            # All-day events float: midnight to midnight whatever zone the client reads them in.
            local = moment.astimezone(zone(stored.time_zone)).replace(tzinfo=None)
            return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S") + ".0000000", "timeZone": time_zone}
        return date_time_zone(moment, time_zone)

    def render(
        self,
        stored: StoredEvent,
        time_zone: str = "UTC",
        *,
        expand_property: str | None = None,
        expand: bool = False,
    ) -> Json:
        """The event (single or series master) as Graph's event resource."""
        body: Json = {
            "@odata.etag": f'W/"{stored.change_key}"',
            "id": stored.id,
            "createdDateTime": stored.created,
            "lastModifiedDateTime": stored.modified,
            "changeKey": stored.change_key,
            "categories": list(stored.extra.get("categories", [])),
            "transactionId": stored.transaction_id,
            "originalStartTimeZone": stored.time_zone,
            "originalEndTimeZone": stored.time_zone,
            "iCalUId": stored.ical_uid,
            "uid": stored.ical_uid,
            "reminderMinutesBeforeStart": stored.extra.get("reminderMinutesBeforeStart", 15),
            "isReminderOn": stored.extra.get("isReminderOn", True),
            "hasAttachments": False,
            "subject": stored.subject,
            "bodyPreview": _preview(stored.body),
            "importance": stored.extra.get("importance", "normal"),
            "sensitivity": stored.sensitivity,
            "isAllDay": stored.is_all_day,
            "isCancelled": stored.is_cancelled,
            "isOrganizer": stored.is_organizer,
            "responseRequested": stored.extra.get("responseRequested", True),
            "seriesMasterId": None,
            "showAs": stored.show_as,
            "type": "seriesMaster" if stored.recurrence else "singleInstance",
            "webLink": f"https://outlook.office365.com/owa/?itemid={stored.id}&exvsurl=1&path=/calendar/item",
            "onlineMeetingUrl": None,
            "isOnlineMeeting": False,
            "onlineMeetingProvider": "unknown",
            "allowNewTimeProposals": stored.extra.get("allowNewTimeProposals", True),
            "isDraft": False,
            "hideAttendees": stored.extra.get("hideAttendees", False),
            "responseStatus": {"response": stored.response, "time": "0001-01-01T00:00:00Z"},
            "body": deep_copy(stored.body),
            "start": self._when(stored.start, stored, time_zone),
            "end": self._when(stored.end, stored, time_zone),
            "location": _location(stored.location),
            "locations": [_location(stored.location)] if stored.location else [],
            "recurrence": deep_copy(stored.recurrence),
            "attendees": deep_copy(stored.attendees),
            "organizer": deep_copy(stored.organizer),
            "onlineMeeting": None,
        }
        if expand:
            body["singleValueExtendedProperties"] = extended_properties(stored.extended, expand_property)
        return body

    def view_rows(
        self, position: int | None, window_start: datetime, window_end: datetime, time_zone: str
    ) -> list[Json]:
        """The rows of a calendar-view delta round: everything in the window (position None), or
        what changed since `position`: changed instances, and `@removed` for instances that left
        the view (Graph also reports changes outside the window as removed)."""
        rows: list[Json] = []
        if position is None:
            for stored in sorted(self.events.values(), key=lambda e: e.start):
                rows += [
                    self.render_instance(i, time_zone)
                    for i in self.instances(stored, window_start, window_end)
                ]
            return rows
        for event_id, before in self.log.changed_since(COLLECTION, position).items():
            current = self.events.get(event_id)
            now_seen = self.instances(current, window_start, window_end)
            was_seen = self.instances(before, window_start, window_end)
            rows += [self.render_instance(i, time_zone) for i in now_seen]
            shown = {i.id for i in now_seen}
            gone = [i.id for i in was_seen if i.id not in shown]
            if not now_seen and not was_seen:
                gone.append(event_id)
            rows += [removed(i) for i in gone]
        return rows

    def all_events(self) -> Iterator[StoredEvent]:
        """Single events and series masters, oldest first."""
        yield from sorted(self.events.values(), key=lambda e: e.start)


def removed(item_id: str) -> Json:
    """A delta row for an item that left the collection."""
    return {"@odata.type": "#microsoft.graph.event", "id": item_id, "@removed": {"reason": "deleted"}}


def _preview(body: Mapping[str, Any]) -> str:
    import re

    text = str(body.get("content", ""))
    if str(body.get("contentType", "")).lower() == "html":
        text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(text.split())[:255]


def _location(name: str) -> Json:
    return {
        "displayName": name,
        "locationType": "default",
        "uniqueIdType": "unknown" if not name else "private",
        "address": {},
        "coordinates": {},
    }


def _choice(value: object, allowed: tuple[str, ...], name: str) -> str:
    text = str(value)
    for option in allowed:
        if option.lower() == text.lower():
            return option
    raise GraphError(
        400,
        "ErrorInvalidRequest",
        f"The value '{text}' of property '{name}' is not valid; use one of: {', '.join(allowed)}.",
    )


def _attendee(value: Any) -> Json:
    if (
        not isinstance(value, Mapping)
        or not isinstance(value.get("emailAddress"), Mapping)
        or not value["emailAddress"].get("address")
    ):
        raise GraphError(
            400,
            "ErrorInvalidRecipients",
            "An attendee is {'emailAddress': {'address': ...}, 'type': 'required'}.",
        )
    status = value.get("status") or {}
    return {
        "type": _choice(value.get("type", "required"), ("required", "optional", "resource"), "type"),
        "status": {
            "response": _choice(status.get("response", "none"), RESPONSES, "status"),
            "time": str(status.get("time", "0001-01-01T00:00:00Z")),
        },
        "emailAddress": {
            "name": str(value["emailAddress"].get("name") or value["emailAddress"]["address"]),
            "address": str(value["emailAddress"]["address"]),
        },
    }


def _stamp_to_iso(stamp: str) -> str | None:
    try:
        return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).isoformat()
    except ValueError:
        return None


def _starts(stored: StoredEvent, _window_start: datetime, window_end: datetime) -> Iterator[datetime]:
    """Original starts of a stored series' occurrences up to `window_end`."""
    assert stored.recurrence is not None
    return occurrence_starts(stored.recurrence, stored.start, stored.time_zone, window_end)
