"""The Gmail API v1 emulator: a mailbox of raw RFC 822 messages with labels, threads and a history
journal, answering users.getProfile, messages.*, labels.* and history.list as Gmail does.

History: every change to a message (added, deleted, label added, label removed) is one history
record with the next history id, and the message's `historyId` becomes that id. `expire_history()`
forgets the journal, so any older startHistoryId gets Gmail's 404 and the client must resync fully.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any

from rgsync.sandbox.google import mime
from rgsync.sandbox.google.common import (
    Call,
    GoogleApiError,
    Route,
    b64url,
    bad_request,
    encode_token,
    from_b64url,
    no_content,
    page_offset,
    route,
)
from rgsync.sandbox.google.gmail_search import (
    Candidate,
    compile_query,
    normalise_label_name,
    tokenize,
    wants_spam_or_trash,
)

SYSTEM_LABELS: tuple[str, ...] = (
    "CHAT",
    "SENT",
    "INBOX",
    "IMPORTANT",
    "TRASH",
    "DRAFT",
    "SPAM",
    "CATEGORY_FORUMS",
    "CATEGORY_UPDATES",
    "CATEGORY_PERSONAL",
    "CATEGORY_PROMOTIONS",
    "CATEGORY_SOCIAL",
    "STARRED",
    "UNREAD",
)
# System labels a client may put on or take off a message; SENT, DRAFT and CHAT are Gmail's own.
ASSIGNABLE_SYSTEM_LABELS = frozenset(SYSTEM_LABELS) - {"SENT", "DRAFT", "CHAT"}
HIDDEN_IN_MESSAGE_LIST = frozenset({"INBOX", "SENT", "DRAFT", "SPAM", "TRASH", "CHAT", "IMPORTANT"})

MAX_LIST_RESULTS = 500
DEFAULT_LIST_RESULTS = 100
MAX_BATCH_MODIFY_IDS = 1000
FIRST_HISTORY_ID = 10_000
_MESSAGE_ID_BASE = 0x18F3A00000000000

NOT_FOUND_MESSAGE = "Requested entity was not found."

HISTORY_TYPES = ("messageAdded", "messageDeleted", "labelAdded", "labelRemoved")
_HISTORY_FIELD = {
    "messageAdded": "messagesAdded",
    "messageDeleted": "messagesDeleted",
    "labelAdded": "labelsAdded",
    "labelRemoved": "labelsRemoved",
}


@dataclass
class StoredMessage:
    """One message as Gmail keeps it: the raw bytes and Gmail's own attributes."""

    id: str
    thread_id: str
    raw: bytes
    label_ids: list[str]
    internal_date_ms: int
    history_id: int
    _parsed: Message | None = field(default=None, repr=False)

    @property
    def parsed(self) -> Message:
        """The parsed MIME tree (parsed once, on first use)."""
        if self._parsed is None:
            self._parsed = mime.parse(self.raw)
        return self._parsed


@dataclass(frozen=True)
class HistoryRecord:
    """One journal entry: what happened to which message, and its labels afterwards."""

    id: int
    kind: str
    message_id: str
    thread_id: str
    label_ids: tuple[str, ...]
    changed_labels: tuple[str, ...] = ()


