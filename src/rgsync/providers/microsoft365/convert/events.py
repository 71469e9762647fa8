"""Events: calendar-view rows as CalendarItems, and the bodies of down-synced events and changes.

Invitations (SPEC §4.3 "without sending invitations"): Graph has no switch to create a meeting
without inviting its attendees (EWS had SendToNone). rgsync therefore creates down-synced events
without attendees, so Outlook sends nothing, and lists the Salesforce attendees in the body
('Attendees (not invited): …') so the user still sees who takes part.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from rgsync.model import Attendee, CalendarItem, Response, ShowAs, day_start
from rgsync.providers.microsoft365.convert.values import (
    TAG_PROPERTY,
    address_of,
    body_text,
    date_time_zone,
    local_date,
    parse_date_time_zone,
    parse_instant,
)

ATTENDEE_NOTE = "Attendees (not invited):"
_TRANSACTION = re.compile(r"^rgsync-([A-Za-z0-9]{15,18})-[A-Za-z0-9]+$")
_SHOW_AS_IN = {"free": ShowAs.FREE, "oof": ShowAs.OUT_OF_OFFICE}
_SHOW_AS_OUT = {ShowAs.FREE: "free", ShowAs.OUT_OF_OFFICE: "oof", ShowAs.BUSY: "busy"}
_RESPONSE_IN = {
    "organizer": Response.ORGANIZER,
    "accepted": Response.ACCEPTED,
    "tentativelyAccepted": Response.TENTATIVE,
    "declined": Response.DECLINED,
}


def salesforce_id_of_transaction(transaction_id: object) -> str | None:
    """The Salesforce Id inside an 'rgsync-{id}-{nonce}' transactionId, None for anything else."""
    match = _TRANSACTION.match(str(transaction_id or ""))
    return match.group(1) if match else None


def calendar_item_from_event(event: Mapping[str, Any]) -> CalendarItem:
    """A calendar-view row (single event, occurrence or exception) as a CalendarItem."""
    all_day = bool(event.get("isAllDay"))
    unmapped = ""
    if all_day:
        first = local_date(event.get("start")) or date(1970, 1, 1)
        last = local_date(event.get("end")) or first + timedelta(days=1)
        start, end = day_start(first), day_start(last)
    else:
        start_at, unmapped_start = parse_date_time_zone(event.get("start"))
        end_at, unmapped_end = parse_date_time_zone(event.get("end"))
        start = start_at or datetime(1970, 1, 1, tzinfo=UTC)
        end = end_at or start
        unmapped = unmapped_start or unmapped_end
    organizer = address_of(event.get("organizer"))
    attendees = tuple(
        Attendee(address, _RESPONSE_IN.get(str((a.get("status") or {}).get("response", "")), Response.NONE))
        for a in event.get("attendees") or []
        if (address := address_of(a)) is not None
    )
    response = str((event.get("responseStatus") or {}).get("response") or "")
    my_response = (
        Response.ORGANIZER if event.get("isOrganizer") else _RESPONSE_IN.get(response, Response.NONE)
    )
    return CalendarItem(
        id=str(event["id"]),
        subject=str(event.get("subject") or ""),
        start=start,
        end=end,
        all_day=all_day,
        location=str((event.get("location") or {}).get("displayName") or ""),
        show_as=_SHOW_AS_IN.get(str(event.get("showAs") or ""), ShowAs.BUSY),
        description=strip_attendee_note(body_text(event.get("body"))),
        private=str(event.get("sensitivity") or "normal") in ("private", "confidential"),
        cancelled=bool(event.get("isCancelled")),
        ical_uid=str(event.get("iCalUId") or ""),
        series_id=str(event.get("seriesMasterId") or ""),
        organizer=organizer,
        attendees=attendees,
        my_response=my_response,
        salesforce_id=salesforce_id_of_transaction(event.get("transactionId")),
        timezone_unmapped=unmapped,
        last_modified=parse_instant(event.get("lastModifiedDateTime")),
    )


def strip_attendee_note(text: str) -> str:
    """The description without the attendee list rgsync added to a down-synced event's body."""
    head, marker, _ = text.partition(ATTENDEE_NOTE)
    return head.rstrip() if marker else text


def _event_times(item: CalendarItem, zone_name: str) -> dict[str, Any]:
    if item.all_day:
        return {
            "isAllDay": True,
            "start": {"dateTime": f"{item.start_day.isoformat()}T00:00:00", "timeZone": zone_name},
            "end": {"dateTime": f"{item.end_day.isoformat()}T00:00:00", "timeZone": zone_name},
        }
    return {
        "isAllDay": False,
        "start": date_time_zone(item.start, zone_name),
        "end": date_time_zone(item.end, zone_name),
    }


def event_body(item: CalendarItem, zone_name: str, transaction_id: str) -> dict[str, Any]:
    """The POST body of a down-synced event: no attendees (nobody is invited), the Salesforce
    attendees listed in the body, the origin tag, and an idempotent transactionId."""
    text = item.description
    people = [a.address for a in item.attendees]
    if people:
        listed = ", ".join(f"{p.name} <{p.email}>" if p.name else p.email for p in people)
        text = f"{text}\n\n{ATTENDEE_NOTE} {listed}" if text else f"{ATTENDEE_NOTE} {listed}"
    body: dict[str, Any] = {
        "subject": item.subject,
        "body": {"contentType": "text", "content": text},
        **_event_times(item, zone_name),
        "location": {"displayName": item.location},
        "showAs": _SHOW_AS_OUT.get(item.show_as, "busy"),
        "sensitivity": "private" if item.private else "normal",
        "responseRequested": False,
        "transactionId": transaction_id,
    }
    if item.salesforce_id:
        body["singleValueExtendedProperties"] = [{"id": TAG_PROPERTY, "value": item.salesforce_id}]
    return body


def event_changes(changes: Mapping[str, object], zone_name: str) -> dict[str, Any]:
    """A PATCH body for changed CalendarItem fields (subject, start, end, all_day, location, show_as)."""
    body: dict[str, Any] = {}
    all_day = changes.get("all_day")
    for name, value in changes.items():
        if name == "subject":
            body["subject"] = str(value)
        elif name == "location":
            body["location"] = {"displayName": str(value)}
        elif name == "show_as":
            body["showAs"] = _SHOW_AS_OUT.get(ShowAs(str(value)), "busy")
        elif name == "private":
            body["sensitivity"] = "private" if value else "normal"
        elif name == "all_day":
            body["isAllDay"] = bool(value)
        elif name in ("start", "end") and isinstance(value, datetime):
            if all_day:
                body[name] = {"dateTime": f"{value.date().isoformat()}T00:00:00", "timeZone": zone_name}
            else:
                body[name] = date_time_zone(value, zone_name)
        elif name == "description":
            body["body"] = {"contentType": "text", "content": str(value)}
    return body
