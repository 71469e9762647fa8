"""Translation between rgsync's domain records and Salesforce sObject fields (SPEC §3.7, §4–§6).

Reading: Event / Task / Contact rows → CalendarItem / TaskItem / ContactItem.
Writing: domain records and `Update.changes` (domain field names) → sObject field dicts.

Decisions recorded here:

* Emails in Task mode are completed Tasks (TaskSubtype Email) whose Description starts with a
  From/To/Cc/Date/Message-ID header block. The `Message-ID:` line is how rgsync finds its own
  email Tasks again in orgs without the optional external-id field (`find_existing`).
* Emails in EmailMessage mode relate their people through the junction lists ToIds / CcIds /
  BccIds, written in the same sObject Collections call as the email (Salesforce creates the
  EmailMessageRelation rows atomically). A sender who is a people record cannot go into a junction
  list, so an explicit EmailMessageRelation (RelationType FromAddress) is written right after, in
  one further Collections call for the whole batch.
* Activities relate to one Lead or up to 50 Contacts (Shared Activities): when both kinds are
  given, the Contacts win; with several Leads only the first is kept. Without Shared Activities
  only WhoId (the first person) is written.
* rgsync's own external-id field (a custom External ID field named `rgsync_Key__c`, see
  `RGSYNC_KEY_FIELD`) carries the natural key of records rgsync created. Where it exists, a record
  carrying it is `created_by_rgsync`; where it does not, nothing on a record says who made it, so
  the session relies on its links (an Event it created is linked, hence never down-synced).
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from email.utils import format_datetime, formataddr
from typing import Any

from rgsync.model import (
    Address,
    CalendarItem,
    ContactItem,
    EmailActivity,
    EmailItem,
    EventInvitee,
    EventRecord,
    Folder,
    NewAccount,
    NewPerson,
    PersonKind,
    PostalAddress,
    Priority,
    ShowAs,
    TaskItem,
    day_start,
)

RGSYNC_KEY_FIELD = "rgsync_Key__c"
KEY_FIELD_NAMES = frozenset({"rgsync_key__c", "rgsync__key__c"})
TRUNCATION_MARKER = "\n[… truncated by rgsync]"
TASK_SUBJECT_MAX = 255
TASK_DESCRIPTION_MAX = 32_000
EMAIL_SUBJECT_MAX = 3_000
EMAIL_BODY_MAX = 131_072
EMAIL_ADDRESSES_MAX = 4_000
MESSAGE_ID_MAX = 255
THREAD_ID_MAX = 765
KEY_MAX = 255
MAX_WHO = 50
CONTACT_PREFIX = "003"
LEAD_PREFIX = "00Q"
USER_PREFIX = "005"

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


@dataclass(frozen=True)
class OrgShape:
    """What the mapping needs to know about the org: Shared Activities, rgsync's key fields, time zone."""

    shared_activities: bool = True
    key_fields: Mapping[str, str] = field(default_factory=dict)  # sObject → rgsync's external-id field
    time_zone: tzinfo = UTC

    def key_field(self, sobject: str) -> str | None:
        """rgsync's external-id field on `sobject`, when the org has one."""
        return self.key_fields.get(sobject)


# --- values ----------------------------------------------------------------------------------------


def parse_datetime(value: object) -> datetime | None:
    """A Salesforce dateTime ('2024-05-01T09:30:00.000+0000') as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+0000")
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text.replace("+00:00", "+0000"), pattern).astimezone(UTC)
        except ValueError:
            continue
    return None


def parse_date(value: object) -> date | None:
    """A Salesforce date ('2024-05-01') as a date (None when empty or malformed)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def sf_datetime(value: datetime) -> str:
    """An aware datetime as Salesforce writes it (UTC, milliseconds)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def fit(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending with the truncation marker when cut."""
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER


def key_value(natural_key: str) -> str:
    """The value of rgsync's external-id field for a natural key (hashed when longer than 255)."""
    if len(natural_key) <= KEY_MAX:
        return natural_key
    return "sha256:" + hashlib.sha256(natural_key.encode("utf-8")).hexdigest()


