"""Calendar API event JSON in and out: parsing and rendering starts and ends, and building the
stored resource from a client's body (validation, server-set fields, attendees' flags)."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from datetime import date, datetime, time, tzinfo
from typing import Any

from rgsync.sandbox.google import recurrence as rrule
from rgsync.sandbox.google.calendar.records import (
    RESPONSE_STATUSES,
    SERVER_FIELDS,
    STATUSES,
    TRANSPARENCIES,
    VISIBILITIES,
    When,
)
from rgsync.sandbox.google.common import GoogleApiError, bad_request, rfc3339


class EventShaping:
    """The JSON side of the calendar: turns a client's event body into the stored resource and
    renders starts and ends as Google does. `CalendarStore` supplies the calendar's address, clock
    and default time zone."""

    address: str
    clock: Callable[[], datetime]
    zone: tzinfo

    # --- times -----------------------------------------------------------------------------------

    def _parse_when(self, value: Any, what: str) -> When:
        if not isinstance(value, dict) or not (value.get("date") or value.get("dateTime")):
            raise bad_request(f"Missing {what} time.", reason="required")
        zone_name = value.get("timeZone")
        if zone_name is not None:
            try:
                rrule.zone(str(zone_name))
            except rrule.RecurrenceError:
                raise bad_request(f"Invalid time zone definition for {what} time.") from None
        if value.get("date") and value.get("dateTime"):
            raise bad_request(f"Invalid {what} time.")
        if value.get("date"):
            try:
                return When(date.fromisoformat(str(value["date"])), None)
            except ValueError:
                raise bad_request(f"Invalid {what} time.") from None
        try:
            moment = datetime.fromisoformat(str(value["dateTime"]))
        except ValueError:
            raise bad_request(f"Invalid {what} time.") from None
        if moment.tzinfo is None:
            if not zone_name:
                raise bad_request(f"Missing time zone definition for {what} time.", reason="required")
            moment = moment.replace(tzinfo=rrule.zone(str(zone_name)))
        return When(moment.replace(microsecond=0), str(zone_name) if zone_name else None)

    def _zone_of(self, when: When) -> tzinfo:
        return rrule.zone(when.zone_name) if when.zone_name else self.zone

    def _render_when(self, when: When) -> dict[str, Any]:
        if isinstance(when.value, datetime):
            local = when.value.astimezone(self._zone_of(when))
            text = local.isoformat()
            if text.endswith("+00:00"):
                text = text[:-6] + "Z"
            rendered: dict[str, Any] = {"dateTime": text}
            if when.zone_name:
                rendered["timeZone"] = when.zone_name
            return rendered
        return {"date": when.value.isoformat()}

    def _bounds(self, resource: dict[str, Any]) -> tuple[datetime, datetime]:
        """An event's start and end as aware datetimes (all-day days start at local midnight)."""
        start = self._parse_when(resource["start"], "start")
        end = self._parse_when(resource["end"], "end")
        return self._moment(start), self._moment(end)

    def _moment(self, when: When) -> datetime:
        if isinstance(when.value, datetime):
            return when.value
        return datetime.combine(when.value, time(0)).replace(tzinfo=self.zone)

    # --- building resources ----------------------------------------------------------------------

    def _build(
        self, body: dict[str, Any], *, event_id: str, previous: dict[str, Any] | None, from_client: bool
    ) -> dict[str, Any]:
        start = self._parse_when(body.get("start"), "start")
        end = self._parse_when(body.get("end"), "end")
        if start.all_day != end.all_day:
            raise bad_request("Start and end times must either both be date or both be dateTime.")
        if self._moment(end) <= self._moment(start):
            raise GoogleApiError(
                400, "timeRangeEmpty", "The specified time range is empty.", location="end.dateTime"
            )
        lines = body.get("recurrence")
        if lines:
            if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
                raise bad_request("Invalid recurrence rule.")
            if not start.all_day and not start.zone_name:
                raise bad_request("Missing time zone definition for start time.", reason="required")
            try:
                rrule.parse(lines, self._zone_of(start))
            except rrule.RecurrenceError as exc:
                raise bad_request(f"Invalid recurrence rule. {exc}") from None
        for key, allowed in (
            ("status", STATUSES),
            ("visibility", VISIBILITIES),
            ("transparency", TRANSPARENCIES),
        ):
            if key in body and body[key] is not None and body[key] not in allowed:
                raise bad_request(f"Invalid value for: {key}")
        extended = body.get("extendedProperties")
        if extended is not None:
            if not isinstance(extended, dict):
                raise bad_request("Invalid value for: extendedProperties")
            for scope, values in extended.items():
                if scope not in ("private", "shared") or not isinstance(values, dict):
                    raise bad_request("Invalid value for: extendedProperties")
                if not all(isinstance(v, str) for v in values.values()):
                    raise bad_request("Invalid value for: extendedProperties")

        now = rfc3339(self.clock())
        resource: dict[str, Any] = {"kind": "calendar#event", "etag": "", "id": event_id}
        for key, value in body.items():
            if key not in SERVER_FIELDS and value is not None:
                resource[key] = copy.deepcopy(value)
        resource["status"] = body.get("status") or "confirmed"
        resource["start"] = self._render_when(start)
        resource["end"] = self._render_when(end)
        me = {"email": self.address, "self": True}
        if from_client:
            kept = previous or {}
            resource["organizer"] = copy.deepcopy(kept.get("organizer", me))
            resource["creator"] = copy.deepcopy(kept.get("creator", me))
            resource["created"] = kept.get("created", now)
            resource["iCalUID"] = kept.get("iCalUID") or body.get("iCalUID") or f"{event_id}@google.com"
        else:
            resource["organizer"] = copy.deepcopy(body.get("organizer") or me)
            resource["creator"] = copy.deepcopy(body.get("creator") or resource["organizer"])
            resource["created"] = body.get("created") or now
            resource["iCalUID"] = body.get("iCalUID") or f"{event_id}@google.com"
        for person in (resource["organizer"], resource["creator"]):
            if str(person.get("email", "")).lower() == self.address.lower():
                person["self"] = True
        resource["updated"] = now if from_client or not body.get("updated") else body["updated"]
        resource["htmlLink"] = "https://www.google.com/calendar/event?eid=" + base64.urlsafe_b64encode(
            f"{event_id} {self.address}".encode()
        ).decode("ascii").rstrip("=")
        resource["sequence"] = int(body.get("sequence") or (previous or {}).get("sequence") or 0)
        resource.setdefault("reminders", {"useDefault": True})
        resource.setdefault("eventType", "default")
        if "attendees" in resource:
            resource["attendees"] = self._attendees(resource["attendees"], resource["organizer"])
        return resource

    def _attendees(self, attendees: Any, organizer: dict[str, Any]) -> list[dict[str, Any]]:
        if not isinstance(attendees, list):
            raise bad_request("Invalid value for: attendees")
        result: list[dict[str, Any]] = []
        organizer_email = str(organizer.get("email", "")).lower()
        for attendee in attendees:
            if not isinstance(attendee, dict) or not attendee.get("email"):
                raise bad_request("Missing attendee email.", reason="required")
            item = dict(attendee)
            status = item.get("responseStatus") or "needsAction"
            if status not in RESPONSE_STATUSES:
                raise bad_request("Invalid attendee response status.")
            item["responseStatus"] = status
            email = str(item["email"]).lower()
            if email == self.address.lower():
                item["self"] = True
            if email == organizer_email:
                item["organizer"] = True
            result.append(item)
        return result
