"""Graph resources ↔ rgsync's domain records (messages, events, To Do tasks, contacts).

How rgsync marks what it created in the mailbox (SPEC §4.3, §5, §6.2):

* events: a single-value extended property `TAG_PROPERTY` holding the Salesforce Id (what
  `find_tagged` searches with `$filter`), and a `transactionId` 'rgsync-{Salesforce Id}-{nonce}'
  that makes a retried POST idempotent and, because a calendar-view delta returns it while it
  cannot return extended properties, tells the origin of each event read;
* contacts: the same extended property (read back in a batch of GETs, since a contact delta
  cannot expand it);
* To Do tasks: a linked resource with application name 'Salesforce' and the Salesforce Id as
  external id (todoTask has no extended properties; linked resources are the documented way to
  say where a task came from).

Invitations (SPEC §4.3 "without sending invitations"): Graph has no switch to create a meeting
without inviting its attendees (EWS had SendToNone). rgsync therefore creates down-synced events
without attendees, so Outlook sends nothing, and lists the Salesforce attendees in the body
('Attendees (not invited): …') so the user still sees who takes part.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rgsync.model import (
    Address,
    Attendee,
    CalendarItem,
    ContactItem,
    EmailItem,
    Folder,
    PostalAddress,
    Priority,
    Response,
    ShowAs,
    TaskItem,
    day_start,
)

TAG_PROPERTY = "String {0f5e8a3c-7d21-4b9e-a6c4-52d1e8b7f903} Name rgsync-salesforce-id"
MESSAGE_CLASS_PROPERTY = "String 0x001A"
TASK_APPLICATION = "Salesforce"
ATTENDEE_NOTE = "Attendees (not invited):"
_TRANSACTION = re.compile(r"^rgsync-([A-Za-z0-9]{15,18})-[A-Za-z0-9]+$")
MESSAGE_FIELDS = (
    "id",
    "subject",
    "from",
    "sender",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "receivedDateTime",
    "sentDateTime",
    "internetMessageId",
    "conversationId",
    "body",
    "categories",
    "internetMessageHeaders",
    "parentFolderId",
)
CONTACT_FIELDS = (
    "id",
    "givenName",
    "surname",
    "emailAddresses",
    "businessPhones",
    "mobilePhone",
    "jobTitle",
    "department",
    "companyName",
    "businessAddress",
    "personalNotes",
    "lastModifiedDateTime",
)
_SHOW_AS_IN = {"free": ShowAs.FREE, "oof": ShowAs.OUT_OF_OFFICE}
_SHOW_AS_OUT = {ShowAs.FREE: "free", ShowAs.OUT_OF_OFFICE: "oof", ShowAs.BUSY: "busy"}
_RESPONSE_IN = {
    "organizer": Response.ORGANIZER,
    "accepted": Response.ACCEPTED,
    "tentativelyAccepted": Response.TENTATIVE,
    "declined": Response.DECLINED,
}
_PRIORITY_IN = {"high": Priority.HIGH, "low": Priority.LOW}
_PRIORITY_OUT = {Priority.HIGH: "high", Priority.LOW: "low", Priority.NORMAL: "normal"}
# Windows time zone names Outlook may report, for the few cases a time comes back in one.
WINDOWS_ZONES = {
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "Pacific Standard Time": "America/Los_Angeles",
    "India Standard Time": "Asia/Kolkata",
    "Tokyo Standard Time": "Asia/Tokyo",
    "AUS Eastern Standard Time": "Australia/Sydney",
}


# --------------------------------------------------------------------------------------------
# Small pieces


def parse_instant(value: object) -> datetime | None:
    """A DateTimeOffset ('2026-11-28T11:00:00Z', up to 7 fraction digits) as aware UTC; None if absent."""
    if not value:
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", str(value).strip()).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def find_zone(name: str) -> ZoneInfo | None:
    """An IANA or common Windows zone, None when it cannot be mapped."""
    try:
        return ZoneInfo(WINDOWS_ZONES.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_date_time_zone(value: Mapping[str, Any] | None) -> tuple[datetime | None, str]:
    """A dateTimeTimeZone as aware UTC, plus the zone name when it could not be mapped."""
    if not value or not value.get("dateTime"):
        return None, ""
    text = re.sub(r"(\.\d{6})\d+", r"\1", str(value["dateTime"])).rstrip("Z")
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        return None, ""
    zone_name = str(value.get("timeZone") or "UTC")
    found = find_zone(zone_name)
    if found is None:
        return local.replace(tzinfo=UTC), zone_name
    return local.replace(tzinfo=found).astimezone(UTC), ""


def local_date(value: Mapping[str, Any] | None) -> date | None:
    """The calendar date written in a dateTimeTimeZone (all-day items and To Do due dates float)."""
    if not value or not value.get("dateTime"):
        return None
    try:
        return date.fromisoformat(str(value["dateTime"])[:10])
    except ValueError:
        return None


def date_time_zone(moment: datetime, zone_name: str) -> dict[str, str]:
    """An aware datetime as a dateTimeTimeZone in `zone_name`."""
    zone = find_zone(zone_name) or ZoneInfo("UTC")
    local = moment.astimezone(zone).replace(tzinfo=None)
    return {
        "dateTime": local.strftime("%Y-%m-%dT%H:%M:%S"),
        "timeZone": zone_name if find_zone(zone_name) else "UTC",
    }


def html_to_text(content: str) -> str:
    """Plain text of an HTML body (line breaks for blocks, entities decoded, scripts and styles dropped)."""
    text = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", "", content)
    text = re.sub(r"(?i)<br\s*/?>|</(p|div|li|tr|h\d)>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text).replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def body_text(body: Mapping[str, Any] | None) -> str:
    """The text of an itemBody, HTML turned into plain text."""
    if not body:
        return ""
    content = str(body.get("content") or "")
    return html_to_text(content) if str(body.get("contentType", "")).lower() == "html" else content


def _address(recipient: Mapping[str, Any] | None) -> Address | None:
    box = (recipient or {}).get("emailAddress") or {}
    email = str(box.get("address") or "").strip().lower()
    if not email:
        return None
    name = str(box.get("name") or "")
    return Address(email, "" if name.lower() == email else name)


def _addresses(recipients: Any) -> tuple[Address, ...]:
    found = [_address(r) for r in recipients or [] if isinstance(r, Mapping)]
    return tuple(a for a in found if a is not None)


def salesforce_id_of_transaction(transaction_id: object) -> str | None:
    """The Salesforce Id inside an 'rgsync-{id}-{nonce}' transactionId, None for anything else."""
    match = _TRANSACTION.match(str(transaction_id or ""))
    return match.group(1) if match else None


def tag_of(resource: Mapping[str, Any]) -> str | None:
    """The Salesforce Id in an expanded `singleValueExtendedProperties`, if the tag is there."""
    for prop in resource.get("singleValueExtendedProperties") or []:
        if str(prop.get("id", "")).lower() == TAG_PROPERTY.lower():
            return str(prop.get("value") or "") or None
    return None


# --------------------------------------------------------------------------------------------
# Messages


def email_from_message(message: Mapping[str, Any], folder: Folder) -> EmailItem:
    """A Graph message as an EmailItem (headers give Content-Type, Auto-Submitted, In-Reply-To)."""
    headers = {
        str(h.get("name", "")).lower(): str(h.get("value", ""))
        for h in message.get("internetMessageHeaders") or []
    }
    problems: list[str] = []
    sent = parse_instant(message.get("sentDateTime")) or parse_instant(message.get("receivedDateTime"))
    message_id = str(message.get("internetMessageId") or "").strip()
    if not message_id:
        problems.append("the email has no Message-ID")
    sender = _address(message.get("from")) or _address(message.get("sender"))
    body = message.get("body") or {}
    is_html = str(body.get("contentType", "")).lower() == "html"
    content = str(body.get("content") or "")
    message_class = ""
    for prop in message.get("singleValueExtendedProperties") or []:
        if str(prop.get("id", "")).lower() == MESSAGE_CLASS_PROPERTY.lower():
            message_class = str(prop.get("value") or "")
    if message.get("@odata.type") == "#microsoft.graph.eventMessage" and not message_class:
        message_class = "IPM.Schedule.Meeting.Request"
    content_type = (
        headers.get("content-type", "text/html" if is_html else "text/plain").split(";")[0].strip().lower()
    )
    return EmailItem(
        mailbox_id=str(message["id"]),
        message_id=message_id,
        thread_id=str(message.get("conversationId") or message["id"]),
        folder=folder,
        subject=str(message.get("subject") or ""),
        sent_at=sent or datetime(1970, 1, 1, tzinfo=UTC),
        sender=sender,
        to=_addresses(message.get("toRecipients")),
        cc=_addresses(message.get("ccRecipients")),
        bcc=_addresses(message.get("bccRecipients")),
        text_body=html_to_text(content) if is_html else content,
        html_body=content if is_html else "",
        labels=frozenset(str(c) for c in message.get("categories") or []),
        content_type=content_type or "text/plain",
        auto_submitted=headers.get("auto-submitted", ""),
        item_class=message_class,
        in_reply_to=headers.get("in-reply-to", "").strip(),
        problems=tuple(problems),
        unreadable="" if sent else "the email has no sent or received date",
    )


# --------------------------------------------------------------------------------------------
# Events


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
    organizer = _address(event.get("organizer"))
    attendees = tuple(
        Attendee(address, _RESPONSE_IN.get(str((a.get("status") or {}).get("response", "")), Response.NONE))
        for a in event.get("attendees") or []
        if (address := _address(a)) is not None
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


# --------------------------------------------------------------------------------------------
# To Do tasks


def task_from_todo(task: Mapping[str, Any], zone_name: str = "UTC") -> TaskItem:
    """A To Do task as a TaskItem; the due date is the date the user sees (in `zone_name`)."""
    salesforce_id = None
    for link in task.get("linkedResources") or []:
        if str(link.get("applicationName") or "") == TASK_APPLICATION and link.get("externalId"):
            salesforce_id = str(link["externalId"])
    return TaskItem(
        id=str(task["id"]),
        subject=str(task.get("title") or ""),
        due=due_date(task.get("dueDateTime"), zone_name),
        completed=str(task.get("status") or "") == "completed",
        priority=_PRIORITY_IN.get(str(task.get("importance") or ""), Priority.NORMAL),
        notes=body_text(task.get("body")),
        salesforce_id=salesforce_id,
        last_modified=parse_instant(task.get("lastModifiedDateTime")),
    )


def due_date(value: Mapping[str, Any] | None, zone_name: str) -> date | None:
    """To Do keeps a due date as midnight in some zone; the date is read in the user's zone."""
    moment, unmapped = parse_date_time_zone(value)
    if moment is None:
        return None
    if unmapped:
        return local_date(value)
    zone = find_zone(zone_name) or ZoneInfo("UTC")
    return moment.astimezone(zone).date()


