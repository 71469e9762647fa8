"""The Microsoft 365 mailbox over Microsoft Graph: the `Mailbox` protocol (reads in `reads`).

Writes go through `$batch`, 20 at a time, and nothing is repeated here: a throttled or failed
request (inside a batch or the batch call itself) raises, and the session's one retry policy
decides. It raises `RetriableError` only when Graph cannot have applied anything of the call,
otherwise `UncertainWrite`. Creates whose outcome is unknown (the connection dropped, the answer
was lost) are looked up by their origin tag before they are sent again; event creates also carry
an idempotent transactionId.
Categories on emails are read once per run (from the delta rows, else in a batch) and written
only when they change.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection, Sequence
from urllib.parse import quote

from rgsync.model import (
    CalendarItem,
    ContactItem,
    Create,
    Delete,
    Folder,
    MarkLabel,
    Page,
    Stream,
    TaskItem,
    Update,
    Write,
    WriteResult,
)
from rgsync.providers.base import ItemError, ProviderError, RetriableError, UncertainWrite
from rgsync.providers.microsoft365 import convert
from rgsync.providers.microsoft365.client import (
    MAX_BATCH,
    GraphClient,
    SubRequest,
    SubResponse,
    graph_failure,
)
from rgsync.providers.microsoft365.reads import PAGE_SIZE, DeltaReads, odata_literal
from rgsync.providers.own_marks import OwnMarks, RecentlyRead

log = logging.getLogger("rgsync.microsoft365")


class Microsoft365Mailbox(DeltaReads):
    """A Microsoft 365 mailbox (the `Mailbox` protocol) reached with a `GraphClient`."""

    def __init__(
        self,
        client: GraphClient,
        address: str,
        aliases: Collection[str] = (),
        *,
        time_zone: str = "UTC",
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.client = client
        self.address = address.lower()
        self.aliases = frozenset(a.lower() for a in aliases)
        self.time_zone = time_zone or "UTC"
        self.page_size = page_size
        self.prefix = client.prefix
        self._task_list_id: str | None = None
        self._contact_folder_id: str | None = None
        # Email id -> categories as this run last read or wrote them, for `mark`.
        self._categories: RecentlyRead[list[str]] = RecentlyRead()
        # (email id, changeKey our category PATCH produced), see Reads.past_own_marks
        self._marked = OwnMarks()
        self._transactions: dict[str, str] = {}
        self._uncertain: set[tuple[Stream, str]] = set()

    # -- accounting ------------------------------------------------------------------------------
    @property
    def api_calls(self) -> int:
        """Graph calls made so far (a `$batch` is one call, whatever it carries)."""
        return self.client.api_calls

    def close(self) -> None:
        """Release the HTTP connections."""
        self.client.session.close()

    def _prefer_pages(self) -> dict[str, str]:
        return {"Prefer": f"odata.maxpagesize={self.page_size}"}

    # -- writing ---------------------------------------------------------------------------------
    def apply(self, stream: Stream, writes: Sequence[Write]) -> list[WriteResult]:
        """Create, update or delete items of `stream` in `$batch` calls; one result per write, in order.

        Nothing is repeated here. A transient failure raises `RetriableError` when Graph cannot
        have applied anything of this call (a 429 before anything was written); otherwise it
        raises `UncertainWrite`, and the session looks the creates up by tag before sending again.
        """
        results: list[WriteResult | None] = [None] * len(writes)
        self._adopt_uncertain(stream, writes, results)
        waiting = [n for n, r in enumerate(results) if r is None]
        written = False
        for start in range(0, len(waiting), MAX_BATCH):
            chunk = waiting[start : start + MAX_BATCH]
            subs = [self._sub_request(stream, writes[n]) for n in chunk]
            try:
                answers = self.client.batch(subs)
            except RetriableError as exc:
                self._note_uncertain(stream, [writes[n] for n in chunk])
                raise self._transient(exc, written=written, throttled=exc.code == "MAIL-THROTTLED") from exc
            transient: list[RetriableError] = []
            for n, answer in zip(chunk, answers, strict=True):
                result = self._result(stream, writes[n], answer)
                if isinstance(result, RetriableError):
                    transient.append(result)
                else:
                    results[n] = result
                    written = written or result.ok
            if transient:
                throttled = all(t.code == "MAIL-THROTTLED" for t in transient)
                # Wait as long as the most patient of Graph's hints asks.
                longest = max(transient, key=lambda t: t.retry_after or 0.0)
                raise self._transient(longest, written=written, throttled=throttled)
            written = True
        return [
            r if r is not None else WriteResult(ok=False, error_code="MAIL-UNAVAILABLE", message="not sent")
            for r in results
        ]

    @staticmethod
    def _transient(exc: RetriableError, *, written: bool, throttled: bool) -> ProviderError:
        """RetriableError when nothing can have been applied, else UncertainWrite."""
        if throttled and not written:
            return RetriableError(exc.message, retry_after=exc.retry_after, code=exc.code)
        return UncertainWrite(exc.message, retry_after=exc.retry_after, code=exc.code)

    def _note_uncertain(self, stream: Stream, writes: Sequence[Write]) -> None:
        for write in writes:
            if isinstance(write, Create):
                salesforce_id = getattr(write.record, "salesforce_id", None)
                if salesforce_id:
                    self._uncertain.add((stream, str(salesforce_id)))

    def _adopt_uncertain(
        self, stream: Stream, writes: Sequence[Write], results: list[WriteResult | None]
    ) -> None:
        """Creates whose earlier attempt may have gone through are looked up by tag first."""
        pending = {
            str(getattr(w.record, "salesforce_id", "")): n
            for n, w in enumerate(writes)
            if isinstance(w, Create)
            and (stream, str(getattr(w.record, "salesforce_id", ""))) in self._uncertain
        }
        if not pending or stream is Stream.EVENTS:  # events: the transactionId already makes it safe
            return
        found = self.find_tagged(stream, list(pending))
        for salesforce_id, n in pending.items():
            self._uncertain.discard((stream, salesforce_id))
            if salesforce_id in found:
                results[n] = WriteResult(ok=True, id=found[salesforce_id])

    def _sub_request(self, stream: Stream, write: Write) -> SubRequest:
        if stream is Stream.EVENTS:
            return self._event_request(write)
        if stream is Stream.TASKS:
            return self._task_request(write)
        if stream is Stream.CONTACTS:
            return self._contact_request(write)
        raise ProviderError(
            f"rgsync does not write emails into the mailbox (got {type(write).__name__})",
            code="MAIL-UNSUPPORTED",
        )

    def _transaction_id(self, salesforce_id: str) -> str:
        # The same id on every retry within this run: Graph then creates the event only once.
        if salesforce_id not in self._transactions:
            self._transactions[salesforce_id] = f"rgsync-{salesforce_id}-{secrets.token_hex(6)}"
        return self._transactions[salesforce_id]

    def _event_request(self, write: Write) -> SubRequest:
        if isinstance(write, Create):
            item = write.record
            if not isinstance(item, CalendarItem):
                raise ProviderError(
                    f"an event write needs a CalendarItem, not {type(item).__name__}", code="MAIL-UNSUPPORTED"
                )
            transaction = self._transaction_id(item.salesforce_id or write.key or secrets.token_hex(8))
            return SubRequest(
                "POST",
                f"{self.prefix}/events",
                convert.event_body(item, self.time_zone, transaction),
                retry_on_5xx=True,
            )
        if isinstance(write, Update):
            return SubRequest(
                "PATCH",
                f"{self.prefix}/events/{quote(write.id)}",
                convert.event_changes(write.changes, self.time_zone),
            )
        return SubRequest("DELETE", f"{self.prefix}/events/{quote(write.id)}")

    def _task_request(self, write: Write) -> SubRequest:
        list_id = self._ensure_task_list()
        base = f"{self.prefix}/todo/lists/{quote(list_id)}/tasks"
        if isinstance(write, Create):
            item = write.record
            if not isinstance(item, TaskItem):
                raise ProviderError(
                    f"a task write needs a TaskItem, not {type(item).__name__}", code="MAIL-UNSUPPORTED"
                )
            return SubRequest("POST", base, convert.todo_body(item, self.time_zone), retry_on_5xx=False)
        if isinstance(write, Update):
            return SubRequest(
                "PATCH", f"{base}/{quote(write.id)}", convert.todo_changes(write.changes, self.time_zone)
            )
        return SubRequest("DELETE", f"{base}/{quote(write.id)}")

    def _contact_request(self, write: Write) -> SubRequest:
        if isinstance(write, Create):
            item = write.record
            if not isinstance(item, ContactItem):
                raise ProviderError(
                    f"a contact write needs a ContactItem, not {type(item).__name__}", code="MAIL-UNSUPPORTED"
                )
            folder_id = self._ensure_contact_folder()
            return SubRequest(
                "POST",
                f"{self.prefix}/contactFolders/{quote(folder_id)}/contacts",
                convert.contact_body(item),
                retry_on_5xx=False,
            )
        if isinstance(write, Update):
            return SubRequest(
                "PATCH", f"{self.prefix}/contacts/{quote(write.id)}", convert.contact_changes(write.changes)
            )
        return SubRequest("DELETE", f"{self.prefix}/contacts/{quote(write.id)}")

    def _result(self, stream: Stream, write: Write, answer: SubResponse) -> WriteResult | RetriableError:
        if answer.ok:
            new_id = answer.body.get("id") if isinstance(answer.body, dict) else None
            return WriteResult(ok=True, id=str(new_id or getattr(write, "id", "")))
        if isinstance(write, Delete) and answer.status == 404:
            return WriteResult(ok=True, id=write.id)  # already gone: the goal state holds
        error = graph_failure(answer.status, answer.headers, answer.body, what=f"a {stream.value[:-1]} write")
        if isinstance(error, RetriableError):
            self._note_uncertain(stream, [write])
            return error
        if isinstance(error, ItemError):
            return WriteResult(ok=False, error_code=error.code, message=error.message)
        raise error

    # -- tags, labels, one email -----------------------------------------------------------------
    def find_tagged(self, stream: Stream, salesforce_ids: Collection[str]) -> dict[str, str]:
        """Mailbox ids of the items rgsync created for these Salesforce Ids."""
        wanted = {str(i) for i in salesforce_ids if i}
        if not wanted:
            return {}
        if stream is Stream.EVENTS:
            return self._tagged_events(sorted(wanted))
        if stream is Stream.CONTACTS:
            return {sf: cid for cid, sf in self._folder_tags().items() if sf in wanted}
        if stream is Stream.TASKS:
            list_id = self._ensure_task_list()
            out: dict[str, str] = {}
            for page in self.client.pages(
                f"{self.prefix}/todo/lists/{quote(list_id)}/tasks",
                params={"$expand": "linkedResources", "$top": "100"},
                what="the tagged tasks",
                kind="tasks.list",
            ):
                for row in page.get("value") or []:
                    task = convert.task_from_todo(row, self.time_zone)
                    if task.salesforce_id in wanted:
                        out[task.salesforce_id] = task.id
            return out
        return {}

    def _tagged_events(self, salesforce_ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        tag = odata_literal(convert.TAG_PROPERTY)
        for start in range(0, len(salesforce_ids), MAX_BATCH):
            chunk = salesforce_ids[start : start + MAX_BATCH]
            subs = [
                SubRequest(
                    "GET",
                    f"{self.prefix}/events?$select=id&$filter=singleValueExtendedProperties/any(ep: ep/id eq {tag} and ep/value eq {odata_literal(sf)})",
                )
                for sf in chunk
            ]
            for salesforce_id, answer in zip(
                chunk, self.client.batch(subs, what="the tagged events"), strict=True
            ):
                if not answer.ok:
                    raise graph_failure(answer.status, answer.headers, answer.body, what="the tagged events")
                rows = (answer.body or {}).get("value") or []
                if rows:
                    out[salesforce_id] = str(rows[0]["id"])
        return out

    def mark(self, marks: Sequence[MarkLabel]) -> list[WriteResult]:
        """Add or remove categories on emails: read the ones not seen in this run, then PATCH, batched."""
        if not marks:
            return []
        # The categories each email has now, from this run's reads (kept for the newest few
        # thousand) or read here; a local copy, so none is forgotten while this call runs.
        known = {
            m.mailbox_id: self._categories[m.mailbox_id] for m in marks if m.mailbox_id in self._categories
        }
        unknown = sorted({m.mailbox_id for m in marks if m.mailbox_id not in known})
        missing: set[str] = set()
        for start in range(0, len(unknown), MAX_BATCH):
            chunk = unknown[start : start + MAX_BATCH]
            subs = [SubRequest("GET", f"{self.prefix}/messages/{quote(i)}?$select=categories") for i in chunk]
            for message_id, answer in zip(
                chunk, self.client.batch(subs, what="the emails' categories"), strict=True
            ):
                if answer.ok and isinstance(answer.body, dict):
                    known[message_id] = [str(c) for c in answer.body.get("categories") or []]
                elif answer.status == 404:
                    missing.add(message_id)
                else:
                    raise graph_failure(
                        answer.status, answer.headers, answer.body, what="the emails' categories"
                    )
        wanted: dict[str, list[str]] = {}
        for mark in marks:
            if mark.mailbox_id in missing:
                continue
            current = wanted.setdefault(mark.mailbox_id, list(known.get(mark.mailbox_id, [])))
            if mark.remove:
                if mark.label in current:
                    current.remove(mark.label)
            elif mark.label not in current:
                current.append(mark.label)
        outcome: dict[str, WriteResult] = {
            i: WriteResult(ok=False, error_code="MAIL-NOT-FOUND", message="email not found") for i in missing
        }
        # An email that already carries its categories is left alone: a PATCH would show up as a
        # change in the next delta round and bring the email back for nothing.
        for message_id in [i for i, categories in wanted.items() if categories == known.get(i, [])]:
            outcome[message_id] = WriteResult(ok=True, id=message_id)
            del wanted[message_id]
        ids = list(wanted)
        # Only an added category counts as our own mark: a removal is never skipped unread.
        removing = {m.mailbox_id for m in marks if m.remove}
        for start in range(0, len(ids), MAX_BATCH):
            chunk = ids[start : start + MAX_BATCH]
            subs = [
                SubRequest("PATCH", f"{self.prefix}/messages/{quote(i)}", {"categories": wanted[i]})
                for i in chunk
            ]
            for message_id, answer in zip(
                chunk, self.client.batch(subs, what="labelling emails"), strict=True
            ):
                if answer.ok:
                    self._categories.remember(message_id, wanted[message_id])
                    outcome[message_id] = WriteResult(ok=True, id=message_id)
                    key = answer.body.get("changeKey") if isinstance(answer.body, dict) else None
                    if key and message_id not in removing:
                        self._marked.add(message_id, str(key))
                else:
                    error = graph_failure(
                        answer.status, answer.headers, answer.body, what="labelling an email"
                    )
                    if not isinstance(error, ItemError | RetriableError):
                        raise error
                    outcome[message_id] = WriteResult(ok=False, error_code=error.code, message=error.message)
        return [outcome[m.mailbox_id] for m in marks]

    def fetch_email(self, mailbox_id: str) -> Page:
        """One email by id (for `rgsync save`), in one batch with the ids of Inbox and Sent Items."""
        select = ",".join(convert.MESSAGE_FIELDS)
        expand = (
            f"singleValueExtendedProperties($filter=id eq {odata_literal(convert.MESSAGE_CLASS_PROPERTY)})"
        )
        subs = [
            SubRequest(
                "GET", f"{self.prefix}/messages/{quote(mailbox_id)}?$select={select}&$expand={expand}"
            ),
            SubRequest("GET", f"{self.prefix}/mailFolders/inbox?$select=id"),
            SubRequest("GET", f"{self.prefix}/mailFolders/sentitems?$select=id"),
        ]
        message, inbox, sent = self.client.batch(subs, what="the email")
        if message.status in (400, 404):
            raise ProviderError(f"no email with id {mailbox_id!r} in the mailbox", code="MAIL-NOT-FOUND")
        for answer in (message, inbox, sent):
            if not answer.ok:
                raise graph_failure(answer.status, answer.headers, answer.body, what="the email")
        parent = str(message.body.get("parentFolderId") or "")
        folders = {str(inbox.body.get("id")): Folder.INBOX, str(sent.body.get("id")): Folder.SENT}
        return Page(items=(convert.email_from_message(message.body, folders.get(parent, Folder.OTHER)),))
