"""exchangelib items ↔ rgsync's domain records, and the fields each stream reads.

Reading: Message (and meeting/report messages) → `EmailItem`, CalendarItem → `CalendarItem`,
Task → `TaskItem`, Contact → `ContactItem`. Writing: domain records and field changes → exchangelib
items and the field names `bulk_update` sends.

Windows time zones: exchangelib maps the Windows zone id of each calendar item to an IANA zone
with its CLDR table (zoneinfo does the arithmetic). A zone it cannot map comes back as None with a
warning naming the id; that id is reported in `CalendarItem.timezone_unmapped` (SPEC §4.7).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from exchangelib import Attendee as EwsAttendee
from exchangelib import CalendarItem as EwsCalendarItem
from exchangelib import Contact as EwsContact
from exchangelib import EWSDate, EWSDateTime, EWSTimeZone, ExtendedProperty, HTMLBody, Message
from exchangelib import Mailbox as EwsMailbox
from exchangelib import Task as EwsTask
from exchangelib.fields import FieldPath
from exchangelib.indexed_properties import EmailAddress, PhoneNumber, PhysicalAddress
from exchangelib.items import MeetingCancellation, MeetingRequest, MeetingResponse

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

SALESFORCE_FIELD = "rgsync_salesforce_id"
MAX_BODY_CHARS = 262_144  # nothing downstream keeps more; memory stays flat for huge bodies
_VALID_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$")
_UNMAPPED = re.compile(r"Cannot convert value '([^']*)' on field '_start_timezone'")


class SalesforceOrigin(ExtendedProperty):  # type: ignore[misc]
    """The named property that tags items rgsync down-synced, holding the Salesforce record Id.

    A PublicStrings named property is visible to every client but shown by none, survives moves
    between folders, and can be searched with a FindItem restriction (`find_tagged`).
    """

    distinguished_property_set_id = "PublicStrings"
    property_name = "rgsync-salesforce-id"
    property_type = "String"


class AutoSubmittedHeader(ExtendedProperty):  # type: ignore[misc]
    """The Auto-Submitted header of a received message (auto-replies, SPEC §3.1), read by name
    from the InternetHeaders property set instead of fetching every header of every message."""

    distinguished_property_set_id = "InternetHeaders"
    property_name = "Auto-Submitted"
    property_type = "String"


class ContentTypeHeader(ExtendedProperty):  # type: ignore[misc]
    """The top-level Content-Type header (multipart/report bounces, read receipts)."""

    distinguished_property_set_id = "InternetHeaders"
    property_name = "Content-Type"
    property_type = "String"


def _register(cls: Any, name: str, prop: Any) -> None:
    # exchangelib keeps registrations on the item classes, process-wide: register once.
    if name not in {f.name for f in cls.FIELDS}:
        cls.register(name, prop)


for _cls in (EwsCalendarItem, EwsTask, EwsContact):
    _register(_cls, SALESFORCE_FIELD, SalesforceOrigin)
for _cls in (Message, MeetingRequest, MeetingResponse, MeetingCancellation):
    _register(_cls, "rgsync_auto_submitted", AutoSubmittedHeader)
    _register(_cls, "rgsync_content_type", ContentTypeHeader)


def field_paths(cls: Any, names: Iterable[str]) -> set[FieldPath]:
    """FieldPaths of an exchangelib item class for the AdditionalProperties of a request."""
    return {FieldPath(field=cls.get_field_by_fieldname(name)) for name in names}


EMAIL_FIELDS = (
    "subject",
    "author",
    "sender",
    "to_recipients",
    "cc_recipients",
    "bcc_recipients",
    "message_id",
    "in_reply_to",
    "datetime_sent",
    "datetime_received",
    "text_body",
    "body",
    "categories",
    "item_class",
    "conversation_id",
    "rgsync_auto_submitted",
    "rgsync_content_type",
)
CALENDAR_FIELDS = (
    "subject",
    "start",
    "end",
    "is_all_day",
    "location",
    "legacy_free_busy_status",
    "text_body",
    "sensitivity",
    "is_cancelled",
    "uid",
    "type",
    "organizer",
    "required_attendees",
    "optional_attendees",
    "my_response_type",
    "_start_timezone",
    "_end_timezone",
    "last_modified_time",
    SALESFORCE_FIELD,
)
TASK_FIELDS = (
    "subject",
    "due_date",
    "status",
    "importance",
    "text_body",
    "last_modified_time",
    SALESFORCE_FIELD,
)
CONTACT_FIELDS = (
    "given_name",
    "surname",
    "email_addresses",
    "phone_numbers",
    "job_title",
    "department",
    "company_name",
    "physical_addresses",
    "text_body",
    "last_modified_time",
    SALESFORCE_FIELD,
)

RESPONSES = {
    "Organizer": Response.ORGANIZER,
    "Accept": Response.ACCEPTED,
    "Tentative": Response.TENTATIVE,
    "Decline": Response.DECLINED,
}
SHOW_AS_READ = {"Free": ShowAs.FREE, "OOF": ShowAs.OUT_OF_OFFICE, "WorkingElsewhere": ShowAs.FREE}
SHOW_AS_WRITE = {ShowAs.BUSY: "Busy", ShowAs.FREE: "Free", ShowAs.OUT_OF_OFFICE: "OOF"}
IMPORTANCE_READ = {"High": Priority.HIGH, "Low": Priority.LOW}
IMPORTANCE_WRITE = {Priority.HIGH: "High", Priority.NORMAL: "Normal", Priority.LOW: "Low"}


def utc_time(value: Any) -> datetime | None:
    """An exchangelib datetime as a plain aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return datetime.fromtimestamp(value.timestamp(), UTC)
    return None


