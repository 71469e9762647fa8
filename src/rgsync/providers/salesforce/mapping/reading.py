"""Reading: Salesforce Event / Task / Contact rows as CalendarItem / TaskItem / ContactItem."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from rgsync.model import CalendarItem, ContactItem, PostalAddress, Priority, ShowAs, TaskItem, day_start
from rgsync.providers.salesforce.mapping.values import (
    CONTACT_PREFIX,
    LEAD_PREFIX,
    USER_PREFIX,
    OrgShape,
    parse_date,
    parse_datetime,
)

EVENT_READ_FIELDS = (
    "Id, Subject, StartDateTime, EndDateTime, IsAllDayEvent, ActivityDate, DurationInMinutes, Location, "
    "ShowAs, Description, IsPrivate, OwnerId, WhoId, WhatId, LastModifiedDate, SystemModstamp"
)
EVENT_RELATIONS = "(SELECT RelationId, IsInvitee, IsParent, IsWhat FROM EventRelations)"
TASK_READ_FIELDS = (
    "Id, Subject, ActivityDate, Status, IsClosed, Priority, Description, OwnerId, TaskSubtype, "
    "LastModifiedDate, SystemModstamp"
)
CONTACT_READ_FIELDS = (
    "Id, FirstName, LastName, Email, Phone, MobilePhone, Title, Department, MailingStreet, MailingCity, "
    "MailingState, MailingPostalCode, MailingCountry, Description, AccountId, Account.Name, OwnerId, "
    "LastModifiedDate, SystemModstamp"
)


def _relations(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    child = record.get("EventRelations")
    if isinstance(child, Mapping):
        return [r for r in child.get("records") or [] if isinstance(r, Mapping)]
    return []


def event_times(record: Mapping[str, Any]) -> tuple[datetime, datetime, bool] | None:
    """(start, end, all_day) of an Event row, all-day items as midnight-UTC days with exclusive end."""
    all_day = bool(record.get("IsAllDayEvent"))
    start = parse_datetime(record.get("StartDateTime"))
    end = parse_datetime(record.get("EndDateTime"))
    duration = record.get("DurationInMinutes")
    if all_day:
        first = parse_date(record.get("ActivityDate")) or (start.date() if start else None)
        if first is None:
            return None
        if isinstance(duration, int | float) and duration > 0:
            days = max(1, -(-int(duration) // 1440))
        elif end is not None:
            days = max(1, (end.date() - first).days + 1)
        else:
            days = 1
        return day_start(first), day_start(first + timedelta(days=days)), True
    if start is None:
        return None
    if end is None:
        end = start + timedelta(minutes=int(duration or 0))
    return start, end, False


def event_from_record(record: Mapping[str, Any], shape: OrgShape) -> CalendarItem | None:
    """A Salesforce Event as a CalendarItem (None when it has no usable start)."""
    times = event_times(record)
    if times is None:
        return None
    start, end, all_day = times
    relations = _relations(record)
    who = [str(record["WhoId"])] if record.get("WhoId") else []
    for relation in relations:
        rid = str(relation.get("RelationId") or "")
        if (
            relation.get("IsParent")
            and not relation.get("IsWhat")
            and rid.startswith((CONTACT_PREFIX, LEAD_PREFIX))
        ):
            who.append(rid)
    invitees = [
        str(r.get("RelationId"))
        for r in relations
        if r.get("IsInvitee") and str(r.get("RelationId") or "").startswith(USER_PREFIX)
    ]
    try:
        show_as = ShowAs(str(record.get("ShowAs") or "Busy"))
    except ValueError:
        show_as = ShowAs.BUSY
    key_field = shape.key_field("Event")
    return CalendarItem(
        id=str(record["Id"]),
        subject=str(record.get("Subject") or ""),
        start=start,
        end=end,
        all_day=all_day,
        location=str(record.get("Location") or ""),
        show_as=show_as,
        description=str(record.get("Description") or ""),
        private=bool(record.get("IsPrivate")),
        owner_id=str(record.get("OwnerId") or "") or None,
        who_ids=tuple(dict.fromkeys(who)),
        what_id=str(record.get("WhatId") or "") or None,
        invitee_ids=tuple(dict.fromkeys(invitees)),
        created_by_rgsync=bool(key_field and record.get(key_field)),
        last_modified=parse_datetime(record.get("LastModifiedDate")),
    )


def task_from_record(record: Mapping[str, Any]) -> TaskItem:
    """A Salesforce Task as a TaskItem."""
    try:
        priority = Priority(str(record.get("Priority") or "Normal"))
    except ValueError:
        priority = Priority.NORMAL
    completed = bool(record.get("IsClosed")) or str(record.get("Status") or "") == "Completed"
    return TaskItem(
        id=str(record["Id"]),
        subject=str(record.get("Subject") or ""),
        due=parse_date(record.get("ActivityDate")),
        completed=completed,
        priority=priority,
        notes=str(record.get("Description") or ""),
        owner_id=str(record.get("OwnerId") or "") or None,
        subtype=str(record.get("TaskSubtype") or "Task"),
        last_modified=parse_datetime(record.get("LastModifiedDate")),
    )


def contact_from_record(record: Mapping[str, Any]) -> ContactItem:
    """A Salesforce Contact as a ContactItem (`company` is its Account's name)."""
    account = record.get("Account")
    company = str(account.get("Name") or "") if isinstance(account, Mapping) else ""

    def text(name: str) -> str:
        return str(record.get(name) or "")

    return ContactItem(
        id=str(record["Id"]),
        first_name=text("FirstName"),
        last_name=text("LastName"),
        email=text("Email").lower(),
        phone=text("Phone"),
        mobile_phone=text("MobilePhone"),
        title=text("Title"),
        department=text("Department"),
        company=company,
        mailing=PostalAddress(
            street=text("MailingStreet"),
            city=text("MailingCity"),
            state=text("MailingState"),
            postal_code=text("MailingPostalCode"),
            country=text("MailingCountry"),
        ),
        notes=text("Description"),
        owner_id=text("OwnerId") or None,
        account_id=text("AccountId") or None,
        last_modified=parse_datetime(record.get("LastModifiedDate")),
    )


def message_id_of_description(description: str) -> str:
    """The Message-ID in the header block of an email Task's Description ('' when none)."""
    for line in description.splitlines()[:12]:
        if line.lower().startswith("message-id:"):
            return line.split(":", 1)[1].strip()
        if not line.strip():
            break
    return ""
