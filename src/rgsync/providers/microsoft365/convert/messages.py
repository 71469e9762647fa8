"""Messages: a Graph message as an EmailItem (SPEC §3.1)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rgsync.model import SERVICE_HEADERS, EmailItem, Folder
from rgsync.providers.microsoft365.convert.values import address_of, addresses_of, parse_instant

MESSAGE_CLASS_PROPERTY = "String 0x001A"
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
    "changeKey",  # tells rgsync's own category change from a later one (see DeltaReads.past_own_marks)
)


_SURROGATE = re.compile("[\ud800-\udfff]")


def scrubbed(value: Any) -> Any:
    """A JSON value with lone surrogates replaced by U+FFFD in every string.

    JSON may escape half of a surrogate pair (`"\\ud83d"`), which decodes to a string no
    UTF-8 encoder accepts: it would fail the Salesforce write of the whole batch (SPEC §7.8).
    """
    if not _may_hold_surrogates(value):
        return value
    return _scrub(value)


def _may_hold_surrogates(value: Any) -> bool:
    """False when no string in `value` holds a lone surrogate (nearly every message).

    Encoding the value once in C is far cheaper than visiting its ~60 strings in Python; a
    surrogate pair decodes to one character, so only a lone half makes the UTF-8 step fail.
    Anything JSON cannot encode is visited the slow way, to be safe.
    """
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, TypeError, ValueError):
        return True
    return False


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, Mapping):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value


def email_from_message(message: Mapping[str, Any], folder: Folder) -> EmailItem:
    """A Graph message as an EmailItem (headers give Content-Type, Auto-Submitted, In-Reply-To)."""
    message = scrubbed(message)
    headers: dict[str, str] = {}
    for header in message.get("internetMessageHeaders") or []:
        # The first of a repeated header (the newest Received-style trace comes first).
        headers.setdefault(str(header.get("name", "")).lower(), str(header.get("value", "")))
    problems: list[str] = []
    sent = parse_instant(message.get("sentDateTime")) or parse_instant(message.get("receivedDateTime"))
    message_id = str(message.get("internetMessageId") or "").strip()
    if not message_id:
        problems.append("the email has no Message-ID")
    sender = address_of(message.get("from")) or address_of(message.get("sender"))
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
        to=addresses_of(message.get("toRecipients")),
        cc=addresses_of(message.get("ccRecipients")),
        bcc=addresses_of(message.get("bccRecipients")),
        # An HTML body is rendered as text only for an email that is saved (the Salesforce
        # mapping's `plain_body`): most emails read are skipped, and rendering is the costly part.
        text_body="" if is_html else content,
        html_body=content if is_html else "",
        labels=frozenset(str(c) for c in message.get("categories") or []),
        content_type=content_type or "text/plain",
        auto_submitted=headers.get("auto-submitted", ""),
        item_class=message_class,
        in_reply_to=headers.get("in-reply-to", "").strip(),
        problems=tuple(problems),
        unreadable="" if sent else "the email has no sent or received date",
        headers=tuple((name, " ".join(headers[name].split())) for name in SERVICE_HEADERS if name in headers),
    )