def html_to_text(markup: str) -> str:
    """Readable text of an HTML body: blocks become lines, tags go, entities are decoded."""
    without_blocks = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", "", markup)
    with_breaks = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</tr>|</li>|</h\d>", "\n", without_blocks)
    text = html.unescape(re.sub(r"<[^>]+>", "", with_breaks))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _cut(text: str) -> str:
    return text if len(text) <= MAX_BODY_CHARS else text[:MAX_BODY_CHARS]


def _address(box: Any, problems: list[str]) -> Address | None:
    email = (getattr(box, "email_address", None) or "").strip().lower()
    name = (getattr(box, "name", None) or "").strip()
    if not email:
        return None
    if not _VALID_ADDRESS.match(email):
        problems.append(f"dropped an invalid address {email!r}")
        return None
    return Address(email, name if name.lower() != email else "")


def _addresses(boxes: Iterable[Any] | None, problems: list[str]) -> tuple[Address, ...]:
    found: list[Address] = []
    for box in boxes or ():
        address = _address(getattr(box, "mailbox", box), problems)
        if address is not None and address.email not in {a.email for a in found}:
            found.append(address)
    return tuple(found)


def _text_of(item: Any) -> tuple[str, str]:
    """(plain text, HTML) bodies of an item."""
    body = getattr(item, "body", None)
    text_body = getattr(item, "text_body", None)
    html_body = str(body) if isinstance(body, HTMLBody) else ""
    plain = str(text_body) if text_body else (html_to_text(html_body) if html_body else str(body or ""))
    return _cut(plain.replace("\r\n", "\n")), _cut(html_body)


# --- emails --------------------------------------------------------------------------------------------


