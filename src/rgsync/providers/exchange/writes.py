"""Writing to the Exchange mailbox: batched creates, updates and deletes, tags, categories."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

from exchangelib import CalendarItem as EwsCalendarItem
from exchangelib import Contact as EwsContact
from exchangelib import Message
from exchangelib import errors as ews_errors
from exchangelib.fields import FieldPath
from exchangelib.folders import Folder
from exchangelib.items import (
    ALL_OCCURRENCES,
    ALWAYS_OVERWRITE,
    AUTO_RESOLVE,
    ID_ONLY,
    MOVE_TO_DELETED_ITEMS,
    NEVER_OVERWRITE,
    SAVE_ONLY,
    SEND_TO_NONE,
    SHALLOW,
)
from exchangelib.properties import ItemId
from exchangelib.restriction import Q, Restriction
from exchangelib.services import FindItem, UpdateItem
from exchangelib.util import create_element, set_xml_value

from rgsync.model import (
    CalendarItem,
    ContactItem,
    Create,
    Delete,
    MarkLabel,
    Stream,
    TaskItem,
    Update,
    Write,
    WriteResult,
)
from rgsync.providers.base import RetriableError, UncertainWrite

from . import convert, records
from .access import BATCH, ITEM_CLASSES, TAG_QUERY, MailboxAccess
from .connection import chunked, provider_error

# An update sent with a ChangeKey the item no longer has (NeverOverwrite) is refused with these.
_CONFLICTS = (ews_errors.ErrorIrresolvableConflict, ews_errors.ErrorInvalidChangeKey)


class CategoryChange(NamedTuple):
    """New categories for one email (none: the property is deleted), sent with `changekey` when
    the update must not overwrite a change made since (NeverOverwrite)."""

    item_id: str
    changekey: str | None
    categories: list[str]


_CATEGORIES_PATH = FieldPath(field=Message.get_field_by_fieldname("categories"))


class CategoryUpdate(UpdateItem):  # type: ignore[misc]
    """UpdateItem of emails' categories from `CategoryChange`s.

    exchangelib's UpdateItem takes whole items: a Message built per email (every field of the
    class set) and, per change, a walk over all its fields to find the one named. The elements
    here are made by the same UpdateItem methods for the one field path, so the request is the
    one exchangelib sends for a Message whose categories changed.

    A conflict of one item is that item's answer: exchangelib raises it otherwise, and the
    answers of the rest of the batch (already written) would be lost.
    """

    ERRORS_TO_CATCH_IN_RESPONSE = (*UpdateItem.ERRORS_TO_CATCH_IN_RESPONSE, *_CONFLICTS)

    @classmethod
    def send(cls, account: Any, batch: Sequence[CategoryChange], *, conditional: bool) -> list[Any]:
        """One UpdateItem call for `batch`: an answer per change, in order. `conditional` sends
        NeverOverwrite (each change refused if its ChangeKey moved on), else AutoResolve."""
        return list(
            cls(account=account, chunk_size=len(batch)).call(
                items=batch,
                conflict_resolution=NEVER_OVERWRITE if conditional else AUTO_RESOLVE,
                message_disposition=SAVE_ONLY,
                send_meeting_invitations_or_cancellations=SEND_TO_NONE,
                suppress_read_receipts=True,
            )
        )

    def _changes_elem(self, target_changes: Sequence[CategoryChange]) -> Any:
        changes = create_element(self.CHANGES_ELEMENT_NAME)
        for change in target_changes:
            elem = create_element(self.CHANGE_ELEMENT_NAME)
            set_xml_value(elem, ItemId(change.item_id, change.changekey), version=self.account.version)
            updates = create_element("t:Updates")
            if change.categories:
                updates.append(
                    self._set_field_elem(
                        target_model=Message, field_path=_CATEGORIES_PATH, value=change.categories
                    )
                )
            else:
                for deleted in self._delete_field_elems(_CATEGORIES_PATH.field):
                    updates.append(deleted)
            elem.append(updates)
            changes.append(elem)
        return changes


class Writes(MailboxAccess):
    """The write half of `ExchangeMailbox`."""

    def apply(self, stream: Stream, writes: Sequence[Write]) -> list[WriteResult]:
        """Create, update or delete items of `stream` in batches; one result per write, in order.

        Nothing is repeated here. A transient failure raises `RetriableError` when nothing was
        written yet in this call; once something may have been (an earlier batch went through, or
        a create's connection broke), it raises `UncertainWrite` and the session looks the creates
        up by their origin tag before sending again (updates and deletes are safe to repeat).
        """
        results: list[WriteResult | None] = [None] * len(writes)
        if stream is Stream.EMAILS:
            return [
                WriteResult(
                    ok=False, error_code="MAIL-UNSUPPORTED", message="emails are not written to the mailbox"
                )
                for _ in writes
            ]
        runs: list[tuple[type, list[tuple[int, Any]]]] = []
        for n, write in enumerate(writes):
            if runs and runs[-1][0] is type(write):
                runs[-1][1].append((n, write))
            else:
                runs.append((type(write), [(n, write)]))
        written = False
        for kind, run in runs:
            for chunk in chunked(run, BATCH):
                try:
                    if kind is Create:
                        outcome = self._create(stream, chunk)
                    elif kind is Update:
                        outcome = self._update(stream, chunk)
                    else:
                        outcome = self._delete(chunk)
                except RetriableError as exc:
                    if not written:
                        raise
                    raise UncertainWrite(
                        f"{exc.message} (after part of the changes were written)",
                        retry_after=exc.retry_after,
                        code=exc.code,
                    ) from exc
                for n, result in outcome.items():
                    results[n] = result
                    written = written or result.ok
        return [r or WriteResult(ok=False, error_code="MAIL-ERROR", message="not written") for r in results]

    def _create(self, stream: Stream, chunk: list[tuple[int, Create]]) -> dict[int, WriteResult]:
        folder = self._folder(stream)
        out: dict[int, WriteResult] = {}
        pending: list[tuple[int, Any, str | None]] = []
        for n, write in chunk:
            try:
                pending.append(
                    (
                        n,
                        self._new_item(stream, write.record, folder),
                        getattr(write.record, "salesforce_id", None),
                    )
                )
            except (ValueError, TypeError) as exc:
                out[n] = WriteResult(ok=False, error_code="MAIL-INVALID", message=str(exc))
        if not pending:
            return out
        items = [item for _n, item, _sf in pending]

        def send() -> list[Any]:
            return list(
                self._account.bulk_create(
                    folder=folder,
                    items=items,
                    message_disposition=SAVE_ONLY,
                    send_meeting_invitations=SEND_TO_NONE,
                    chunk_size=len(items),
                )
            )

        # Not repeatable: if the connection breaks the server may have made them (UncertainWrite).
        answers = self.connection.call("CreateItem", send, repeatable=False)
        for (n, _item, _sf), answer in zip(pending, answers, strict=True):
            out[n] = self._result(answer, "CreateItem")
        return out

    def _new_item(self, stream: Stream, record: Any, folder: Folder) -> Any:
        if stream is Stream.EVENTS and isinstance(record, CalendarItem):
            return records.new_calendar_item(
                record, account=self._account, folder=folder, tz=self.tz, owner=self._owner
            )
        if stream is Stream.TASKS and isinstance(record, TaskItem):
            return records.new_task(record, account=self._account, folder=folder, tz=self.tz)
        if stream is Stream.CONTACTS and isinstance(record, ContactItem):
            return records.new_contact(record, account=self._account, folder=folder)
        raise ValueError(f"a {type(record).__name__} cannot be created in the {stream.value} stream")

    def _update(self, stream: Stream, chunk: list[tuple[int, Update]]) -> dict[int, WriteResult]:
        out: dict[int, WriteResult] = {}
        cls = ITEM_CLASSES.get(stream)
        if cls is None:
            return {
                n: WriteResult(ok=False, error_code="MAIL-UNSUPPORTED", message="not supported")
                for n, _w in chunk
            }
        current = self._current_for_update(stream, chunk)
        updates: list[tuple[int, Any, list[str]]] = []
        for n, write in chunk:
            if current is not None and write.id not in current:
                out[n] = WriteResult(
                    ok=False, error_code="MAIL-NOT-FOUND", message="the item is no longer in the mailbox"
                )
                continue
            item = cls(account=self._account, id=write.id, changekey=None)
            now = (current or {}).get(write.id)
            try:
                if stream is Stream.EVENTS:
                    fields = records.calendar_changes(
                        item,
                        write.changes,
                        tz=self.tz,
                        owner=self._owner,
                        all_day=bool(getattr(now, "is_all_day", False)),
                    )
                elif stream is Stream.TASKS:
                    fields = records.task_changes(item, write.changes, self.tz)
                else:
                    fields = records.contact_changes(item, write.changes, now)
            except (ValueError, TypeError) as exc:
                out[n] = WriteResult(ok=False, error_code="MAIL-INVALID", message=str(exc))
                continue
            if not fields:
                out[n] = WriteResult(ok=True, id=write.id)
                continue
            updates.append((n, item, fields))
        if updates:
            answers = self.connection.call(
                "UpdateItem",
                lambda: self._account.bulk_update(
                    items=[(item, fields) for _n, item, fields in updates],
                    conflict_resolution=ALWAYS_OVERWRITE,
                    message_disposition=SAVE_ONLY,
                    send_meeting_invitations_or_cancellations=SEND_TO_NONE,
                    suppress_read_receipts=True,
                    chunk_size=len(updates),
                ),
            )
            for (n, _item, _fields), answer in zip(updates, answers, strict=True):
                out[n] = self._result(answer, "UpdateItem")
        return out

    def _current_for_update(self, stream: Stream, chunk: list[tuple[int, Update]]) -> dict[str, Any] | None:
        """What some updates need to know about the item first (None when none needs anything):
        whether a calendar item is all-day when its times change, and a contact's other emails,
        phones and addresses when one of them changes."""
        if stream is Stream.EVENTS:
            needed = [
                w.id for _n, w in chunk if {"start", "end"} & set(w.changes) and "all_day" not in w.changes
            ]
            fields: tuple[str, ...] = ("is_all_day",)
            cls: type = EwsCalendarItem
        elif stream is Stream.CONTACTS:
            needed = [
                w.id
                for _n, w in chunk
                if (records.CONTACT_INDEXED | {"first_name", "last_name"}) & set(w.changes)
            ]
            fields = ("given_name", "surname", "email_addresses", "phone_numbers", "physical_addresses")
            cls = EwsContact
        else:
            return None
        if not needed:
            return None
        found = {item.id: item for item, _noted in self._fetch(cls, needed, fields)}
        # Updates that needed nothing are let through; a missing one is reported as not found.
        for _n, write in chunk:
            if write.id not in needed:
                found.setdefault(write.id, None)
        return found

    def _delete(self, chunk: list[tuple[int, Delete]]) -> dict[int, WriteResult]:
        answers = self.connection.call(
            "DeleteItem",
            lambda: self._account.bulk_delete(
                ids=[(w.id, None) for _n, w in chunk],
                delete_type=MOVE_TO_DELETED_ITEMS,
                send_meeting_cancellations=SEND_TO_NONE,
                affected_task_occurrences=ALL_OCCURRENCES,
                suppress_read_receipts=True,
                chunk_size=len(chunk),
            ),
        )
        out: dict[int, WriteResult] = {}
        for (n, write), answer in zip(chunk, answers, strict=True):
            result = self._result(answer, "DeleteItem", item_id=write.id)
            if not result.ok and result.error_code == "MAIL-NOT-FOUND":
                result = WriteResult(ok=True, id=write.id)  # already gone: the goal state holds
            out[n] = result
        return out

    @staticmethod
    def _result(answer: Any, what: str, item_id: str | None = None) -> WriteResult:
        if isinstance(answer, Exception):
            mapped = provider_error(answer, what)
            return WriteResult(ok=False, error_code=mapped.code or "MAIL-REFUSED", message=mapped.message)
        if answer is True:
            return WriteResult(ok=True, id=item_id)
        new_id = getattr(answer, "id", None) or (answer[0] if isinstance(answer, tuple) else None)
        return WriteResult(ok=True, id=new_id or item_id)

    # --- tags, labels, single emails -----------------------------------------------------------------------

    def find_tagged(self, stream: Stream, salesforce_ids: Collection[str]) -> dict[str, str]:
        """Mailbox ids of items tagged with these Salesforce ids (FindItem on the named property)."""
        wanted = sorted(set(salesforce_ids))
        if not wanted or stream not in ITEM_CLASSES:
            return {}
        if stream is Stream.EVENTS:
            folder = self._folder(stream)
        else:
            folder_id = self._subfolder_id(stream, create=False)
            if folder_id is None:
                return {}
            folder = self._folder(stream, folder_id)
        cls = ITEM_CLASSES[stream]
        found: dict[str, str] = {}
        for chunk in chunked(wanted, TAG_QUERY):
            restriction = Restriction(
                Q(**{f"{convert.SALESFORCE_FIELD}__in": chunk}),
                folders=[folder],
                applies_to=Restriction.ITEMS,
            )

            def find(restriction: Restriction = restriction) -> list[Any]:
                return list(
                    FindItem(account=self._account).call(
                        folders=[folder],
                        additional_fields=convert.field_paths(cls, (convert.SALESFORCE_FIELD,)),
                        restriction=restriction,
                        order_fields=None,
                        shape=ID_ONLY,
                        query_string=None,
                        depth=SHALLOW,
                        calendar_view=None,
                        max_items=None,
                        offset=0,
                    )
                )

            items = self.connection.call("FindItem", find)
            for item in items:
                tag = getattr(item, convert.SALESFORCE_FIELD, None)
                if not isinstance(item, Exception) and tag in chunk:
                    found.setdefault(tag, item.id)
        return found

    def mark(self, marks: Sequence[MarkLabel]) -> list[WriteResult]:
        """Add or remove categories on emails: one UpdateItem per 100 emails, after one GetItem
        per 100 of those this run has not read.

        An email read in this run is updated from what that read saw, sent with its ChangeKey and
        NeverOverwrite: if anyone changed it since, Exchange refuses that one item
        (ErrorIrresolvableConflict) and it is read again and updated as an unread one is — from
        its categories as they are now, so nobody's change to them is lost.
        """
        if not marks:
            return []
        ids = list(dict.fromkeys(m.mailbox_id for m in marks))
        outcome: dict[str, WriteResult] = {}
        seen = {i: self._seen.pop(i) for i in ids if i in self._seen}
        conflicted = self._set_categories(
            marks,
            {i: list(categories) for i, (_key, categories) in seen.items()},
            {i: key for i, (key, _categories) in seen.items()},
            outcome,
        )
        rest = [i for i in ids if i not in seen or i in conflicted]
        if rest:
            current = {
                item.id: list(item.categories or [])
                for item, _noted in self._fetch(Message, rest, ("categories",))
            }
            self._set_categories(marks, current, None, outcome)
        missing = WriteResult(ok=False, error_code="MAIL-NOT-FOUND", message="email not found")
        return [outcome.get(m.mailbox_id, missing) for m in marks]

    def _set_categories(
        self,
        marks: Sequence[MarkLabel],
        current: dict[str, list[str]],
        changekeys: dict[str, str] | None,
        outcome: dict[str, WriteResult],
    ) -> set[str]:
        """Apply `marks` to the emails of `current` (id -> categories now) in UpdateItem batches,
        filling `outcome`. With `changekeys` each update is conditional on its ChangeKey; the ids
        refused for a changed ChangeKey are returned (and left out of `outcome`)."""
        wanted = {i: list(c) for i, c in current.items()}
        for mark in marks:
            if mark.mailbox_id not in wanted:
                continue
            labels = wanted[mark.mailbox_id]
            if mark.remove:
                wanted[mark.mailbox_id] = [c for c in labels if c != mark.label]
            elif mark.label not in labels:
                labels.append(mark.label)
        changed = [i for i in wanted if wanted[i] != current[i]]
        for i in wanted:
            outcome[i] = WriteResult(ok=True, id=i)
        conflicted: set[str] = set()
        for chunk in chunked(changed, BATCH):
            batch = [CategoryChange(i, (changekeys or {}).get(i), wanted[i]) for i in chunk]

            def update(batch: list[CategoryChange] = batch) -> list[Any]:
                return CategoryUpdate.send(self._account, batch, conditional=changekeys is not None)

            answers = self.connection.call("UpdateItem", update)
            for item_id, answer in zip(chunk, answers, strict=True):
                if changekeys is not None and isinstance(answer, _CONFLICTS):
                    conflicted.add(item_id)
                    del outcome[item_id]
                    continue
                outcome[item_id] = self._result(answer, "UpdateItem", item_id=item_id)
                if isinstance(answer, tuple) and len(answer) == 2:
                    self._remember(item_id, str(answer[1]), wanted[item_id])
                    # Only categories added (never one removed) count as our own mark later.
                    if set(current[item_id]) <= set(wanted[item_id]):
                        self._marked.add(item_id, str(answer[1]))
        return conflicted
