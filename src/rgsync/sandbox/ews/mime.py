"""Delivered messages in the EWS emulator: the properties Exchange reads from a raw RFC 822
message (kept as MimeContent), and the item class its transport would give it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email import message_from_bytes
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from lxml import etree

from .builders import Props, body, html_to_text, recipients, single_mailbox, strings, text
from .soap import sub, t


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
    senders = _addresses(parsed, "From")
    if senders and senders[0][1]:
        display, email = senders[0]
        props["Sender"] = single_mailbox("Sender", email.lower(), display)
        props["From"] = single_mailbox("From", email.lower(), display)
    for header, name in (("To", "ToRecipients"), ("Cc", "CcRecipients"), ("Bcc", "BccRecipients")):
        found = [(d, e.lower()) for d, e in _addresses(parsed, header) if e]
        if found:
            props[name] = recipients(name, found)
    message_id = _header(parsed, "Message-ID")
    if message_id:
        props["InternetMessageId"] = text("InternetMessageId", message_id)
    props["IsRead"] = text("IsRead", is_read)
    return props


def item_class_of(raw: bytes) -> str:
    """The item class Exchange's transport gives a delivered message, judged from its MIME:
    delivery and read reports, meeting requests/replies/cancellations, else an ordinary note."""
    parsed = message_from_bytes(raw)
    kind = parsed.get_content_type()
    if kind == "multipart/report":
        report = str(parsed.get_param("report-type") or "").lower()
        return "REPORT.IPM.Note.IPNRN" if report == "disposition-notification" else "REPORT.IPM.Note.NDR"
    for part in parsed.walk():
        if part.get_content_type() == "text/calendar":
            method = str(part.get_param("method") or "").upper()
            if not method:
                found = re.search(r"(?m)^METHOD:(\w+)", _content(part))
                method = found.group(1).upper() if found else "REQUEST"
            return {
                "CANCEL": "IPM.Schedule.Meeting.Canceled",
                "REPLY": "IPM.Schedule.Meeting.Resp.Pos",
            }.get(method, "IPM.Schedule.Meeting.Request")
    return "IPM.Note"


# What XML 1.0 cannot carry: most control characters and the non-characters U+FFFE/U+FFFF.
_XML_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Charset names Exchange knows that Python's codecs do not.
_CHARSET_ALIASES = {
    "unicode-1-1-utf-7": "utf-7",
    "unicode-2-0-utf-7": "utf-7",
    "x-unicode-2-0-utf-7": "utf-7",
}


def _xml_safe(value: str) -> str:
    """Text XML can carry: control characters and non-characters dropped, lone surrogates (a UTF-7
    body or undecodable 8-bit bytes) replaced by U+FFFD, as Exchange stores what it cannot read."""
    return _SURROGATE.sub("\ufffd", _XML_UNSAFE.sub("", value))


def _header(parsed: Message, name: str) -> str:
    """A header's text with encoded words decoded ('' when absent or undecodable)."""
    value = parsed.get(name)
    if value is None:
        return ""
    try:
        decoded = str(make_header(decode_header(str(value))))
    except (LookupError, ValueError, UnicodeError, HeaderParseError):
        # Exchange stores a message whose encoded word is broken (bad base64) with the text as it came.
        decoded = str(value)
    return _xml_safe(" ".join(decoded.split()))


def _addresses(parsed: Message, name: str) -> list[tuple[str, str]]:
    """(display name, address) pairs of an address header, split *before* encoded words are
    decoded, as Exchange's transport does: an encoded comma (`=?iso-8859-1?Q?Doe=2C_Jane?=`) is
    part of a name, not a separator."""
    raw = [" ".join(str(value).split()) for value in parsed.get_all(name, [])]
    return [(_decoded(display), _xml_safe(address)) for display, address in getaddresses(raw)]


def _decoded(value: str) -> str:
    try:
        return _xml_safe(str(make_header(decode_header(value))))
    except (LookupError, ValueError, UnicodeError):
        return _xml_safe(value)


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if 100 <= parsed.year < 1000:
        # RFC 5322 §4.3: an obsolete three-digit year is 1900 + year ("2 Apr 101" is 2001).
        try:
            parsed = parsed.replace(year=parsed.year + 1900)
        except ValueError:
            return None
    if parsed.year < 1601:  # before the first FILETIME: Exchange cannot keep it
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
    charset = _CHARSET_ALIASES.get(charset, charset)
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")
