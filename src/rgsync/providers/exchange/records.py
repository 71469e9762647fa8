"""exchangelib calendar items, tasks and contacts ↔ rgsync's domain records.

Windows time zones: exchangelib maps the Windows zone id of each calendar item to an IANA zone
with its CLDR table (zoneinfo does the arithmetic). A zone it cannot map comes back as None with a
warning naming the id; that id is reported in `CalendarItem.timezone_unmapped` (SPEC §4.7).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from exchangelib import Attendee as EwsAttendee
from exchangelib import CalendarItem as EwsCalendarItem
from exchangelib import Contact as EwsContact
from exchangelib import EWSDate, EWSDateTime, EWSTimeZone
from exchangelib import Mailbox as EwsMailbox
from exchangelib import Task as EwsTask
from exchangelib.indexed_properties import EmailAddress, PhoneNumber, PhysicalAddress

from rgsync.model import (
    Attendee,
    CalendarItem,
    ContactItem,
    PostalAddress,
    Priority,
    Response,
    ShowAs,
    TaskItem,
    day_start,
)

from .convert import (
    IMPORTANCE_READ,
    IMPORTANCE_WRITE,
    RESPONSES,
    SALESFORCE_FIELD,
    SHOW_AS_READ,
    SHOW_AS_WRITE,
    address_of,
    bodies_of,
    utc_time,
)

_UNMAPPED = re.compile(r"Cannot convert value '([^']*)' on field '_start_timezone'")


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
        if (address := address_of(a.mailbox, problems)) is not None
    ]
    kind = getattr(item, "type", None) or "Single"
    text, _html = bodies_of(item)
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
        organizer=address_of(item.organizer, problems),
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
    """Attendees for EWS, the mailbox owner left out (Exchange adds the organizer itself)."""
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
    text, _html = bodies_of(item)
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
    text, _html = bodies_of(item)
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