def html_to_text(markup: str) -> str:
    """A plain-text rendering of an HTML body, for emails that have no text part."""
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", "", markup)
    text = re.sub(r"(?i)<(br|/p|/div|/li|/tr|/h\d)\s*/?>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _ids(values: object) -> list[str]:
    return [str(v) for v in values] if isinstance(values, list | tuple) else []


def who_list(who_ids: Sequence[str]) -> list[str]:
    """The people an activity can relate to: one Lead, or up to 50 Contacts (Contacts win)."""
    unique = list(dict.fromkeys(w for w in who_ids if w))
    contacts = [w for w in unique if not w.startswith(LEAD_PREFIX)]
    if contacts:
        return contacts[:MAX_WHO]
    return unique[:1]


def who_fields(
    who_ids: Sequence[str], list_field: str, shape: OrgShape, *, update: bool = False
) -> dict[str, Any]:
    """WhoId / TaskWhoIds / EventWhoIds for a set of people.

    With Shared Activities several people go through the junction list (its first id becomes
    WhoId); an update always sends the list, so people removed in the mailbox are removed too.
    """
    people = who_list(who_ids)
    if shape.shared_activities and (len(people) > 1 or update):
        return {list_field: people}
    if people:
        return {"WhoId": people[0]}
    return {"WhoId": None} if update else {}


# --- reading ---------------------------------------------------------------------------------------


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


# --- writing: emails -------------------------------------------------------------------------------


def _address(address: Address) -> str:
    return formataddr((address.name, address.email)) if address.name else address.email


def header_block(email: EmailItem) -> str:
    """The From/To/Cc/Date/Message-ID block that opens an email Task's Description."""
    lines = []
    if email.sender is not None:
        lines.append(f"From: {_address(email.sender)}")
    if email.to:
        lines.append("To: " + ", ".join(_address(a) for a in email.to))
    if email.cc:
        lines.append("Cc: " + ", ".join(_address(a) for a in email.cc))
    lines.append(f"Date: {format_datetime(email.sent_at)}")
    if email.message_id:
        lines.append(f"Message-ID: {email.message_id}")
    return "\n".join(lines)


def plain_body(email: EmailItem) -> str:
    """The email's text body, or its HTML body rendered as text."""
    return email.text_body or (html_to_text(email.html_body) if email.html_body else "")


def email_task(activity: EmailActivity, shape: OrgShape, natural_key: str) -> dict[str, Any]:
    """An email as a completed Task with TaskSubtype Email (SPEC §3.7, Task mode)."""
    email = activity.email
    subject = f"Email: {email.subject}".strip()
    record: dict[str, Any] = {
        "attributes": {"type": "Task"},
        "Subject": subject[:TASK_SUBJECT_MAX],
        "TaskSubtype": "Email",
        "Status": "Completed",
        "Priority": "Normal",
        "ActivityDate": email.sent_at.astimezone(shape.time_zone).date().isoformat(),
        "Description": fit(header_block(email) + "\n\n" + plain_body(email), TASK_DESCRIPTION_MAX),
    }
    record.update(who_fields(activity.who_ids, "TaskWhoIds", shape))
    if activity.what_id:
        record["WhatId"] = activity.what_id
    if activity.owner_id:
        record["OwnerId"] = activity.owner_id
    key_field = shape.key_field("Task")
    if key_field:
        record[key_field] = key_value(natural_key)
    return record


def _join_addresses(addresses: Sequence[Address]) -> str | None:
    """Addresses as EmailMessage keeps them ('; '-separated, whole addresses within 4,000)."""
    out = ""
    for address in addresses:
        candidate = f"{out}; {address.email}" if out else address.email
        if len(candidate) > EMAIL_ADDRESSES_MAX:
            break
        out = candidate
    return out or None


def email_message(
    activity: EmailActivity, shape: OrgShape, natural_key: str, person_emails: Mapping[str, str]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """An email as an EmailMessage (SPEC §3.7) and the (person id, address) of a people sender.

    Each person of `who_ids` goes into the junction list of the header that names their address
    (`person_emails` maps ids to addresses); people whose address is not known go into ToIds.
    """
    email = activity.email
    people = who_list(activity.who_ids)
    lists: dict[str, list[str]] = {"ToIds": [], "CcIds": [], "BccIds": []}
    to = {a.email for a in email.to}
    cc = {a.email for a in email.cc}
    bcc = {a.email for a in email.bcc}
    sender = email.sender.email if email.sender else ""
    related: set[str] = set()
    senders: list[tuple[str, str]] = []
    for person in people:
        address = person_emails.get(person, "").lower()
        if address and address == sender and address not in to | cc | bcc:
            senders.append((person, address))
            continue
        target = "CcIds" if address in cc else "BccIds" if address in bcc else "ToIds"
        lists[target].append(person)
        if address:
            related.add(address)
    text = plain_body(email)
    record: dict[str, Any] = {
        "attributes": {"type": "EmailMessage"},
        "Subject": email.subject[:EMAIL_SUBJECT_MAX],
        "Status": "3",
        "Incoming": email.folder is not Folder.SENT,
        "MessageIdentifier": natural_key[:MESSAGE_ID_MAX],
        "MessageDate": sf_datetime(email.sent_at),
        "TextBody": fit(text, EMAIL_BODY_MAX) if text else None,
        "HtmlBody": fit(email.html_body, EMAIL_BODY_MAX) if email.html_body else None,
        # Addresses that are people records go through the Ids lists, not the address strings.
        "ToAddress": _join_addresses([a for a in email.to if a.email not in related]),
        "CcAddress": _join_addresses([a for a in email.cc if a.email not in related]),
        "BccAddress": _join_addresses([a for a in email.bcc if a.email not in related]),
    }
    if email.thread_id:
        record["ThreadIdentifier"] = email.thread_id[:THREAD_ID_MAX]
    if email.sender is not None:
        record["FromAddress"] = email.sender.email
        if email.sender.name:
            record["FromName"] = email.sender.name[:1000]
    for name, ids in lists.items():
        if ids:
            record[name] = ids
    if activity.what_id:
        record["RelatedToId"] = activity.what_id
    key_field = shape.key_field("EmailMessage")
    if key_field:
        record[key_field] = key_value(natural_key)
    return record, senders


def sender_relation(email_message_id: str, person_id: str, address: str) -> dict[str, Any]:
    """The FromAddress EmailMessageRelation tying an email to the people record who sent it."""
    return {
        "attributes": {"type": "EmailMessageRelation"},
        "EmailMessageId": email_message_id,
        "RelationId": person_id,
        "RelationAddress": address,
        "RelationType": "FromAddress",
    }


# --- writing: events -------------------------------------------------------------------------------


def _timing(start: datetime, end: datetime, all_day: bool) -> dict[str, Any]:
    if all_day:
        first = start.astimezone(UTC).date()
        days = max(1, (end.astimezone(UTC).date() - first).days)
        return {
            "IsAllDayEvent": True,
            "ActivityDate": first.isoformat(),
            "DurationInMinutes": days * 1440,
        }
    return {
        "IsAllDayEvent": False,
        "StartDateTime": sf_datetime(start),
        "EndDateTime": sf_datetime(end),
    }


def event_create(record: EventRecord | CalendarItem, shape: OrgShape, natural_key: str) -> dict[str, Any]:
    """A new Event (SPEC §4.2): the description is copied this once; private events relate to nobody."""
    if isinstance(record, EventRecord):
        item, who_ids, what_id, owner = record.item, record.who_ids, record.what_id, record.owner_id
    else:
        item, who_ids, what_id, owner = record, record.who_ids, record.what_id, record.owner_id
    fields: dict[str, Any] = {
        "attributes": {"type": "Event"},
        "Subject": item.subject[:255],
        "Location": item.location[:255] or None,
        "ShowAs": item.show_as.value,
        "IsPrivate": item.private,
        **_timing(item.start, item.end, item.all_day),
    }
    if item.description:
        fields["Description"] = fit(item.description, TASK_DESCRIPTION_MAX)
    if not item.private:
        fields.update(who_fields(who_ids, "EventWhoIds", shape))
        if what_id:
            fields["WhatId"] = what_id
    if owner:
        fields["OwnerId"] = owner
    key_field = shape.key_field("Event")
    if key_field:
        fields[key_field] = key_value(natural_key)
    return fields


def event_update(
    changes: Mapping[str, object], shape: OrgShape, current: CalendarItem | None
) -> tuple[dict[str, Any], list[str]]:
    """Event fields for `Update.changes` (CalendarItem names), and the names it cannot map.

    `current` is the Event as it is now (needed when the timing changes: an all-day Event is
    moved by its dates, a timed one by its times, and a change may give only one end).
    """
    out: dict[str, Any] = {}
    unknown: list[str] = []
    if any(name in changes for name in ("start", "end", "all_day")):
        all_day = changes.get("all_day", current.all_day if current else False)
        start = changes.get("start", current.start if current else None)
        end = changes.get("end", current.end if current else None)
        if isinstance(start, datetime) and isinstance(end, datetime):
            out.update(_timing(start, end, bool(all_day)))
        elif isinstance(start, datetime) and not all_day:
            out.update(IsAllDayEvent=False, StartDateTime=sf_datetime(start))
        elif isinstance(end, datetime) and not all_day:
            out.update(IsAllDayEvent=False, EndDateTime=sf_datetime(end))
        else:
            unknown.append("start/end")
    for name, value in changes.items():
        if name in ("start", "end", "all_day"):
            continue
        if name == "subject":
            out["Subject"] = str(value)[:255]
        elif name == "location":
            out["Location"] = str(value)[:255] or None
        elif name == "show_as":
            out["ShowAs"] = value.value if isinstance(value, ShowAs) else str(value)
        elif name == "description":
            out["Description"] = fit(str(value), TASK_DESCRIPTION_MAX) or None
        elif name == "private":
            out["IsPrivate"] = bool(value)
        elif name == "who_ids":
            out.update(who_fields(_ids(value), "EventWhoIds", shape, update=True))
        elif name == "what_id":
            out["WhatId"] = value or None
        else:
            unknown.append(name)
    return out, unknown


def event_invitee(invitee: EventInvitee) -> dict[str, Any]:
    """An EventRelation adding a User as invitee of an existing Event (SPEC §4.2)."""
    return {
        "attributes": {"type": "EventRelation"},
        "EventId": invitee.event_id,
        "RelationId": invitee.user_id,
        "IsInvitee": True,
    }


# --- writing: tasks, contacts, people, accounts -----------------------------------------------------


def task_create(task: TaskItem, shape: OrgShape, natural_key: str) -> dict[str, Any]:
    """A Task from the mailbox's `Salesforce Tasks` list (SPEC §5)."""
    record: dict[str, Any] = {
        "attributes": {"type": "Task"},
        "Subject": task.subject[:TASK_SUBJECT_MAX],
        "ActivityDate": task.due.isoformat() if task.due else None,
        "Status": "Completed" if task.completed else "Not Started",
        "Priority": task.priority.value,
        "Description": fit(task.notes, TASK_DESCRIPTION_MAX) or None,
    }
    if task.owner_id:
        record["OwnerId"] = task.owner_id
    key_field = shape.key_field("Task")
    if key_field:
        record[key_field] = key_value(natural_key)
    return record


def task_update(changes: Mapping[str, object]) -> tuple[dict[str, Any], list[str]]:
    """Task fields for `Update.changes` (TaskItem names), and the names it cannot map."""
    out: dict[str, Any] = {}
    unknown: list[str] = []
    for name, value in changes.items():
        if name == "subject":
            out["Subject"] = str(value)[:TASK_SUBJECT_MAX]
        elif name == "due":
            out["ActivityDate"] = value.isoformat() if isinstance(value, date) else None
        elif name == "completed":
            out["Status"] = "Completed" if value else "Not Started"
        elif name == "priority":
            out["Priority"] = value.value if isinstance(value, Priority) else str(value)
        elif name == "notes":
            out["Description"] = fit(str(value), TASK_DESCRIPTION_MAX) or None
        elif name == "owner_id":
            out["OwnerId"] = value
        else:
            unknown.append(name)
    return out, unknown


_CONTACT_TEXT = {
    "first_name": ("FirstName", 40),
    "last_name": ("LastName", 80),
    "phone": ("Phone", 40),
    "mobile_phone": ("MobilePhone", 40),
    "title": ("Title", 128),
    "department": ("Department", 80),
}
_MAILING = {
    "street": "MailingStreet",
    "city": "MailingCity",
    "state": "MailingState",
    "postal_code": "MailingPostalCode",
    "country": "MailingCountry",
}


def _mailing(address: PostalAddress) -> dict[str, Any]:
    return {sf: (getattr(address, part) or None) for part, sf in _MAILING.items()}


def contact_create(
    contact: ContactItem, account_id: str | None, shape: OrgShape, natural_key: str
) -> dict[str, Any]:
    """A Contact from the mailbox's `Salesforce Contacts` folder (SPEC §6.2)."""
    record: dict[str, Any] = {"attributes": {"type": "Contact"}}
    for name, (sf, limit) in _CONTACT_TEXT.items():
        value = str(getattr(contact, name) or "")[:limit]
        if value:
            record[sf] = value
    if contact.email:
        record["Email"] = contact.email.strip()
    record.update({k: v for k, v in _mailing(contact.mailing).items() if v})
    if contact.notes:
        record["Description"] = fit(contact.notes, TASK_DESCRIPTION_MAX)
    if account_id:
        record["AccountId"] = account_id
    if contact.owner_id:
        record["OwnerId"] = contact.owner_id
    key_field = shape.key_field("Contact")
    if key_field:
        record[key_field] = key_value(natural_key)
    return record


def contact_update(changes: Mapping[str, object]) -> tuple[dict[str, Any], list[str]]:
    """Contact fields for `Update.changes` (ContactItem names; `company` is handled by the caller)."""
    out: dict[str, Any] = {}
    unknown: list[str] = []
    for name, value in changes.items():
        if name in _CONTACT_TEXT:
            sf, limit = _CONTACT_TEXT[name]
            out[sf] = str(value or "")[:limit] or None
        elif name == "email":
            out["Email"] = str(value or "").strip() or None
        elif name == "mailing" and isinstance(value, PostalAddress):
            out.update(_mailing(value))
        elif name == "notes":
            out["Description"] = fit(str(value or ""), TASK_DESCRIPTION_MAX) or None
        elif name == "account_id":
            out["AccountId"] = value or None
        elif name == "owner_id":
            out["OwnerId"] = value
        elif name != "company":
            unknown.append(name)
    return out, unknown


def new_person(person: NewPerson) -> dict[str, Any]:
    """A Lead (with Company) or Contact (with AccountId) made by auto-resolve (SPEC §3.4)."""
    sobject = "Lead" if person.kind is PersonKind.LEAD else "Contact"
    record: dict[str, Any] = {
        "attributes": {"type": sobject},
        "LastName": person.last_name[:80],
        "Email": person.email,
    }
    if person.first_name:
        record["FirstName"] = person.first_name[:40]
    if person.kind is PersonKind.LEAD and person.company.strip():
        record["Company"] = person.company[:255]
    elif person.account_id:
        record["AccountId"] = person.account_id
    if person.owner_id:
        record["OwnerId"] = person.owner_id
    return record


def new_account(account: NewAccount) -> dict[str, Any]:
    """An Account made by auto-resolve, named after an email domain."""
    return {"attributes": {"type": "Account"}, "Name": account.name[:255], "Website": account.website[:255]}


def website_domain(website: str) -> str:
    """The bare host of a Website value: scheme, www., port, path and case removed."""
    host = website.strip().lower().split("//", 1)[-1].split("/", 1)[0].split("?", 1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    return host[4:] if host.startswith("www.") else host