def email_item(message: Any, folder: Folder, *, now: datetime) -> EmailItem:
    """An email of Inbox or Sent Items; problems are listed, never raised (SPEC §7.8)."""
    problems: list[str] = []
    sender = _address(getattr(message, "author", None), problems) or _address(
        getattr(message, "sender", None), problems
    )
    to = _addresses(getattr(message, "to_recipients", None), problems)
    cc = _addresses(getattr(message, "cc_recipients", None), problems)
    bcc = _addresses(getattr(message, "bcc_recipients", None), problems)
    text, html_body = _text_of(message)
    sent_at = utc_time(getattr(message, "datetime_sent", None)) or utc_time(
        getattr(message, "datetime_received", None)
    )
    if sent_at is None:
        problems.append("no sent date; the time it was read is used")
        sent_at = now
    content_type = (getattr(message, "rgsync_content_type", None) or "").strip() or (
        "text/html" if html_body else "text/plain"
    )
    auto_submitted = (getattr(message, "rgsync_auto_submitted", None) or "").strip()
    conversation = getattr(message, "conversation_id", None)
    unreadable = "" if (sender or to or cc) else "no sender or recipient could be read"
    return EmailItem(
        mailbox_id=message.id,
        message_id=(getattr(message, "message_id", None) or "").strip(),
        thread_id=getattr(conversation, "id", None) or message.id,
        folder=folder,
        subject=(message.subject or "").strip(),
        sent_at=sent_at,
        sender=sender,
        to=to,
        cc=cc,
        bcc=bcc,
        text_body=text,
        html_body=html_body,
        labels=frozenset(getattr(message, "categories", None) or ()),
        content_type=content_type,
        auto_submitted=auto_submitted,
        item_class=getattr(message, "item_class", None) or "",
        in_reply_to=(getattr(message, "in_reply_to", None) or "").strip(),
        problems=tuple(problems),
        unreadable=unreadable,
    )


# --- calendar ----------------------------------------------------------------------------------------


def unmapped_zone(warning_texts: Iterable[str]) -> str:
    """The Windows zone id exchangelib could not map, from the warnings of one item's parsing."""
    for text in warning_texts:
        found = _UNMAPPED.search(text)
        if found:
            return found.group(1)
    return ""


def _day(value: Any) -> date:
    return value if not isinstance(value, datetime) else value.date()


def calendar_item(item: Any, *, unmapped: str = "") -> CalendarItem:
    """A calendar item, occurrence or exception as the events stream sees it."""
    problems: list[str] = []
    all_day = bool(item.is_all_day)
    if all_day:
        first = _day(item.start)
        last = _day(item.end) if item.end is not None else first
        start, end = day_start(first), day_start(last + timedelta(days=1))
    else:
        start = utc_time(item.start) or datetime.now(UTC)
        end = utc_time(item.end) or start
    attendees = [
        Attendee(address, RESPONSES.get(getattr(a, "response_type", None) or "", Response.NONE))
        for group in (item.required_attendees, item.optional_attendees)
        for a in group or ()
        if (address := _address(a.mailbox, problems)) is not None
    ]
    kind = getattr(item, "type", None) or "Single"
    text, _html = _text_of(item)
    return CalendarItem(
        id=item.id,
        subject=(item.subject or "").strip(),
        start=start,
        end=end,
        all_day=all_day,
        location=(item.location or "").strip(),
        show_as=SHOW_AS_READ.get(item.legacy_free_busy_status or "", ShowAs.BUSY),
        description=text,
        private=(item.sensitivity or "") in ("Private", "Confidential"),
        cancelled=bool(item.is_cancelled),
        ical_uid=item.uid or "",
        # Occurrences of one series share its iCalendar UID: that is the series' id here.
        series_id=(item.uid or "") if kind in ("Occurrence", "Exception") else "",
        organizer=_address(item.organizer, problems),
        attendees=tuple(attendees),
        my_response=RESPONSES.get(item.my_response_type or "", Response.NONE),
        salesforce_id=getattr(item, SALESFORCE_FIELD, None) or None,
        timezone_unmapped=unmapped,
        last_modified=utc_time(item.last_modified_time),
    )


