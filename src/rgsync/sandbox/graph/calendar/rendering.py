"""An event as Graph's event resource: a single event or series master, one occurrence or exception
of a series, and the delta row of an event that left a view."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rgsync.sandbox.graph.calendar.records import OCCURRENCE, Instance, StoredEvent, stamp_to_iso
from rgsync.sandbox.graph.common import (
    Json,
    date_time_zone,
    deep_copy,
    extended_properties,
    iso_utc,
    zone,
)


class EventRendering:
    """Renders stored events and instances as Graph's event resources; part of `CalendarStore`."""

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
            original = stamp_to_iso(instance.id.rpartition(OCCURRENCE)[2])
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
