"""What every conversion between exchangelib items and rgsync's records shares — the extended
properties rgsync registers, the fields each stream reads, address and body helpers — and emails:
Message (and meeting/report messages) → `EmailItem`. Calendar items, tasks and contacts are in
`records`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from exchangelib import CalendarItem as EwsCalendarItem
from exchangelib import Contact as EwsContact
from exchangelib import ExtendedProperty, HTMLBody, Message
from exchangelib import Task as EwsTask
from exchangelib.fields import FieldPath
from exchangelib.items import MeetingCancellation, MeetingRequest, MeetingResponse

from rgsync.model import (
    SERVICE_HEADERS,
    Address,
    EmailItem,
    Folder,
    Priority,
    Response,
    ShowAs,
)
from rgsync.providers.text import html_to_text

SALESFORCE_FIELD = "rgsync_salesforce_id"
MAX_BODY_CHARS = 262_144  # nothing downstream keeps more; memory stays flat for huge bodies
_VALID_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$")


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
    # InternetMessageHeaders: GetItem returns it only when asked by name. The service-message
    # headers (SPEC §3.1) are picked from it, so the same set is read as on the other mailboxes.
    "headers",
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


def _cut(text: str) -> str:
    return text if len(text) <= MAX_BODY_CHARS else text[:MAX_BODY_CHARS]


def address_of(box: Any, problems: list[str]) -> Address | None:
    """The address of an exchangelib Mailbox (lower-cased); an invalid one is dropped and noted."""
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
        address = address_of(getattr(box, "mailbox", box), problems)
        if address is not None and address.email not in {a.email for a in found}:
            found.append(address)
    return tuple(found)


def bodies_of(item: Any) -> tuple[str, str]:
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
    sender = address_of(getattr(message, "author", None), problems) or address_of(
        getattr(message, "sender", None), problems
    )
    to = _addresses(getattr(message, "to_recipients", None), problems)
    cc = _addresses(getattr(message, "cc_recipients", None), problems)
    bcc = _addresses(getattr(message, "bcc_recipients", None), problems)
    text, html_body = bodies_of(message)
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
        headers=service_headers(message),
    )


def service_headers(message: Any) -> tuple[tuple[str, str], ...]:
    """The `SERVICE_HEADERS` of a received message, from its InternetMessageHeaders (first of each)."""
    found: dict[str, str] = {}
    for header in getattr(message, "headers", None) or ():
        name = str(getattr(header, "name", "") or "").strip().lower()
        if name in SERVICE_HEADERS and name not in found:
            found[name] = " ".join(str(getattr(header, "value", "") or "").split())
    return tuple(found.items())
