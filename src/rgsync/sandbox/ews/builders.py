"""Build stored item properties from what tests and scenario files say (plain dicts, raw MIME).

These are the emulator's set-up paths: the user receiving an email, creating a meeting, a task or
a contact in Outlook. They produce the same elements a client would send in CreateItem, plus the
properties Exchange fills in itself (Organizer, MyResponseType, UID, InternetMessageHeaders, …).
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from lxml import etree

from .recurrence import recurrence_element, zone
from .soap import format_bool, format_datetime, sub, t
from .store import extended_key

Props = dict[str, Any]
Extended = dict[tuple[str, str], Any]

RESPONSE_TYPES = {
    "organizer": "Organizer",
    "accepted": "Accept",
    "accept": "Accept",
    "tentative": "Tentative",
    "declined": "Decline",
    "decline": "Decline",
    "none": "NoResponseReceived",
    "unanswered": "NoResponseReceived",
    "needs-action": "NoResponseReceived",
    "unknown": "Unknown",
}
PROPERTY_SET = "PublicStrings"


def text(name: str, value: object) -> Any:
    """A simple property element."""
    elem = etree.Element(t(name))
    if isinstance(value, bool):
        elem.text = format_bool(value)
    elif isinstance(value, datetime):
        elem.text = format_datetime(value)
    elif isinstance(value, date):
        elem.text = format_datetime(datetime.combine(value, time(0), tzinfo=UTC))
    else:
        elem.text = str(value)
    return elem


def strings(name: str, values: Iterable[str]) -> Any:
    """An ArrayOfStrings property such as Categories."""
    elem = etree.Element(t(name))
    for value in values:
        sub(elem, t("String"), str(value))
    return elem


def body(value: str, body_type: str = "Text") -> Any:
    elem = etree.Element(t("Body"))
    elem.set("BodyType", body_type)
    elem.text = value
    return elem


def mailbox(parent: Any, email: str, name: str = "") -> Any:
    box = sub(parent, t("Mailbox"))
    if name:
        sub(box, t("Name"), name)
    sub(box, t("EmailAddress"), email)
    sub(box, t("RoutingType"), "SMTP")
    sub(box, t("MailboxType"), "Mailbox")
    return box


def single_mailbox(name: str, email: str, display: str = "") -> Any:
    """A property holding one mailbox (From, Sender, Organizer)."""
    elem = etree.Element(t(name))
    mailbox(elem, email, display)
    return elem


def recipients(name: str, addresses: Iterable[tuple[str, str]]) -> Any:
    elem = etree.Element(t(name))
    for display, email in addresses:
        mailbox(elem, email, display)
    return elem


def extended_property(name: str, value: str, property_type: str = "String") -> tuple[tuple[str, str], Any]:
    """A named PublicStrings extended property (what rgsync tags Salesforce-origin items with)."""
    elem = etree.Element(t("ExtendedProperty"))
    uri = sub(elem, t("ExtendedFieldURI"))
    uri.set("DistinguishedPropertySetId", PROPERTY_SET)
    uri.set("PropertyName", name)
    uri.set("PropertyType", property_type)
    sub(elem, t("Value"), value)
    return extended_key(uri), elem


def extended_map(values: Mapping[str, object] | None) -> Extended:
    out: Extended = {}
    for name, value in (values or {}).items():
        key, elem = extended_property(name, str(value))
        out[key] = elem
    return out


def html_to_text(markup: str) -> str:
    """A plain-text rendering of an HTML body (what TextBody holds)."""
    without_blocks = re.sub(r"(?is)<(script|style).*?</\1>", "", markup)
    with_breaks = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", without_blocks)
    return html.unescape(re.sub(r"<[^>]+>", "", with_breaks)).strip()


# --- messages -----------------------------------------------------------------------------------------


def message_tag(item_class: str) -> str:
    """The element name EWS uses for an item class (meeting messages have their own)."""
    lowered = item_class.lower()
    if lowered.startswith("ipm.schedule.meeting.request"):
        return "MeetingRequest"
    if lowered.startswith("ipm.schedule.meeting.resp"):
        return "MeetingResponse"
    if lowered.startswith("ipm.schedule.meeting.canceled"):
        return "MeetingCancellation"
    return "Message"


def message_props(
    raw: bytes,
    *,
    item_class: str,
    categories: Iterable[str],
    received: datetime | None,
    now: datetime,
    is_read: bool = False,
) -> Props:
    """The properties of a delivered message, read from its raw MIME (kept as MimeContent).

    Headers are read with the legacy (compat32) parser and decoded on demand: the modern header
    registry is ten times slower, and a sandbox loads thousands of messages.
    """
    parsed = message_from_bytes(raw)
    props: Props = {}
    props["MimeContent"] = etree.Element(t("MimeContent"), CharacterSet="UTF-8")
    props["MimeContent"].text = base64.b64encode(raw).decode("ascii")
    props["ItemClass"] = text("ItemClass", item_class)
    subject = _header(parsed, "Subject")
    props["Subject"] = text("Subject", subject)
    props["Sensitivity"] = text("Sensitivity", _sensitivity(_header(parsed, "Sensitivity")))
    html_part, text_part = _bodies(parsed)
    props["Body"] = body(html_part, "HTML") if html_part else body(text_part, "Text")
    props["TextBody"] = body(text_part or html_to_text(html_part), "Text")
    props["TextBody"].tag = t("TextBody")
    sent = _date(_header(parsed, "Date")) or received or now
    props["DateTimeSent"] = text("DateTimeSent", sent)
    props["DateTimeReceived"] = text("DateTimeReceived", received or sent)
    props["Size"] = text("Size", len(raw))
    props["Categories"] = strings("Categories", categories)
    props["Importance"] = text("Importance", _importance(parsed))
    props["HasAttachments"] = text("HasAttachments", _has_attachments(parsed))
    headers = etree.Element(t("InternetMessageHeaders"))
    for name, value in parsed.items():
        sub(headers, t("InternetMessageHeader"), _xml_safe(str(value)), HeaderName=name)
    props["InternetMessageHeaders"] = headers
    in_reply_to = _header(parsed, "In-Reply-To")
    if in_reply_to:
        props["InReplyTo"] = text("InReplyTo", in_reply_to)
    references = _header(parsed, "References")
    if references:
        props["References"] = text("References", references)
    conversation = etree.Element(t("ConversationId"))
    root_id = (references.split() or [in_reply_to or _header(parsed, "Message-ID") or subject])[0]
    conversation.set("Id", "AAQk" + hashlib.sha1(root_id.encode()).hexdigest()[:24])
    props["ConversationId"] = conversation
    props["ConversationTopic"] = text("ConversationTopic", re.sub(r"(?i)^(re|fw|fwd):\s*", "", subject))
    senders = getaddresses([_header(parsed, "From")])
    if senders and senders[0][1]:
        display, email = senders[0]
        props["Sender"] = single_mailbox("Sender", email.lower(), display)
        props["From"] = single_mailbox("From", email.lower(), display)
    for header, name in (("To", "ToRecipients"), ("Cc", "CcRecipients"), ("Bcc", "BccRecipients")):
        found = [(d, e.lower()) for d, e in getaddresses([_header(parsed, header)]) if e]
        if found:
            props[name] = recipients(name, found)
    message_id = _header(parsed, "Message-ID")
    if message_id:
        props["InternetMessageId"] = text("InternetMessageId", message_id)
    props["IsRead"] = text("IsRead", is_read)
    return props


_XML_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xml_safe(value: str) -> str:
    return _XML_UNSAFE.sub("", value)


def _header(parsed: Message, name: str) -> str:
    """A header's text with encoded words decoded ('' when absent or undecodable)."""
    value = parsed.get(name)
    if value is None:
        return ""
    try:
        decoded = str(make_header(decode_header(str(value))))
    except (LookupError, ValueError, UnicodeError):
        decoded = str(value)
    return _xml_safe(" ".join(decoded.split()))


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _sensitivity(value: str) -> str:
    return {"private": "Private", "personal": "Personal", "company-confidential": "Confidential"}.get(
        value.lower(), "Normal"
    )