def ews_start_end(record: CalendarItem, tz: tzinfo) -> tuple[Any, Any]:
    """Start and end as exchangelib wants them: dates for all-day items (inclusive last day)."""
    if record.all_day:
        last = max(record.start_day, record.end_day - timedelta(days=1))
        return EWSDate.from_date(record.start_day), EWSDate.from_date(last)
    zone = EWSTimeZone.from_timezone(tz)
    return (
        EWSDateTime.from_datetime(record.start).astimezone(zone),
        EWSDateTime.from_datetime(record.end).astimezone(zone),
    )


def ews_attendees(attendees: Iterable[Attendee], owner: Iterable[str]) -> list[EwsAttendee]:
    mine = {a.lower() for a in owner}
    return [
        EwsAttendee(
            mailbox=EwsMailbox(email_address=a.address.email, name=a.address.name or None),
            response_type="Unknown",
        )
        for a in attendees
        if a.address.email.lower() not in mine
    ]


def new_calendar_item(
    record: CalendarItem, *, account: Any, folder: Any, tz: tzinfo, owner: Iterable[str]
) -> Any:
    """A CalendarItem for CreateItem, tagged with its Salesforce Id."""
    start, end = ews_start_end(record, tz)
    return EwsCalendarItem(
        account=account,
        folder=folder,
        subject=record.subject,
        start=start,
        end=end,
        is_all_day=record.all_day,
        location=record.location or None,
        legacy_free_busy_status=SHOW_AS_WRITE.get(record.show_as, "Busy"),
        body=record.description or None,
        sensitivity="Private" if record.private else "Normal",
        required_attendees=ews_attendees(record.attendees, owner) or None,
        **{SALESFORCE_FIELD: record.salesforce_id},
    )


def calendar_changes(
    item: Any, changes: Mapping[str, object], *, tz: tzinfo, owner: Iterable[str], all_day: bool
) -> list[str]:
    """Set the changed fields on an exchangelib CalendarItem; returns the field names to update."""
    fields: list[str] = []
    simple = {"subject": "subject", "location": "location", "description": "body"}
    for name, value in changes.items():
        if name in simple:
            setattr(item, simple[name], str(value) or None)
            fields.append(simple[name])
        elif name == "show_as":
            item.legacy_free_busy_status = SHOW_AS_WRITE.get(ShowAs(str(value)), "Busy")
            fields.append("legacy_free_busy_status")
        elif name == "private":
            item.sensitivity = "Private" if value else "Normal"
            fields.append("sensitivity")
        elif name == "attendees":
            item.required_attendees = ews_attendees(value, owner) or None  # type: ignore[arg-type]
            fields.append("required_attendees")
        elif name in ("start", "end", "all_day"):
            continue
        elif name == "salesforce_id":
            setattr(item, SALESFORCE_FIELD, value)
            fields.append(SALESFORCE_FIELD)
        else:
            raise ValueError(f"a calendar item's {name!r} cannot be changed in Exchange")
    if {"start", "end", "all_day"} & set(changes):
        timing = CalendarItem(
            id="",
            subject="",
            start=changes.get("start", datetime.now(UTC)),  # type: ignore[arg-type]
            end=changes.get("end", datetime.now(UTC)),  # type: ignore[arg-type]
            all_day=bool(changes.get("all_day", all_day)),
        )
        start, end = ews_start_end(timing, tz)
        item.is_all_day = timing.all_day
        fields.append("is_all_day")
        if "start" in changes:
            item.start = start
            fields.append("start")
        if "end" in changes:
            item.end = end
            fields.append("end")
    return fields


# --- tasks -----------------------------------------------------------------------------------------------


def task_item(item: Any, tz: tzinfo) -> TaskItem:
    """A task of the `Salesforce Tasks` folder."""
    due = item.due_date
    if isinstance(due, datetime):
        due = due.astimezone(tz).date()
    text, _html = _text_of(item)
    return TaskItem(
        id=item.id,
        subject=(item.subject or "").strip(),
        due=due if isinstance(due, date) else None,
        completed=item.status == "Completed",
        priority=IMPORTANCE_READ.get(item.importance or "", Priority.NORMAL),
        notes=text,
        salesforce_id=getattr(item, SALESFORCE_FIELD, None) or None,
        last_modified=utc_time(item.last_modified_time),
    )


