"""The mailbox behind the Gmail emulator: the setup helpers tests use, threads, labels and the
history journal every change writes, and a message as a resource in each of Gmail's formats."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any

from rgsync.sandbox.google import mime
from rgsync.sandbox.google.common import GoogleApiError, b64url, bad_request
from rgsync.sandbox.google.gmail.records import (
    ASSIGNABLE_SYSTEM_LABELS,
    FIRST_HISTORY_ID,
    HIDDEN_IN_MESSAGE_LIST,
    NOT_FOUND_MESSAGE,
    SYSTEM_LABELS,
    HistoryRecord,
    StoredMessage,
)
from rgsync.sandbox.google.gmail_search import Candidate, normalise_label_name

_MESSAGE_ID_BASE = 0x18F3A00000000000


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
        self._last_listing: tuple[tuple[Any, ...], list[StoredMessage]] | None = None
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
        return dataclasses.replace(
            message.content,
            label_ids=frozenset(message.label_ids),
            label_names=self._label_names(message),
            internal_date_ms=message.internal_date_ms,
        )

    def listing(
        self, label_ids: Sequence[str], query: str, include_spam_trash: bool, compile: Callable[[], Any]
    ) -> list[StoredMessage]:
        """The messages a list call matches, newest first.

        Paging through a listing asks the same question once per page; the answer is kept until the
        mailbox changes (every change moves `history_id`), a label is renamed, or, for a query with
        an age (newer_than:/older_than:), the clock moves.
        """
        lowered = query.lower()
        clock_key = self.clock() if ("newer_than" in lowered or "older_than" in lowered) else None
        key = (
            self.history_id,
            len(self.messages),
            tuple(label_ids),
            query,
            include_spam_trash,
            tuple((label_id, label.get("name")) for label_id, label in self.user_labels.items()),
            clock_key,
        )
        if self._last_listing is not None and self._last_listing[0] == key:
            return self._last_listing[1]
        predicate = compile() if query.strip() else None
        found: list[StoredMessage] = []
        for message in self.messages.values():
            if not include_spam_trash and ("SPAM" in message.label_ids or "TRASH" in message.label_ids):
                continue
            if not all(label in message.label_ids for label in label_ids):
                continue
            if predicate is not None and not predicate(self._candidate(message)):
                continue
            found.append(message)
        found.sort(key=lambda m: (m.internal_date_ms, m.id), reverse=True)
        self._last_listing = (key, found)
        return found

    # --- resources -------------------------------------------------------------------------------

    def message_resource(
        self, message: StoredMessage, fmt: str, metadata_headers: Sequence[str] = ()
    ) -> dict[str, Any]:
        """A message in format minimal, metadata, full or raw."""
        resource: dict[str, Any] = {"id": message.id, "threadId": message.thread_id}
        if message.label_ids:
            resource["labelIds"] = list(message.label_ids)
        resource["snippet"] = message.snippet
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