def _importance(parsed: Message) -> str:
    value = _header(parsed, "Importance").lower() or {"1": "high", "5": "low"}.get(
        _header(parsed, "X-Priority")[:1], ""
    )
    return {"high": "High", "low": "Low"}.get(value, "Normal")


def _is_attachment(part: Message) -> bool:
    return "attachment" in str(part.get("Content-Disposition", "")).lower()


def _has_attachments(parsed: Message) -> bool:
    return any(_is_attachment(part) for part in parsed.walk())


def _bodies(parsed: Message) -> tuple[str, str]:
    """(HTML, plain text) of the first inline text parts."""
    html_part = text_part = ""
    for part in parsed.walk():
        if part.is_multipart() or _is_attachment(part):
            continue
        kind = part.get_content_type()
        if kind == "text/html" and not html_part:
            html_part = _content(part)
        elif kind == "text/plain" and not text_part:
            text_part = _content(part)
    return _xml_safe(html_part), _xml_safe(text_part)


def _content(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(payload or "")
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


# --- calendar items -------------------------------------------------------------------------------------


def _person(value: object) -> tuple[str, str, str]:
    """(email, name, response) from 'x@y' or {"email", "name", "response"}."""
    if isinstance(value, Mapping):
        return (
            str(value.get("email", "")).lower(),
            str(value.get("name", "")),
            RESPONSE_TYPES.get(str(value.get("response", "unknown")).lower(), str(value.get("response"))),
        )
    return str(value).lower(), "", "Unknown"


def _attendees(name: str, people: Iterable[object]) -> Any:
    elem = etree.Element(t(name))
    for person in people:
        email, display, response = _person(person)
        attendee = sub(elem, t("Attendee"))
        mailbox(attendee, email, display)
        sub(attendee, t("ResponseType"), response)
    return elem


def calendar_props(spec: Mapping[str, Any], *, owner: str, owner_name: str, creating: bool) -> Props:
    """Properties of a calendar item from a friendly spec (only the keys given, when updating).

    Keys: subject, start, end (aware datetimes, or dates with all_day), all_day, location, body,
    sensitivity (Normal/Private/…), free_busy (Busy/Free/Tentative/OOF), timezone (Windows id),
    organizer ('x@y' or {"email", "name"}), required/optional ([address or {"email", "name",
    "response"}]), my_response (organizer/accepted/tentative/declined/none), cancelled, uid,
    categories, recurrence ({"pattern", "interval", "days", "count"|"until"}).
    """
    props: Props = {}
    tz_id = str(spec.get("timezone") or "UTC")
    tz = zone(tz_id)
    all_day = bool(spec.get("all_day", False))
    for key in ("start", "end"):
        if key in spec:
            value = spec[key]
            if isinstance(value, date) and not isinstance(value, datetime):
                value = datetime.combine(value, time(0), tzinfo=tz)
            props[key.title()] = text(key.title(), value)
    if "start" in spec or "timezone" in spec or creating:
        props["StartTimeZone"] = etree.Element(t("StartTimeZone"), Id=tz_id)
        props["EndTimeZone"] = etree.Element(t("EndTimeZone"), Id=tz_id)
    simple = {
        "subject": "Subject",
        "location": "Location",
        "sensitivity": "Sensitivity",
        "free_busy": "LegacyFreeBusyStatus",
        "uid": "UID",
        "cancelled": "IsCancelled",
    }
    for key, name in simple.items():
        if key in spec:
            props[name] = text(name, spec[key])
    if "all_day" in spec or creating:
        props["IsAllDayEvent"] = text("IsAllDayEvent", all_day)
    if "body" in spec:
        props["Body"] = body(str(spec["body"]))
    if "categories" in spec:
        props["Categories"] = strings("Categories", spec["categories"])
    if "required" in spec:
        props["RequiredAttendees"] = _attendees("RequiredAttendees", spec["required"])
    if "optional" in spec:
        props["OptionalAttendees"] = _attendees("OptionalAttendees", spec["optional"])
    if "organizer" in spec or creating:
        email, display, _ = _person(spec.get("organizer") or {"email": owner, "name": owner_name})
        props["Organizer"] = single_mailbox("Organizer", email, display)
    if "my_response" in spec or creating:
        default = "organizer" if _person(spec.get("organizer") or owner)[0] == owner else "none"
        props["MyResponseType"] = text(
            "MyResponseType", RESPONSE_TYPES.get(str(spec.get("my_response", default)).lower(), "Unknown")
        )
    if spec.get("recurrence"):
        start = spec["start"]
        if isinstance(start, date) and not isinstance(start, datetime):
            start = datetime.combine(start, time(0), tzinfo=tz)
        props["Recurrence"] = recurrence_element(dict(spec["recurrence"]), start, tz)
    if creating:
        props.setdefault("Sensitivity", text("Sensitivity", "Normal"))
        props.setdefault("LegacyFreeBusyStatus", text("LegacyFreeBusyStatus", "Busy"))
        props.setdefault("IsCancelled", text("IsCancelled", False))
        props.setdefault("UID", text("UID", uuid.uuid4().hex.upper()))
    return props


# --- tasks -----------------------------------------------------------------------------------------------


def task_props(spec: Mapping[str, Any], *, creating: bool) -> Props:
    """Properties of a task. Keys: subject, due (date), status (NotStarted/InProgress/Completed/…),
    completed (bool, shorthand for status), importance (Low/Normal/High), body, percent_complete,
    categories."""
    props: Props = {}
    if "subject" in spec:
        props["Subject"] = text("Subject", spec["subject"])
    if "due" in spec:
        due = spec["due"]
        if due is not None:
            props["DueDate"] = text("DueDate", due)
    status = spec.get("status")
    if "completed" in spec:
        status = "Completed" if spec["completed"] else "NotStarted"
    if status is not None:
        props["Status"] = text("Status", status)
    elif creating:
        props["Status"] = text("Status", "NotStarted")
    if "percent_complete" in spec:
        props["PercentComplete"] = text("PercentComplete", spec["percent_complete"])
    if "importance" in spec:
        props["Importance"] = text("Importance", spec["importance"])
    elif creating:
        props["Importance"] = text("Importance", "Normal")
    if "body" in spec:
        props["Body"] = body(str(spec["body"]))
    if "categories" in spec:
        props["Categories"] = strings("Categories", spec["categories"])
    return props


# --- contacts --------------------------------------------------------------------------------------------


def contact_props(spec: Mapping[str, Any], *, creating: bool) -> Props:
    """Properties of a contact. Keys: given_name, surname, email (or emails: [..]), phones
    ({"MobilePhone": "…", "BusinessPhone": "…"}), company, job_title, department, addresses
    ({"Business": {"street", "city", "state", "postal_code", "country"}}), body, categories."""
    props: Props = {}
    simple = {
        "given_name": "GivenName",
        "surname": "Surname",
        "company": "CompanyName",
        "job_title": "JobTitle",
        "department": "Department",
        "display_name": "DisplayName",
    }
    for key, name in simple.items():
        if key in spec and spec[key] is not None:
            props[name] = text(name, spec[key])
    emails = list(spec.get("emails") or ([spec["email"]] if spec.get("email") else []))
    if emails or "email" in spec or "emails" in spec:
        container = etree.Element(t("EmailAddresses"))
        for n, email in enumerate(emails[:3], start=1):
            sub(container, t("Entry"), str(email), Key=f"EmailAddress{n}")
        props["EmailAddresses"] = container
    if "phones" in spec:
        container = etree.Element(t("PhoneNumbers"))
        for key, number in dict(spec["phones"]).items():
            sub(container, t("Entry"), str(number), Key=str(key))
        props["PhoneNumbers"] = container
    if "addresses" in spec:
        container = etree.Element(t("PhysicalAddresses"))
        parts = {
            "street": "Street",
            "city": "City",
            "state": "State",
            "country": "CountryOrRegion",
            "postal_code": "PostalCode",
        }
        for key, address in dict(spec["addresses"]).items():
            entry = sub(container, t("Entry"), Key=str(key))
            for part, name in parts.items():
                if address.get(part):
                    sub(entry, t(name), str(address[part]))
        props["PhysicalAddresses"] = container
    if "body" in spec:
        props["Body"] = body(str(spec["body"]))
    if "categories" in spec:
        props["Categories"] = strings("Categories", spec["categories"])
    if creating and "DisplayName" not in props:
        name = " ".join(
            str(spec.get(k, "")).strip() for k in ("given_name", "surname") if spec.get(k)
        ) or str(spec.get("company") or (emails[0] if emails else ""))
        props["DisplayName"] = text("DisplayName", name)
    return props