def _due(value: date | None) -> Any:
    # exchangelib sends a due date as midnight and reads it back as the same date.
    return EWSDate.from_date(value) if value is not None else None


def new_task(record: TaskItem, *, account: Any, folder: Any, tz: tzinfo) -> Any:
    """A Task for CreateItem, tagged with its Salesforce Id."""
    return EwsTask(
        account=account,
        folder=folder,
        subject=record.subject,
        due_date=_due(record.due),
        status="Completed" if record.completed else "NotStarted",
        percent_complete=Decimal(100 if record.completed else 0),
        importance=IMPORTANCE_WRITE.get(record.priority, "Normal"),
        body=record.notes or None,
        **{SALESFORCE_FIELD: record.salesforce_id},
    )


def task_changes(item: Any, changes: Mapping[str, object], tz: tzinfo) -> list[str]:
    """Set the changed fields on an exchangelib Task; returns the field names to update."""
    fields: list[str] = []
    for name, value in changes.items():
        if name == "subject":
            item.subject = str(value)
            fields.append("subject")
        elif name == "due":
            item.due_date = _due(value)  # type: ignore[arg-type]
            fields.append("due_date")
        elif name == "completed":
            item.status = "Completed" if value else "NotStarted"
            item.percent_complete = Decimal(100 if value else 0)
            fields += ["status", "percent_complete"]
        elif name == "priority":
            item.importance = IMPORTANCE_WRITE.get(Priority(str(value)), "Normal")
            fields.append("importance")
        elif name == "notes":
            item.body = str(value) or None
            fields.append("body")
        elif name == "salesforce_id":
            setattr(item, SALESFORCE_FIELD, value)
            fields.append(SALESFORCE_FIELD)
        else:
            raise ValueError(f"a task's {name!r} cannot be changed in Exchange")
    return fields


# --- contacts -------------------------------------------------------------------------------------------


def _indexed(entries: Iterable[Any] | None) -> dict[str, Any]:
    return {e.label: e for e in entries or ()}


def contact_item(item: Any) -> ContactItem:
    """A contact of the `Salesforce Contacts` folder."""
    emails = _indexed(item.email_addresses)
    phones = _indexed(item.phone_numbers)
    postal = _indexed(item.physical_addresses).get("Business")
    text, _html = _text_of(item)
    first_email = next(
        (
            emails[k].email
            for k in ("EmailAddress1", "EmailAddress2", "EmailAddress3")
            if k in emails and emails[k].email
        ),
        "",
    )
    return ContactItem(
        id=item.id,
        first_name=item.given_name or "",
        last_name=item.surname or "",
        email=(first_email or "").strip().lower(),
        phone=getattr(phones.get("BusinessPhone"), "phone_number", None) or "",
        mobile_phone=getattr(phones.get("MobilePhone"), "phone_number", None) or "",
        title=item.job_title or "",
        department=item.department or "",
        company=item.company_name or "",
        mailing=PostalAddress(
            street=getattr(postal, "street", None) or "",
            city=getattr(postal, "city", None) or "",
            state=getattr(postal, "state", None) or "",
            postal_code=getattr(postal, "zipcode", None) or "",
            country=getattr(postal, "country", None) or "",
        ),
        notes=text,
        salesforce_id=getattr(item, SALESFORCE_FIELD, None) or None,
        last_modified=utc_time(item.last_modified_time),
    )


def _display_name(first: str, last: str, email: str, company: str) -> str:
    return f"{first} {last}".strip() or email or company or "(no name)"