def _due(value: date | None, zone_name: str) -> dict[str, str] | None:
    return None if value is None else {"dateTime": f"{value.isoformat()}T00:00:00", "timeZone": zone_name}


def todo_body(item: TaskItem, zone_name: str) -> dict[str, Any]:
    """The POST body of a down-synced task, linked to its Salesforce Task."""
    body: dict[str, Any] = {
        "title": item.subject,
        "body": {"contentType": "text", "content": item.notes},
        "importance": _PRIORITY_OUT.get(item.priority, "normal"),
        "status": "completed" if item.completed else "notStarted",
    }
    if item.due is not None:
        body["dueDateTime"] = _due(item.due, zone_name)
    if item.salesforce_id:
        body["linkedResources"] = [
            {
                "applicationName": TASK_APPLICATION,
                "externalId": item.salesforce_id,
                "displayName": item.subject or item.salesforce_id,
            }
        ]
    return body


def todo_changes(changes: Mapping[str, object], zone_name: str) -> dict[str, Any]:
    """A PATCH body for changed TaskItem fields."""
    body: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "subject":
            body["title"] = str(value)
        elif name == "due":
            body["dueDateTime"] = _due(value if isinstance(value, date) else None, zone_name)
        elif name == "completed":
            body["status"] = "completed" if value else "notStarted"
        elif name == "priority":
            body["importance"] = _PRIORITY_OUT.get(Priority(str(value)), "normal")
        elif name == "notes":
            body["body"] = {"contentType": "text", "content": str(value)}
    return body


