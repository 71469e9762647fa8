"""Messages in mail folders, as Outlook keeps them behind Graph.

A message is stored as its Graph resource (built from a raw RFC 822 message or from fields) plus
its folder, categories and extended properties. Each message has two ids: the immutable id (what a
client sees when it sends `Prefer: IdType="ImmutableId"`) and the regular REST id, which changes
whenever the message moves to another folder (https://learn.microsoft.com/graph/outlook-immutable-id).
Both are accepted in URLs while they are current.
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.policy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import Any

from rgsync.sandbox.graph.common import (
    GraphError,
    Json,
    change_key,
    deep_copy,
    extended_properties,
    iso_utc,
    new_id,
    parse_offset_datetime,
)
from rgsync.sandbox.graph.delta import ChangeLog

# Well-known folder names Graph accepts in place of folder ids, and their display names.
WELL_KNOWN_FOLDERS: dict[str, str] = {
    "inbox": "Inbox",
    "sentitems": "Sent Items",
    "drafts": "Drafts",
    "junkemail": "Junk Email",
    "deleteditems": "Deleted Items",
    "archive": "Archive",
}
MESSAGE_CLASS_PROPERTY = "String 0x001A"  # PidTagMessageClass


@dataclass
class StoredMessage:
    """One message: the Graph resource (without ids) and what the store tracks beside it.

    The store replaces a property of `resource` whole and never edits a nested value in place, so
    a snapshot or a rendered copy may share the nested values (see `snapshot`).
    """

    immutable_id: str
    rest_id: str
    folder: str
    resource: Json
    categories: list[str] = field(default_factory=list)
    extended: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""

    def snapshot(self) -> StoredMessage:
        """The message as it is now, unaffected by later changes to it (for the change log).

        Copying only the top level is enough because nested values are never edited in place; a
        deep copy of every header and body on each PATCH was most of a category update's cost.
        """
        return StoredMessage(
            self.immutable_id,
            self.rest_id,
            self.folder,
            dict(self.resource),
            list(self.categories),
            dict(self.extended),
            self.raw,
        )


class MailStore:
    """Mail folders and messages, with a change log per folder for `messages/delta`."""

    def __init__(self, address: str, name: str, clock: Callable[[], datetime], log: ChangeLog) -> None:
        self.address = address
        self.name = name
        self.clock = clock
        self.log = log
        self.folder_ids = {well_known: new_id("AAMkAF", 40) for well_known in WELL_KNOWN_FOLDERS}
        self.messages: dict[str, StoredMessage] = {}
        self._by_rest_id: dict[str, str] = {}
        self._conversations: dict[str, str] = {}

    # -- folders ---------------------------------------------------------------------------------
    def folder_key(self, name_or_id: str) -> str:
        """The well-known name of a folder given by name or id; GraphError 404 when unknown."""
        lowered = name_or_id.lower()
        if lowered in WELL_KNOWN_FOLDERS:
            return lowered
        for key, folder_id in self.folder_ids.items():
            if folder_id == name_or_id:
                return key
        raise GraphError(404, "ErrorInvalidIdMalformed", "Id is malformed.")

    def folder_resource(self, key: str) -> Json:
        """The mailFolder resource of a well-known folder."""
        count = sum(1 for m in self.messages.values() if m.folder == key)
        return {
            "id": self.folder_ids[key],
            "displayName": WELL_KNOWN_FOLDERS[key],
            "parentFolderId": new_id("AAMkAR", 8),
            "childFolderCount": 0,
            "unreadItemCount": 0,
            "totalItemCount": count,
            "isHidden": False,
        }

    # -- messages --------------------------------------------------------------------------------
    def resolve(self, message_id: str) -> StoredMessage:
        """A message by immutable or current REST id; Graph's 404 otherwise."""
        stored = self.messages.get(message_id)
        if stored is None and message_id in self._by_rest_id:
            stored = self.messages.get(self._by_rest_id[message_id])
        if stored is None:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return stored

    def render(
        self,
        stored: StoredMessage,
        *,
        immutable: bool,
        expand_property: str | None = None,
        expand: bool = False,
    ) -> Json:
        """The message resource as Graph returns it (id form per the ImmutableId preference)."""
        # A new top-level dict: the nested values are shared, never edited (see StoredMessage).
        body = dict(stored.resource)
        body["id"] = stored.immutable_id if immutable else stored.rest_id
        body["parentFolderId"] = self.folder_ids[stored.folder]
        body["categories"] = list(stored.categories)
        body["@odata.etag"] = f'W/"{body.get("changeKey", "")}"'
        if expand:
            body["singleValueExtendedProperties"] = extended_properties(stored.extended, expand_property)
        return body

    def add_message(
        self,
        message: bytes | str | Mapping[str, Any],
        folder: str = "inbox",
        categories: Iterable[str] = (),
        *,
        thread: str | None = None,
        received: datetime | None = None,
    ) -> str:
        """Deliver a message (raw RFC 822 or Graph fields) into a folder; returns its immutable id.

        `thread` groups messages into one conversation (like a Gmail thread id); without it a reply
        joins the conversation of the message it references, as Outlook does.
        """
        key = self.folder_key(folder)
        if isinstance(message, Mapping):
            resource, raw, message_class = self._from_fields(message, received)
        else:
            resource, raw, message_class = self._from_raw(message, received)
        resource["conversationId"] = self._conversation(thread, resource)
        stored = StoredMessage(
            immutable_id=new_id("AAkALg", 60),
            rest_id=new_id("AAMkAG", 60),
            folder=key,
            resource=resource,
            categories=list(dict.fromkeys(categories)),
            extended={MESSAGE_CLASS_PROPERTY: message_class},
            raw=raw,
        )
        self.messages[stored.immutable_id] = stored
        self._by_rest_id[stored.rest_id] = stored.immutable_id
        self.log.record(self._collection(key), stored.immutable_id, None)
        return stored.immutable_id

    def _collection(self, key: str) -> str:
        return f"mail:{key}"

    def collection(self, folder: str) -> str:
        """The change-log collection of a folder (by name or id)."""
        return self._collection(self.folder_key(folder))

    def _conversation(self, thread: str | None, resource: Json) -> str:
        references = [r for r in str(resource.pop("_references", "")).split() if r]
        keys = [f"thread:{thread}"] if thread else []
        keys += [f"mid:{r}" for r in references]
        conversation = next((self._conversations[k] for k in keys if k in self._conversations), None)
        conversation = conversation or new_id("AAQkAG", 40)
        for k in [*keys, f"mid:{resource.get('internetMessageId', '')}"]:
            self._conversations.setdefault(k, conversation)
        return conversation

    def _stamp(self, resource: Json) -> None:
        now = iso_utc(self.clock())
        resource.setdefault("createdDateTime", now)
        resource["lastModifiedDateTime"] = now
        resource["changeKey"] = change_key()

    def _from_raw(self, raw_message: bytes | str, received: datetime | None) -> tuple[Json, bytes, str]:
        raw = raw_message.encode("utf-8") if isinstance(raw_message, str) else raw_message
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        sent = _sent_date(str(parsed.get("Date", ""))) or received or self.clock()
        text_part = parsed.get_body(preferencelist=("plain",))
        html_part = parsed.get_body(preferencelist=("html",))
        if html_part is not None:
            body = {"contentType": "html", "content": _content(html_part)}
        else:
            body = {"contentType": "text", "content": _content(text_part) if text_part is not None else ""}
        preview_source = _content(text_part) if text_part is not None else ""
        headers = [{"name": k, "value": str(v)} for k, v in parsed.items()]
        content_type = parsed.get_content_type()
        message_class = "IPM.Note"
        if content_type == "multipart/report":
            report = str(parsed.get_param("report-type", "") or "").lower()
            message_class = "REPORT.IPM.Note.NDR" if report == "delivery-status" else "REPORT.IPM.Note.IPNRN"
        elif parsed.get_body(preferencelist=("calendar",)) is not None or content_type == "text/calendar":
            message_class = "IPM.Schedule.Meeting.Request"
        resource: Json = {
            "receivedDateTime": iso_utc(received or sent),
            "sentDateTime": iso_utc(sent),
            "hasAttachments": any(True for _ in parsed.iter_attachments()),
            "internetMessageId": str(parsed.get("Message-ID", "")).strip(),
            "subject": _subject(parsed),
            "bodyPreview": preview_source[:255],
            "importance": "normal",
            "isRead": False,
            "isDraft": False,
            "body": body,
            "sender": _recipient(str(parsed.get("Sender", "") or parsed.get("From", ""))),
            "from": _recipient(str(parsed.get("From", ""))),
            "toRecipients": _recipients(parsed.get_all("To", [])),
            "ccRecipients": _recipients(parsed.get_all("Cc", [])),
            "bccRecipients": _recipients(parsed.get_all("Bcc", [])),
            "replyTo": _recipients(parsed.get_all("Reply-To", [])),
            "internetMessageHeaders": headers,
            "flag": {"flagStatus": "notFlagged"},
            "_references": " ".join([str(parsed.get("In-Reply-To", "")), str(parsed.get("References", ""))]),
        }
        if resource["sender"] is None:
            resource["sender"] = resource["from"]
        self._stamp(resource)
        return resource, raw, message_class

    def _from_fields(self, fields: Mapping[str, Any], received: datetime | None) -> tuple[Json, bytes, str]:
        resource = deep_copy(dict(fields))
        message_class = str(resource.pop("messageClass", "IPM.Note"))
        moment = received or (
            parse_offset_datetime(str(resource["receivedDateTime"]))
            if resource.get("receivedDateTime")
            else self.clock()
        )
        resource.setdefault("receivedDateTime", iso_utc(moment))
        resource.setdefault("sentDateTime", resource["receivedDateTime"])
        resource.setdefault("internetMessageId", f"<{new_id('', 20)}@sandbox.invalid>")
        resource.setdefault("subject", "")
        resource.setdefault("body", {"contentType": "text", "content": ""})
        resource.setdefault("bodyPreview", str(resource["body"].get("content", ""))[:255])
        for name in ("toRecipients", "ccRecipients", "bccRecipients", "replyTo"):
            resource[name] = [_as_recipient(r) for r in resource.get(name, [])]
        resource["from"] = _as_recipient(resource["from"]) if resource.get("from") else None
        resource["sender"] = _as_recipient(resource["sender"]) if resource.get("sender") else resource["from"]
        resource.setdefault("internetMessageHeaders", [])
        resource.setdefault("hasAttachments", False)
        resource.setdefault("isRead", False)
        resource.setdefault("isDraft", False)
        resource.setdefault("importance", "normal")
        resource["_references"] = str(resource.pop("inReplyTo", ""))
        self._stamp(resource)
        return resource, b"", message_class

    def update(self, message_id: str, changes: Mapping[str, Any]) -> StoredMessage:
        """PATCH a message: categories, isRead, flag, importance (what Graph lets a client change on a
        received message); anything else is refused like Graph refuses read-only properties."""
        stored = self.resolve(message_id)
        before = stored.snapshot()
        for name, value in changes.items():
            if name == "categories":
                if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
                    raise GraphError(
                        400,
                        "ErrorInvalidRequest",
                        "The property 'categories' must be a collection of strings.",
                    )
                stored.categories = list(dict.fromkeys(value))
            elif name in ("isRead", "flag", "importance", "inferenceClassification"):
                stored.resource[name] = deep_copy(value)
            elif name.startswith("@odata"):
                continue
            else:
                raise GraphError(
                    400,
                    "ErrorInvalidPropertyUpdateSentMessage",
                    f"Update operation is not supported for the property '{name}' of a sent message.",
                )
        self._stamp(stored.resource)
        self.log.record(self._collection(stored.folder), stored.immutable_id, before)
        return stored

    def move(self, message_id: str, folder: str) -> StoredMessage:
        """Move a message to another folder: its REST id changes, its immutable id does not."""
        stored = self.resolve(message_id)
        target = self.folder_key(folder)
        before = stored.snapshot()
        self._by_rest_id.pop(stored.rest_id, None)
        stored.rest_id = new_id("AAMkAG", 60)
        self._by_rest_id[stored.rest_id] = stored.immutable_id
        stored.folder = target
        self._stamp(stored.resource)
        self.log.record(self._collection(before.folder), stored.immutable_id, before)
        self.log.record(self._collection(target), stored.immutable_id, None)
        return stored

    def delete(self, message_id: str) -> None:
        """Delete a message for good."""
        stored = self.resolve(message_id)
        before = stored.snapshot()
        del self.messages[stored.immutable_id]
        self._by_rest_id.pop(stored.rest_id, None)
        self.log.record(self._collection(stored.folder), stored.immutable_id, before)

    def in_folder(self, key: str) -> list[StoredMessage]:
        """The messages of one folder, newest first (Outlook's default order)."""
        found = [m for m in self.messages.values() if m.folder == key]
        return sorted(found, key=lambda m: str(m.resource.get("receivedDateTime", "")), reverse=True)

    def mime(self, message_id: str) -> bytes:
        """The message's MIME content (`$value`), rebuilt from the fields when it came without one."""
        stored = self.resolve(message_id)
        if stored.raw:
            return stored.raw
        resource = stored.resource
        lines = [
            f"Message-ID: {resource.get('internetMessageId', '')}",
            f"Subject: {resource.get('subject', '')}",
        ]
        sender = resource.get("from") or {}
        lines.append(f"From: {_format(sender)}")
        to = ", ".join(_format(r) for r in resource.get("toRecipients", []))
        if to:
            lines.append(f"To: {to}")
        lines.append("Content-Type: text/plain; charset=utf-8")
        return ("\r\n".join(lines) + "\r\n\r\n" + str(resource.get("body", {}).get("content", ""))).encode(
            "utf-8"
        )