def _postal(address: PostalAddress) -> PhysicalAddress | None:
    if not any((address.street, address.city, address.state, address.postal_code, address.country)):
        return None
    return PhysicalAddress(
        label="Business",
        street=address.street or None,
        city=address.city or None,
        state=address.state or None,
        zipcode=address.postal_code or None,
        country=address.country or None,
    )


def new_contact(record: ContactItem, *, account: Any, folder: Any) -> Any:
    """A Contact for CreateItem, tagged with its Salesforce Id."""
    phones = [
        PhoneNumber(label=label, phone_number=number)
        for label, number in (("BusinessPhone", record.phone), ("MobilePhone", record.mobile_phone))
        if number
    ]
    postal = _postal(record.mailing)
    return EwsContact(
        account=account,
        folder=folder,
        given_name=record.first_name or None,
        surname=record.last_name or None,
        display_name=_display_name(record.first_name, record.last_name, record.email, record.company),
        email_addresses=[EmailAddress(label="EmailAddress1", email=record.email)] if record.email else None,
        phone_numbers=phones or None,
        company_name=record.company or None,
        job_title=record.title or None,
        department=record.department or None,
        physical_addresses=[postal] if postal else None,
        body=record.notes or None,
        **{SALESFORCE_FIELD: record.salesforce_id},
    )


CONTACT_INDEXED = {"email", "phone", "mobile_phone", "mailing"}


def contact_changes(item: Any, changes: Mapping[str, object], current: Any | None) -> list[str]:
    """Set the changed fields on an exchangelib Contact; returns the field names to update.

    Indexed fields (emails, phones, addresses) are written as whole lists by exchangelib, so the
    entries rgsync does not manage are carried over from `current` (the contact as it is now).
    """
    fields: list[str] = []
    simple = {
        "first_name": "given_name",
        "last_name": "surname",
        "title": "job_title",
        "department": "department",
        "company": "company_name",
        "notes": "body",
    }
    for name, value in changes.items():
        if name in simple:
            setattr(item, simple[name], str(value) or None)
            fields.append(simple[name])
        elif name == "salesforce_id":
            setattr(item, SALESFORCE_FIELD, value)
            fields.append(SALESFORCE_FIELD)
        elif name not in CONTACT_INDEXED:
            raise ValueError(f"a contact's {name!r} cannot be changed in Exchange")
    if {"first_name", "last_name"} & set(changes):
        first = str(changes.get("first_name", getattr(current, "given_name", None) or ""))
        last = str(changes.get("last_name", getattr(current, "surname", None) or ""))
        item.display_name = _display_name(first, last, "", "")
        fields.append("display_name")
    if "email" in changes:
        kept = [e for e in getattr(current, "email_addresses", None) or () if e.label != "EmailAddress1"]
        email = str(changes["email"] or "")
        item.email_addresses = ([EmailAddress(label="EmailAddress1", email=email)] if email else []) + kept
        fields.append("email_addresses")
    if {"phone", "mobile_phone"} & set(changes):
        phones = _indexed(getattr(current, "phone_numbers", None))
        for name, label in (("phone", "BusinessPhone"), ("mobile_phone", "MobilePhone")):
            if name in changes:
                number = str(changes[name] or "")
                if number:
                    phones[label] = PhoneNumber(label=label, phone_number=number)
                else:
                    phones.pop(label, None)
        item.phone_numbers = list(phones.values())
        fields.append("phone_numbers")
    if "mailing" in changes:
        kept = [a for a in getattr(current, "physical_addresses", None) or () if a.label != "Business"]
        mailing = changes["mailing"]
        postal = _postal(mailing if isinstance(mailing, PostalAddress) else PostalAddress())
        item.physical_addresses = ([postal] if postal else []) + kept
        fields.append("physical_addresses")
    return fields


def message_stub(item_id: str, account: Any) -> Any:
    """A Message with just an id, for UpdateItem of its categories."""
    return Message(account=account, id=item_id, changekey=None)