# --------------------------------------------------------------------------------------------
# Contacts


def contact_from_graph(contact: Mapping[str, Any], salesforce_id: str | None) -> ContactItem:
    """An Outlook contact as a ContactItem (first email, first business phone, business address)."""
    emails = [str(e.get("address") or "") for e in contact.get("emailAddresses") or [] if e.get("address")]
    phones = [str(p) for p in contact.get("businessPhones") or [] if p]
    address = contact.get("businessAddress") or {}
    return ContactItem(
        id=str(contact["id"]),
        first_name=str(contact.get("givenName") or ""),
        last_name=str(contact.get("surname") or ""),
        email=emails[0].lower() if emails else "",
        phone=phones[0] if phones else "",
        mobile_phone=str(contact.get("mobilePhone") or ""),
        title=str(contact.get("jobTitle") or ""),
        department=str(contact.get("department") or ""),
        company=str(contact.get("companyName") or ""),
        mailing=PostalAddress(
            street=str(address.get("street") or ""),
            city=str(address.get("city") or ""),
            state=str(address.get("state") or ""),
            postal_code=str(address.get("postalCode") or ""),
            country=str(address.get("countryOrRegion") or ""),
        ),
        notes=str(contact.get("personalNotes") or ""),
        salesforce_id=salesforce_id,
        last_modified=parse_instant(contact.get("lastModifiedDateTime")),
    )


