"""The in-memory mailbox (see `rgsync.providers.memory`)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from rgsync.model import (
    CalendarItem,
    ContactItem,
    Create,
    EmailItem,
    Folder,
    MarkLabel,
    Page,
    Stream,
    SyncRecord,
    TaskItem,
    Update,
    Write,
    WriteResult,
)
from rgsync.providers.base import (
    MailboxReadOptions,
    ProviderError,
)
from rgsync.providers.memory.common import (
    AppliedWrites,
    FailureInjection,
    Journal,
    apply_batches,
    apply_changes,
    pages_of,
)


class MemoryMailbox:
    """A mailbox held in memory: emails in folders, a calendar, a task list and a contact folder."""

    def __init__(self, address: str, aliases: Collection[str] = (), page_size: int = 50) -> None:
        self.address = address.lower()
        self.aliases = frozenset(a.lower() for a in aliases)
        self.page_size = page_size
        self.emails: dict[str, EmailItem] = {}
        self.events: dict[str, CalendarItem] = {}
        self.tasks: dict[str, TaskItem] = {}
        self.contacts: dict[str, ContactItem] = {}
        self.invitations_sent = 0
        self.failures = FailureInjection()
        self._applied = AppliedWrites()
        self._journals = {s: Journal() for s in Stream}
        self._ids = itertools.count(1)
        self._calls = 0

    # -- setup helpers for tests -------------------------------------------------------------
    def _store(self, stream: Stream) -> dict[str, Any]:
        stores: dict[Stream, dict[str, Any]] = {
            Stream.EMAILS: self.emails,
            Stream.EVENTS: self.events,
            Stream.TASKS: self.tasks,
            Stream.CONTACTS: self.contacts,
        }
        return stores[stream]

    def put(self, stream: Stream, item: SyncRecord) -> SyncRecord:
        """Add or replace an item as the user would (recorded in the change journal)."""
        key = item.mailbox_id if isinstance(item, EmailItem) else item.id
        self._store(stream)[key] = item
        self._journals[stream].record(key)
        return item

    def remove(self, stream: Stream, item_id: str) -> None:
        """Delete an item as the user would."""
        self._store(stream).pop(item_id, None)
        self._journals[stream].record(item_id, deleted=True)

    def edit(self, stream: Stream, item_id: str, **changes: object) -> SyncRecord:
        """Change fields of an item as the user would."""
        item = apply_changes(self._store(stream)[item_id], changes)
        return self.put(stream, item)

    def expire_cursor(self, stream: Stream) -> None:
        """Make every stored cursor of `stream` invalid (like a Gmail 404 / Calendar 410)."""
        self._journals[stream].expire()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    # -- Mailbox protocol ----------------------------------------------------------------------
    @property
    def api_calls(self) -> int:
        return self._calls

    def _call(self) -> None:
        self._calls += 1
        self.failures.on_call()

    def _visible(self, stream: Stream, item: Any, options: MailboxReadOptions, full: bool) -> bool:
        if stream is Stream.EMAILS:
            if item.folder not in (Folder.INBOX, Folder.SENT):
                return False  # only Inbox and Sent are ever read (SPEC §3.1)
            return not full or item.sent_at >= options.email_since
        if stream is Stream.EVENTS and full:
            return bool(options.calendar_start <= item.start < options.calendar_end)
        return True

    def changes(self, stream: Stream, cursor: str | None, options: MailboxReadOptions) -> Iterator[Page]:
        journal = self._journals[stream]
        store = self._store(stream)
        position = journal.position_of(cursor)
        self._call()
        end = journal.cursor
        if position is None:
            items = [i for i in store.values() if self._visible(stream, i, options, True)]
            yield from pages_of(items, [], end, True, cursor is not None, self.page_size)
            return
        changed_ids, deleted = journal.since(position)
        items = [
            store[i] for i in changed_ids if i in store and self._visible(stream, store[i], options, False)
        ]
        yield from pages_of(items, deleted, end, False, False, self.page_size)

    def apply(self, stream: Stream, writes: Sequence[Write]) -> list[WriteResult]:
        return apply_batches(
            writes,
            100,
            self._call,
            lambda w: self._write(stream, w),
            self.failures,
            self._applied,
            "the mailbox",
        )

    def _write(self, stream: Stream, write: Write) -> WriteResult:
        store = self._store(stream)
        if isinstance(write, Create):
            prefix = {Stream.EVENTS: "ev", Stream.TASKS: "tk", Stream.CONTACTS: "ct"}.get(stream, "it")
            item_id = self.new_id(prefix)
            store[item_id] = dataclasses.replace(write.record, id=item_id)  # type: ignore[arg-type]
            self._journals[stream].record(item_id)
            return WriteResult(ok=True, id=item_id)
        if isinstance(write, Update):
            if write.id not in store:
                return WriteResult(ok=False, error_code="MAIL-NOT-FOUND", message="item not found")
            store[write.id] = apply_changes(store[write.id], write.changes)
            self._journals[stream].record(write.id)
            return WriteResult(ok=True, id=write.id)
        # Deleting an item that is already gone counts as done: the goal state holds.
        store.pop(write.id, None)
        self._journals[stream].record(write.id, deleted=True)
        return WriteResult(ok=True, id=write.id)

    def find_tagged(self, stream: Stream, salesforce_ids: Collection[str]) -> dict[str, str]:
        self._call()
        wanted = set(salesforce_ids)
        return {
            item.salesforce_id: item_id
            for item_id, item in self._store(stream).items()
            if getattr(item, "salesforce_id", None) in wanted
        }

    def mark(self, marks: Sequence[MarkLabel]) -> list[WriteResult]:
        if not marks:
            return []
        self._call()
        results = []
        for mark in marks:
            email = self.emails.get(mark.mailbox_id)
            if email is None:
                results.append(WriteResult(ok=False, error_code="MAIL-NOT-FOUND", message="email not found"))
                continue
            labels = email.labels - {mark.label} if mark.remove else email.labels | {mark.label}
            self.emails[mark.mailbox_id] = dataclasses.replace(email, labels=frozenset(labels))
            # Label changes show in Gmail history too; the engine ignores emails it already linked.
            self._journals[Stream.EMAILS].record(mark.mailbox_id)
            results.append(WriteResult(ok=True, id=mark.mailbox_id))
        return results

    def fetch_email(self, mailbox_id: str) -> Page:
        self._call()
        email = self.emails.get(mailbox_id)
        if email is None:
            raise ProviderError(f"no email with id {mailbox_id!r} in the mailbox", code="MAIL-NOT-FOUND")
        return Page(items=(email,))

    def close(self) -> None:
        return None
