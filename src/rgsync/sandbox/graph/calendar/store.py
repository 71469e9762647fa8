"""The primary calendar's events: lookups (occurrence ids included), creation (idempotent by
transactionId), updates and deletions with the notifications Outlook would send, recurring series
expanded over a window, and the rows of a calendar-view delta round."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from rgsync.sandbox.graph.calendar.records import (
    COLLECTION,
    OCCURRENCE,
    RESPONSES,
    SENSITIVITY,
    SHOW_AS,
    Instance,
    Notification,
    StoredEvent,
    stamp_to_iso,
    starts_of,
)
from rgsync.sandbox.graph.calendar.rendering import EventRendering, removed
from rgsync.sandbox.graph.common import (
    GraphError,
    Json,
    change_key,
    deep_copy,
    iso_utc,
    new_id,
    parse_date_time_zone,
    read_extended_properties,
    zone,
)
from rgsync.sandbox.graph.delta import ChangeLog
from rgsync.sandbox.graph.recurrence import check_recurrence

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


class CalendarStore(EventRendering):
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
        master_id, marker, stamp = event_id.partition(OCCURRENCE)
        stored = self.events.get(master_id)
        if stored is None or (marker and stored.recurrence is None):
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        if marker:
            original = stamp_to_iso(stamp)
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
        for start in starts_of(stored, moment - timedelta(days=1), moment + timedelta(days=1)):
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
        for original in starts_of(stored, window_start - duration - timedelta(days=1), window_end):
            iso = original.isoformat()
            if iso in stored.cancelled_occurrences:
                continue
            changes = stored.exceptions.get(iso, {})
            start = parse_date_time_zone(changes["start"], "start")[0] if "start" in changes else original
            end = parse_date_time_zone(changes["end"], "end")[0] if "end" in changes else start + duration
            if start < window_end and end > window_start:
                occurrence_id = f"{stored.id}{OCCURRENCE}{original.strftime('%Y%m%dT%H%M%SZ')}"
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
            if instance.id.endswith(OCCURRENCE + stamp):
                return instance
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")

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