class GmailStore:
    """The mailbox behind the Gmail emulator. Its public methods are the Python setup helpers tests use;
    all of them are safe to call while the server is running."""

    def __init__(self, address: str, clock: Callable[[], datetime], lock: threading.RLock) -> None:
        self.address = address
        self.clock = clock
        self.lock = lock
        self.messages: dict[str, StoredMessage] = {}
        self.user_labels: dict[str, dict[str, Any]] = {}
        self.history: list[HistoryRecord] = []
        self.history_id = FIRST_HISTORY_ID
        # The lowest startHistoryId still answerable: everything after it is in the journal.
        self.history_floor = FIRST_HISTORY_ID
        self.thread_aliases: dict[str, str] = {}
        self._by_rfc_id: dict[str, str] = {}
        self._next_message = 1
        self._next_label = 1

    # --- setup helpers ---------------------------------------------------------------------------

    def add_message(
        self,
        raw: bytes | str,
        labels: Iterable[str] = ("INBOX",),
        thread_id: str | None = None,
        *,
        internal_date: datetime | None = None,
    ) -> str:
        """Store raw RFC 822 bytes as a new message and return its id. `labels` are label ids or names
        (unknown user label names are created); `thread_id` is a thread id, or a scenario alias such as
        't1' (the first message with an alias starts that thread); without it the message joins the
        thread of a message it replies to (In-Reply-To/References), else starts a new one. The internal
        date is `internal_date`, else the Date header, else now."""
        with self.lock:
            data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
            label_ids = [self.label_id(name, create=True) for name in labels]
            return self._insert(data, label_ids, thread_id, internal_date, date_from_header=True).id

    def delete_message(self, message_id: str) -> None:
        """Delete a message for good (a messagesDeleted history record)."""
        with self.lock:
            message = self._message(message_id)
            del self.messages[message_id]
            self._record("messageDeleted", message)

    def modify_labels(self, message_id: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        """Add and remove labels (ids or names) on a message, journaling each change."""
        with self.lock:
            message = self._message(message_id)
            self._apply_labels(
                message, [self.label_id(n, create=True) for n in add], [self.label_id(n) for n in remove]
            )

    def create_label(self, name: str) -> str:
        """Create a user label and return its id ('Label_N'); a name in use is Gmail's 409."""
        with self.lock:
            return str(self._create_label({"name": name})["id"])

    def label_id(self, name_or_id: str, *, create: bool = False) -> str:
        """The id of a label given by id or name (system labels by their id, case-insensitively)."""
        with self.lock:
            if name_or_id.upper() in SYSTEM_LABELS:
                return name_or_id.upper()
            if name_or_id in self.user_labels:
                return name_or_id
            for label_id, label in self.user_labels.items():
                if str(label["name"]).lower() == name_or_id.lower():
                    return label_id
            if create:
                return self.create_label(name_or_id)
            raise bad_request(f"Invalid label: {name_or_id}")

    def expire_history(self) -> None:
        """Forget the history journal: any earlier startHistoryId now gets 404 (full sync needed)."""
        with self.lock:
            self.history.clear()
            # Even the latest id handed out must now be refused: move the position past it.
            self.history_id += 1
            self.history_floor = self.history_id

    def thread_of(self, alias_or_id: str) -> str:
        """The thread id behind a scenario alias (or the id itself)."""
        return self.thread_aliases.get(alias_or_id, alias_or_id)

    # --- internals -------------------------------------------------------------------------------

    def _message(self, message_id: str) -> StoredMessage:
        message = self.messages.get(message_id)
        if message is None:
            raise GoogleApiError(404, "notFound", NOT_FOUND_MESSAGE)
        return message

    def _new_message_id(self) -> str:
        message_id = f"{_MESSAGE_ID_BASE + self._next_message * 0x1F3B:x}"
        self._next_message += 1
        return message_id

    def _record(self, kind: str, message: StoredMessage, changed: Sequence[str] = ()) -> None:
        self.history_id += 1
        message.history_id = self.history_id
        self.history.append(
            HistoryRecord(
                self.history_id, kind, message.id, message.thread_id, tuple(message.label_ids), tuple(changed)
            )
        )

    def _insert(
        self,
        raw: bytes,
        label_ids: list[str],
        thread_id: str | None,
        internal_date: datetime | None,
        *,
        date_from_header: bool,
    ) -> StoredMessage:
        message_id = self._new_message_id()
        parsed = mime.parse(raw)
        if internal_date is None and date_from_header:
            internal_date = _header_date(parsed)
        moment = internal_date if internal_date is not None else self.clock()
        thread = self._thread_for(message_id, parsed, thread_id)
        unique_labels = list(dict.fromkeys(label_ids))
        message = StoredMessage(
            message_id, thread, raw, unique_labels, int(moment.timestamp() * 1000), 0, parsed
        )
        self.messages[message_id] = message
        rfc_id = parsed.get("Message-ID")
        if rfc_id:
            self._by_rfc_id[str(rfc_id).strip()] = thread
        self._record("messageAdded", message)
        return message

    def _thread_for(self, message_id: str, parsed: Message, requested: str | None) -> str:
        if requested:
            if requested in self.thread_aliases:
                return self.thread_aliases[requested]
            if any(m.thread_id == requested for m in self.messages.values()):
                return requested
            self.thread_aliases[requested] = message_id
            return message_id
        for header_name in ("In-Reply-To", "References"):
            for reference in str(parsed.get(header_name) or "").split():
                thread = self._by_rfc_id.get(reference.strip())
                if thread is not None:
                    return thread
        return message_id

    def _apply_labels(self, message: StoredMessage, add: Sequence[str], remove: Sequence[str]) -> None:
        added = [
            label for label in dict.fromkeys(add) if label not in message.label_ids and label not in remove
        ]
        removed = [label for label in dict.fromkeys(remove) if label in message.label_ids]
        if added:
            message.label_ids.extend(added)
            self._record("labelAdded", message, added)
        if removed:
            message.label_ids[:] = [label for label in message.label_ids if label not in removed]
            self._record("labelRemoved", message, removed)

    def _check_assignable(self, label_ids: Iterable[str], *, adding: bool) -> list[str]:
        checked: list[str] = []
        for label in label_ids:
            if (
                label in self.user_labels
                or label in ASSIGNABLE_SYSTEM_LABELS
                or (not adding and label in SYSTEM_LABELS)
            ):
                checked.append(label)
            else:
                raise bad_request(f"Invalid label: {label}", reason="invalidArgument")
        return checked

    def _create_label(self, body: dict[str, Any]) -> dict[str, Any]:
        name = str(body.get("name") or "").strip()
        if not name:
            raise bad_request("Invalid label name", reason="invalidArgument")
        if name.upper() in SYSTEM_LABELS:
            raise bad_request("Invalid label name", reason="invalidArgument")
        if any(str(label["name"]).lower() == name.lower() for label in self.user_labels.values()):
            raise GoogleApiError(409, "aborted", "Label name exists or conflicts", status="ABORTED")
        label_id = f"Label_{self._next_label}"
        self._next_label += 1
        label = {
            "id": label_id,
            "name": name,
            "messageListVisibility": body.get("messageListVisibility", "show"),
            "labelListVisibility": body.get("labelListVisibility", "labelShow"),
            "type": "user",
        }
        if isinstance(body.get("color"), dict):
            label["color"] = body["color"]
        self.user_labels[label_id] = label
        return dict(label)

    def _label_resource(self, label_id: str, *, counts: bool) -> dict[str, Any]:
        if label_id in SYSTEM_LABELS:
            resource: dict[str, Any] = {"id": label_id, "name": label_id, "type": "system"}
            if not label_id.startswith("CATEGORY_") and label_id not in ("UNREAD", "STARRED", "IMPORTANT"):
                resource["messageListVisibility"] = "hide" if label_id in HIDDEN_IN_MESSAGE_LIST else "show"
                resource["labelListVisibility"] = "labelShow" if label_id != "CHAT" else "labelHide"
        elif label_id in self.user_labels:
            resource = dict(self.user_labels[label_id])
        else:
            raise GoogleApiError(404, "notFound", NOT_FOUND_MESSAGE)
        if counts:
            tagged = [m for m in self.messages.values() if label_id in m.label_ids]
            unread = [m for m in tagged if "UNREAD" in m.label_ids]
            resource["messagesTotal"] = len(tagged)
            resource["messagesUnread"] = len(unread)
            resource["threadsTotal"] = len({m.thread_id for m in tagged})
            resource["threadsUnread"] = len({m.thread_id for m in unread})
        return resource

    def _label_names(self, message: StoredMessage) -> frozenset[str]:
        names = set()
        for label_id in message.label_ids:
            if label_id in self.user_labels:
                names.add(normalise_label_name(str(self.user_labels[label_id]["name"])))
            else:
                names.add(label_id.lower())
        return frozenset(names)

    def _candidate(self, message: StoredMessage) -> Candidate:
        parsed = message.parsed
        return Candidate(
            label_ids=frozenset(message.label_ids),
            label_names=self._label_names(message),
            internal_date_ms=message.internal_date_ms,
            subject=mime.header(parsed, "Subject"),
            senders=(*mime.addresses(parsed, "From"), mime.header(parsed, "From").lower()),
            recipients=(*mime.addresses(parsed, "To", "Cc", "Bcc"), mime.header(parsed, "To").lower()),
            copied=tuple(mime.addresses(parsed, "Cc")),
            message_id=mime.header(parsed, "Message-ID"),
            text=mime.body_text(parsed),
            has_attachment=any(mime.is_attachment(p) for p in parsed.walk() if not p.is_multipart()),
        )

    # --- resources -------------------------------------------------------------------------------

    def message_resource(
        self, message: StoredMessage, fmt: str, metadata_headers: Sequence[str] = ()
    ) -> dict[str, Any]:
        """A message in format minimal, metadata, full or raw."""
        resource: dict[str, Any] = {"id": message.id, "threadId": message.thread_id}
        if message.label_ids:
            resource["labelIds"] = list(message.label_ids)
        resource["snippet"] = mime.snippet(message.parsed)
        resource["sizeEstimate"] = len(message.raw)
        resource["historyId"] = str(message.history_id)
        resource["internalDate"] = str(message.internal_date_ms)
        if fmt == "raw":
            resource["raw"] = b64url(message.raw)
        elif fmt == "full":
            resource["payload"] = mime.payload_tree(message.id, message.parsed)
        elif fmt == "metadata":
            wanted = {name.lower() for name in metadata_headers}
            headers = mime.header_list(message.parsed)
            if wanted:
                headers = [h for h in headers if h["name"].lower() in wanted]
            resource["payload"] = {"mimeType": message.parsed.get_content_type(), "headers": headers}
        return resource


def _header_date(parsed: Message) -> datetime | None:
    value = parsed.get("Date")
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else None


def _minimal(message: StoredMessage) -> dict[str, Any]:
    return {"id": message.id, "threadId": message.thread_id, "labelIds": list(message.label_ids)}


# --- routes -------------------------------------------------------------------------------------


def routes(store: GmailStore) -> list[Route]:
    """The Gmail methods the emulator answers, counted as 'gmail.<resource>.<method>'."""

    def check_user(call: Call) -> None:
        user = call["user"]
        if user != "me" and user.lower() != store.address.lower():
            raise GoogleApiError(403, "forbidden", f"Delegation denied for {store.address}")

    def get_profile(call: Call) -> Any:
        check_user(call)
        return {
            "emailAddress": store.address,
            "messagesTotal": len(store.messages),
            "threadsTotal": len({m.thread_id for m in store.messages.values()}),
            "historyId": str(store.history_id),
        }

    def list_messages(call: Call) -> Any:
        check_user(call)
        label_ids = call.params("labelIds")
        query = call.param("q") or ""
        terms = tokenize(query)
        include_spam_trash = (
            call.flag("includeSpamTrash")
            or any(label in ("SPAM", "TRASH") for label in label_ids)
            or wants_spam_or_trash(terms)
        )
        predicate = compile_query(query, store.clock()) if query.strip() else None
        found: list[StoredMessage] = []
        for message in store.messages.values():
            if not include_spam_trash and ("SPAM" in message.label_ids or "TRASH" in message.label_ids):
                continue
            if not all(label in message.label_ids for label in label_ids):
                continue
            if predicate is not None and not predicate(store._candidate(message)):
                continue
            found.append(message)
        found.sort(key=lambda m: (m.internal_date_ms, m.id), reverse=True)
        size = call.integer("maxResults", DEFAULT_LIST_RESULTS, maximum=MAX_LIST_RESULTS, minimum=1)
        offset, _ = page_offset(call, "gm.")
        page = found[offset : offset + size]
        result: dict[str, Any] = {}
        if page:
            result["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
        if offset + size < len(found):
            result["nextPageToken"] = encode_token("gm.", {"o": offset + size})
        result["resultSizeEstimate"] = len(found)
        return result

    def get_message(call: Call) -> Any:
        check_user(call)
        fmt = (call.param("format") or "full").lower()
        if fmt not in ("minimal", "full", "raw", "metadata"):
            raise bad_request(
                f"Invalid value at 'format' ({fmt})", reason="invalidArgument", location="format"
            )
        message = store._message(call["id"])
        return store.message_resource(message, fmt, call.params("metadataHeaders"))

    def insert_or_import(call: Call, *, importing: bool) -> Any:
        check_user(call)
        body = call.body()
        if not body.get("raw"):
            raise bad_request(
                "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
                reason="invalidArgument",
            )
        raw = from_b64url(str(body["raw"]), what="raw")
        labels = [str(label) for label in body.get("labelIds") or []]
        for label in labels:
            if label not in SYSTEM_LABELS and label not in store.user_labels:
                raise bad_request(f"Invalid label: {label}", reason="invalidArgument")
        source = call.param("internalDateSource") or ("dateHeader" if importing else "receivedTime")
        thread = body.get("threadId")
        message = store._insert(
            raw, labels, str(thread) if thread else None, None, date_from_header=source == "dateHeader"
        )
        return _minimal(message)

    def modify_message(call: Call) -> Any:
        check_user(call)
        message = store._message(call["id"])
        body = call.body()
        add = store._check_assignable([str(x) for x in body.get("addLabelIds") or []], adding=True)
        remove = store._check_assignable([str(x) for x in body.get("removeLabelIds") or []], adding=False)
        store._apply_labels(message, add, remove)
        return _minimal(message)

    def batch_modify(call: Call) -> Any:
        check_user(call)
        body = call.body()
        ids = [str(x) for x in body.get("ids") or []]
        if len(ids) > MAX_BATCH_MODIFY_IDS:
            raise bad_request(
                f"Too many messages ids: {len(ids)}, the limit is {MAX_BATCH_MODIFY_IDS}",
                reason="invalidArgument",
            )
        add = store._check_assignable([str(x) for x in body.get("addLabelIds") or []], adding=True)
        remove = store._check_assignable([str(x) for x in body.get("removeLabelIds") or []], adding=False)
        for message_id in ids:
            message = store.messages.get(message_id)
            if message is not None:  # ids of messages gone meanwhile are skipped, not an error
                store._apply_labels(message, add, remove)
        return no_content()

    def trash(call: Call) -> Any:
        check_user(call)
        message = store._message(call["id"])
        store._apply_labels(message, ["TRASH"], [])
        return _minimal(message)

    def untrash(call: Call) -> Any:
        check_user(call)
        message = store._message(call["id"])
        store._apply_labels(message, [], ["TRASH"])
        return _minimal(message)

    def delete_message(call: Call) -> Any:
        check_user(call)
        store.delete_message(call["id"])
        return no_content()

    def batch_delete(call: Call) -> Any:
        check_user(call)
        ids = [str(x) for x in call.body().get("ids") or []]
        if len(ids) > MAX_BATCH_MODIFY_IDS:
            raise bad_request(
                f"Too many messages ids: {len(ids)}, the limit is {MAX_BATCH_MODIFY_IDS}",
                reason="invalidArgument",
            )
        for message_id in ids:
            if message_id in store.messages:
                store.delete_message(message_id)
        return no_content()

    def get_attachment(call: Call) -> Any:
        check_user(call)
        message = store._message(call["messageId"])
        for part_id in _part_ids(message.parsed):
            if mime.attachment_id(message.id, part_id) == call["id"]:
                part = mime.find_part(message.parsed, part_id)
                data = mime.leaf_bytes(part) if part is not None else b""
                return {"attachmentId": call["id"], "size": len(data), "data": b64url(data)}
        raise bad_request("Invalid attachment token", reason="invalidArgument")

    def list_labels(call: Call) -> Any:
        check_user(call)
        ids = list(SYSTEM_LABELS) + list(store.user_labels)
        return {"labels": [store._label_resource(label_id, counts=False) for label_id in ids]}

    def get_label(call: Call) -> Any:
        check_user(call)
        return store._label_resource(call["id"], counts=True)

    def create_label(call: Call) -> Any:
        check_user(call)
        return store._create_label(call.body())

    def change_label(call: Call) -> Any:
        check_user(call)
        label_id = call["id"]
        if label_id in SYSTEM_LABELS:
            raise bad_request("Invalid update request", reason="invalidArgument")
        if label_id not in store.user_labels:
            raise GoogleApiError(404, "notFound", NOT_FOUND_MESSAGE)
        body = call.body()
        label = store.user_labels[label_id]
        name = body.get("name")
        if call.method == "PUT" and not name:
            raise bad_request("Invalid label name", reason="invalidArgument")
        renamed = bool(name) and str(name).lower() != str(label["name"]).lower()
        if renamed and any(
            str(other["name"]).lower() == str(name).lower() for other in store.user_labels.values()
        ):
            raise GoogleApiError(409, "aborted", "Label name exists or conflicts", status="ABORTED")
        for key in ("name", "messageListVisibility", "labelListVisibility", "color"):
            if key in body and body[key] is not None:
                label[key] = body[key]
        return dict(label)

    def delete_label(call: Call) -> Any:
        check_user(call)
        label_id = call["id"]
        if label_id in SYSTEM_LABELS:
            raise bad_request("Invalid delete request", reason="invalidArgument")
        if label_id not in store.user_labels:
            raise GoogleApiError(404, "notFound", NOT_FOUND_MESSAGE)
        for message in store.messages.values():
            if label_id in message.label_ids:
                store._apply_labels(message, [], [label_id])
        del store.user_labels[label_id]
        return no_content()

    def list_history(call: Call) -> Any:
        check_user(call)
        start_text = call.param("startHistoryId")
        if not start_text:
            raise bad_request(
                "Missing required parameter: startHistoryId", reason="required", location="startHistoryId"
            )
        try:
            start = int(start_text)
        except ValueError:
            raise bad_request(
                "Invalid startHistoryId", reason="invalidArgument", location="startHistoryId"
            ) from None
        if start < store.history_floor:
            raise GoogleApiError(404, "notFound", NOT_FOUND_MESSAGE)
        types = call.params("historyTypes")
        for kind in types:
            if kind not in HISTORY_TYPES:
                raise bad_request(
                    f"Invalid value at 'history_types' ({kind})",
                    reason="invalidArgument",
                    location="historyTypes",
                )
        label = call.param("labelId")
        records = [
            record
            for record in store.history
            if record.id > start
            and (not types or record.kind in types)
            and (label is None or label in record.label_ids or label in record.changed_labels)
        ]
        size = call.integer("maxResults", DEFAULT_LIST_RESULTS, maximum=MAX_LIST_RESULTS, minimum=1)
        offset, _ = page_offset(call, "gh.")
        page = records[offset : offset + size]
        result: dict[str, Any] = {}
        if page:
            result["history"] = [_history_json(record) for record in page]
        if offset + size < len(records):
            result["nextPageToken"] = encode_token("gh.", {"o": offset + size})
        result["historyId"] = str(store.history_id)
        return result

    base = "/gmail/v1/users/{user}"
    return [
        route("GET", f"{base}/profile", "gmail.getProfile", get_profile),
        route("GET", f"{base}/messages", "gmail.messages.list", list_messages),
        route(
            "POST",
            f"{base}/messages",
            "gmail.messages.insert",
            lambda c: insert_or_import(c, importing=False),
        ),
        route(
            "POST",
            f"{base}/messages/import",
            "gmail.messages.import",
            lambda c: insert_or_import(c, importing=True),
        ),
        route("POST", f"{base}/messages/batchModify", "gmail.messages.batchModify", batch_modify),
        route("POST", f"{base}/messages/batchDelete", "gmail.messages.batchDelete", batch_delete),
        route(
            "GET",
            f"{base}/messages/{{messageId}}/attachments/{{id}}",
            "gmail.messages.attachments.get",
            get_attachment,
        ),
        route("GET", f"{base}/messages/{{id}}", "gmail.messages.get", get_message),
        route("DELETE", f"{base}/messages/{{id}}", "gmail.messages.delete", delete_message),
        route("POST", f"{base}/messages/{{id}}/modify", "gmail.messages.modify", modify_message),
        route("POST", f"{base}/messages/{{id}}/trash", "gmail.messages.trash", trash),
        route("POST", f"{base}/messages/{{id}}/untrash", "gmail.messages.untrash", untrash),
        route("GET", f"{base}/labels", "gmail.labels.list", list_labels),
        route("POST", f"{base}/labels", "gmail.labels.create", create_label),
        route("GET", f"{base}/labels/{{id}}", "gmail.labels.get", get_label),
        route("PATCH", f"{base}/labels/{{id}}", "gmail.labels.patch", change_label),
        route("PUT", f"{base}/labels/{{id}}", "gmail.labels.update", change_label),
        route("DELETE", f"{base}/labels/{{id}}", "gmail.labels.delete", delete_label),
        route("GET", f"{base}/history", "gmail.history.list", list_history),
    ]


def _part_ids(message: Message, part_id: str = "") -> Iterable[str]:
    yield part_id
    children = message.get_payload()
    if (
        message.is_multipart()
        and message.get_content_type() != "message/rfc822"
        and isinstance(children, list)
    ):
        for index, child in enumerate(children):
            yield from _part_ids(child, f"{part_id}.{index}" if part_id else str(index))


def _history_json(record: HistoryRecord) -> dict[str, Any]:
    reference = {"id": record.message_id, "threadId": record.thread_id}
    full = dict(reference, labelIds=list(record.label_ids))
    entry: dict[str, Any] = {"id": str(record.id), "messages": [reference]}
    field_name = _HISTORY_FIELD[record.kind]
    if record.kind in ("labelAdded", "labelRemoved"):
        entry[field_name] = [{"message": full, "labelIds": list(record.changed_labels)}]
    else:
        entry[field_name] = [{"message": full}]
    return entry