def _content(part: Any) -> str:
    try:
        return str(part.get_content())
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True) or b""
        return bytes(payload).decode("utf-8", errors="replace")


def _recipient(text: str) -> Json | None:
    name, address = parseaddr(text)
    if not address:
        return None
    return {"emailAddress": {"name": name or address, "address": address}}


def _recipients(values: list[Any]) -> list[Json]:
    return [
        {"emailAddress": {"name": name or address, "address": address}}
        for name, address in getaddresses([str(v) for v in values])
        if address
    ]


def _as_recipient(value: Any) -> Json:
    if isinstance(value, str):
        found = _recipient(value)
        if found is None:
            raise GraphError(400, "ErrorInvalidRecipients", f"'{value}' is not a valid email address.")
        return found
    if isinstance(value, Mapping) and isinstance(value.get("emailAddress"), Mapping):
        return {"emailAddress": dict(value["emailAddress"])}
    raise GraphError(
        400, "ErrorInvalidRecipients", "A recipient is {'emailAddress': {'name': ..., 'address': ...}}."
    )


def _format(recipient: Mapping[str, Any]) -> str:
    box = recipient.get("emailAddress") or {}
    name, address = box.get("name", ""), box.get("address", "")
    return f"{name} <{address}>" if name and name != address else str(address)