def _postal(value: PostalAddress) -> dict[str, str]:
    return {
        "street": value.street,
        "city": value.city,
        "state": value.state,
        "postalCode": value.postal_code,
        "countryOrRegion": value.country,
    }


def contact_body(item: ContactItem) -> dict[str, Any]:
    """The POST body of a down-synced contact, tagged with its Salesforce Id."""
    body: dict[str, Any] = {
        "givenName": item.first_name,
        "surname": item.last_name,
        "emailAddresses": [{"address": item.email, "name": item.email}] if item.email else [],
        "businessPhones": [item.phone] if item.phone else [],
        "mobilePhone": item.mobile_phone,
        "jobTitle": item.title,
        "department": item.department,
        "companyName": item.company,
        "businessAddress": _postal(item.mailing),
        "personalNotes": item.notes,
    }
    if item.salesforce_id:
        body["singleValueExtendedProperties"] = [{"id": TAG_PROPERTY, "value": item.salesforce_id}]
    return body


def contact_changes(changes: Mapping[str, object]) -> dict[str, Any]:
    """A PATCH body for changed ContactItem fields."""
    names = {
        "first_name": "givenName",
        "last_name": "surname",
        "mobile_phone": "mobilePhone",
        "title": "jobTitle",
        "department": "department",
        "company": "companyName",
        "notes": "personalNotes",
    }
    body: dict[str, Any] = {}
    for name, value in changes.items():
        if name in names:
            body[names[name]] = str(value)
        elif name == "email":
            body["emailAddresses"] = [{"address": str(value), "name": str(value)}] if value else []
        elif name == "phone":
            body["businessPhones"] = [str(value)] if value else []
        elif name == "mailing" and isinstance(value, PostalAddress):
            body["businessAddress"] = _postal(value)
    return body