def _subject(parsed: EmailMessage) -> str:
    """The Subject as Exchange Online shows it: decoded, or as it came (unfolded) when an encoded
    word is broken (bad base64), where the lenient parser would keep only a fragment of it."""
    raw = next((str(v) for k, v in parsed.raw_items() if k.lower() == "subject"), None)
    if raw is None:
        return ""
    try:
        email.header.decode_header(raw)
    except email.errors.HeaderParseError:
        return " ".join(raw.split())
    return str(parsed.get("Subject", ""))


# Exchange stores times as FILETIMEs, which start in 1601; an earlier date cannot be kept.
_EARLIEST = datetime(1601, 1, 1, tzinfo=UTC)


def _sent_date(value: str) -> datetime | None:
    """The Date header as Exchange keeps it, in UTC; None when it cannot be read or kept.

    RFC 5322 §4.3 reads an obsolete three-digit year as 1900 + year (`Mon, 2 Apr 101` is 2001),
    which Python's parser leaves as the year 101; a date still out of Exchange's range is
    dropped, so the received time stands in for it as it does for a missing Date.
    """
    try:
        sent = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if sent is None:
        return None
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    if 100 <= sent.year < 1000:
        try:
            sent = sent.replace(year=sent.year + 1900)
        except ValueError:  # 29 February of a year that is not a leap year once moved
            return None
    try:
        sent = sent.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return sent if sent >= _EARLIEST else None
