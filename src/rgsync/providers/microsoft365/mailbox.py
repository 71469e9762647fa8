"""The Microsoft 365 mailbox over Microsoft Graph: delta reads, batched writes, tags and categories.

Reads (one delta round per stream, so an idle session costs one call per stream, two for emails):

* emails: `mailFolders/inbox|sentitems/messages/delta` (the first listing filtered to
  `receivedDateTime ge` the history window); the cursor holds both folders' deltaLinks;
* calendar: `calendarView/delta` over the sync window plus four weeks, so the window can slide for
  a while on one round; when it outgrows the round, a new listing starts (full, not a reset);
* tasks: `todo/lists/{Salesforce Tasks}/tasks/delta?$expand=linkedResources`;
* contacts: `contactFolders/{Salesforce Contacts}/contacts/delta`; the origin tags of contacts
  read are fetched in a batch (delta cannot expand extended properties).

The list and the folder are created when missing. A deltaLink Graph forgot (410 Gone,
syncStateNotFound) starts a full listing with `reset=True`.

Writes go through `$batch`, 20 at a time. A request throttled inside a batch is sent again alone
(see `GraphClient.batch`). When a whole batch call fails before anything of this `apply` was
written, the error goes to the session's retry; once something was written, later batches are
retried here, so a retry of the whole `apply` never repeats writes that went through. Creates
whose outcome is unknown (the connection dropped) are looked up by tag before they are sent again.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from rgsync.model import (
    CONTACT_FOLDER_NAME,
    TASK_LIST_NAME,
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
from rgsync.providers.base import ItemError, MailboxReadOptions, ProviderError, RetriableError, RetryPolicy
from rgsync.providers.microsoft365 import convert
from rgsync.providers.microsoft365.client import MAX_BATCH, DeltaExpired, GraphClient, SubRequest, SubResponse, graph_failure

log = logging.getLogger("rgsync.microsoft365")

PAGE_SIZE = 50
WINDOW_SLACK = timedelta(days=28)
_EMAIL_FOLDERS = (("inbox", Folder.INBOX), ("sentitems", Folder.SENT))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _load_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        parsed = json.loads(cursor)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) and parsed.get("m365") == 1 else {}


def _dump_cursor(**values: Any) -> str:
    return json.dumps({"m365": 1, **values}, sort_keys=True)


def _quote(text: str) -> str:
    """A string literal for an OData $filter."""
    return "'" + text.replace("'", "''") + "'"


class Microsoft365Mailbox:
    """A Microsoft 365 mailbox (the `Mailbox` protocol) reached with a `GraphClient`."""

    def __init__(
        self,
        client: GraphClient,
        address: str,
        aliases: Collection[str] = (),
        *,
        time_zone: str = "UTC",
        page_size: int = PAGE_SIZE,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.client = client
        self.address = address.lower()
        self.aliases = frozenset(a.lower() for a in aliases)
        self.time_zone = time_zone or "UTC"
        self.page_size = page_size
        self.retry = retry or client.retry
        self.prefix = client.prefix
        self._task_list_id: str | None = None
        self._contact_folder_id: str | None = None
        self._categories: dict[str, list[str]] = {}
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

    # -- reading ---------------------------------------------------------------------------------
    def changes(self, stream: Stream, cursor: str | None, options: MailboxReadOptions) -> Iterator[Page]:
        """Pages of what changed in `stream` since `cursor` (see the module docstring)."""
        if stream is Stream.EMAILS:
            return self._email_changes(cursor, options)
        if stream is Stream.EVENTS:
            return self._event_changes(cursor, options)
        if stream is Stream.TASKS:
            return self._task_changes(cursor)
        return self._contact_changes(cursor)

    def _rounds(self, first: str, params: Mapping[str, str] | None, what: str, kind: str) -> Iterator[tuple[dict[str, Any], str | None, str | None]]:
        """(page, nextLink, deltaLink) of one delta round."""
        link: str | None = first
        query = params
        while link:
            page = self.client.call("GET", link, params=query, headers=self._prefer_pages(), what=what, kind=kind) or {}
            following = page.get("@odata.nextLink")
            delta = page.get("@odata.deltaLink")
            yield page, following, delta
            link, query = following, None

    @staticmethod
    def _split(page: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
        rows = page.get("value") or []
        return [r for r in rows if "@removed" not in r], [str(r["id"]) for r in rows if "@removed" in r]

    def _email_changes(self, cursor: str | None, options: MailboxReadOptions) -> Iterator[Page]:
        links: dict[str, str | None] = {key: _load_cursor(cursor).get(key) for key, _ in _EMAIL_FOLDERS}
        for key, folder in _EMAIL_FOLDERS:
            reset = False
            if links[key]:
                try:
                    yield from self._email_round(key, folder, str(links[key]), None, links, full=False, reset=False)
                    continue
                except DeltaExpired:
                    log.info("the %s delta token expired; listing the folder again", key)
                    reset = True
            params = {
                "$select": ",".join(convert.MESSAGE_FIELDS),
                "$filter": f"receivedDateTime ge {_iso(options.email_since)}",
                "$expand": f"singleValueExtendedProperties($filter=id eq {_quote(convert.MESSAGE_CLASS_PROPERTY)})",
            }
            first = f"{self.prefix}/mailFolders/{key}/messages/delta"
            yield from self._email_round(key, folder, first, params, links, full=True, reset=reset)

    def _email_round(
        self, key: str, folder: Folder, first: str, params: Mapping[str, str] | None, links: dict[str, str | None], *, full: bool, reset: bool
    ) -> Iterator[Page]:
        for page, following, delta in self._rounds(first, params, f"the {key} changes", "messages.delta"):
            rows, removed = self._split(page)
            for row in rows:
                self._categories[str(row["id"])] = [str(c) for c in row.get("categories") or []]
            links[key] = following or delta
            yield Page(
                items=tuple(convert.email_from_message(r, folder) for r in rows),
                deleted=tuple(removed),
                cursor=_dump_cursor(**links),
                full=full,
                last=delta is not None,
                reset=reset,
            )

    def _event_changes(self, cursor: str | None, options: MailboxReadOptions) -> Iterator[Page]:
        saved = _load_cursor(cursor)
        reset = False
        if saved.get("link") and saved.get("start") and saved.get("end"):
            start, end = datetime.fromisoformat(saved["start"]), datetime.fromisoformat(saved["end"])
            if start <= options.calendar_start and end >= options.calendar_end:
                try:
                    yield from self._event_round(str(saved["link"]), None, start, end, full=False, reset=False)
                    return
                except DeltaExpired:
                    log.info("the calendar delta token expired; listing the calendar again")
                    reset = True
        start = options.calendar_start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        end = options.calendar_end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + WINDOW_SLACK
        params = {"startDateTime": _iso(start), "endDateTime": _iso(end)}
        yield from self._event_round(f"{self.prefix}/calendarView/delta", params, start, end, full=True, reset=reset)

    def _event_round(self, first: str, params: Mapping[str, str] | None, start: datetime, end: datetime, *, full: bool, reset: bool) -> Iterator[Page]:
        for page, following, delta in self._rounds(first, params, "the calendar changes", "calendarView.delta"):
            rows, removed = self._split(page)
            link = delta or following
            store = delta is not None or not full
            yield Page(
                items=tuple(convert.calendar_item_from_event(r) for r in rows),
                deleted=tuple(removed),
                cursor=_dump_cursor(link=link, start=start.isoformat(), end=end.isoformat()) if store else None,
                full=full,
                last=delta is not None,
                reset=reset,
            )

    def _task_changes(self, cursor: str | None) -> Iterator[Page]:
        saved = _load_cursor(cursor)
        reset = False
        if saved.get("link") and saved.get("list"):
            self._task_list_id = str(saved["list"])
            try:
                yield from self._task_round(str(saved["link"]), None, full=False, reset=False)
                return
            except (DeltaExpired, ItemError) as exc:
                if isinstance(exc, ItemError) and exc.code != "MAIL-NOT-FOUND":
                    raise
                log.info("the task list's delta token is gone (%s); listing the tasks again", exc.code)
                self._task_list_id = None
                reset = True
        list_id = self._ensure_task_list()
        first = f"{self.prefix}/todo/lists/{list_id}/tasks/delta"
        yield from self._task_round(first, {"$expand": "linkedResources"}, full=True, reset=reset)

    def _task_round(self, first: str, params: Mapping[str, str] | None, *, full: bool, reset: bool) -> Iterator[Page]:
        for page, following, delta in self._rounds(first, params, "the task changes", "tasks.delta"):
            rows, removed = self._split(page)
            link = delta or following
            store = delta is not None or not full
            yield Page(
                items=tuple(convert.task_from_todo(r, self.time_zone) for r in rows),
                deleted=tuple(removed),
                cursor=_dump_cursor(link=link, list=self._task_list_id) if store else None,
                full=full,
                last=delta is not None,
                reset=reset,
            )

    def _contact_changes(self, cursor: str | None) -> Iterator[Page]:
        saved = _load_cursor(cursor)
        reset = False
        if saved.get("link") and saved.get("folder"):
            self._contact_folder_id = str(saved["folder"])
            try:
                yield from self._contact_round(str(saved["link"]), None, full=False, reset=False)
                return
            except (DeltaExpired, ItemError) as exc:
                if isinstance(exc, ItemError) and exc.code != "MAIL-NOT-FOUND":
                    raise
                log.info("the contact folder's delta token is gone (%s); listing the contacts again", exc.code)
                self._contact_folder_id = None
                reset = True
        folder_id = self._ensure_contact_folder()
        first = f"{self.prefix}/contactFolders/{folder_id}/contacts/delta"
        yield from self._contact_round(first, {"$select": ",".join(convert.CONTACT_FIELDS)}, full=True, reset=reset)

    def _contact_round(self, first: str, params: Mapping[str, str] | None, *, full: bool, reset: bool) -> Iterator[Page]:
        folder_tags: dict[str, str] | None = None
        for page, following, delta in self._rounds(first, params, "the contact changes", "contacts.delta"):
            rows, removed = self._split(page)
            if rows and full and folder_tags is None:
                folder_tags = self._folder_tags()  # one listing for a whole first sync
            tags = folder_tags if folder_tags is not None else self._contact_tags([str(r["id"]) for r in rows])
            link = delta or following
            store = delta is not None or not full
            yield Page(
                items=tuple(convert.contact_from_graph(r, tags.get(str(r["id"]))) for r in rows),
                deleted=tuple(removed),
                cursor=_dump_cursor(link=link, folder=self._contact_folder_id) if store else None,
                full=full,
                last=delta is not None,
                reset=reset,
            )

    def _contact_tags(self, contact_ids: Sequence[str]) -> dict[str, str]:
        """Salesforce Ids of these contacts (contact id → Salesforce Id), read in batches."""
        out: dict[str, str] = {}
        expand = f"singleValueExtendedProperties($filter=id eq {_quote(convert.TAG_PROPERTY)})"
        for start in range(0, len(contact_ids), MAX_BATCH):
            chunk = contact_ids[start : start + MAX_BATCH]
            subs = [SubRequest("GET", f"{self.prefix}/contacts/{quote(i)}?$select=id&$expand={expand}") for i in chunk]
            for contact_id, answer in zip(chunk, self.client.batch(subs, what="the contacts' origin"), strict=True):
                if answer.ok and isinstance(answer.body, dict):
                    tag = convert.tag_of(answer.body)
                    if tag:
                        out[contact_id] = tag
                elif answer.status != 404:
                    raise graph_failure(answer.status, answer.headers, answer.body, what="the contacts' origin")
        return out

    def _folder_tags(self) -> dict[str, str]:
        """Contact id → Salesforce Id for every tagged contact of the folder, in one listing."""
        folder_id = self._ensure_contact_folder()
        params = {
            "$select": "id",
            "$expand": f"singleValueExtendedProperties($filter=id eq {_quote(convert.TAG_PROPERTY)})",
            "$top": "1000",
        }
        out: dict[str, str] = {}
        for page in self.client.pages(f"{self.prefix}/contactFolders/{folder_id}/contacts", params=params, what="the contacts' origin", kind="contacts.list"):
            for row in page.get("value") or []:
                tag = convert.tag_of(row)
                if tag:
                    out[str(row["id"])] = tag
        return out

    # -- containers ------------------------------------------------------------------------------
    def _ensure_task_list(self) -> str:
        """The id of the `Salesforce Tasks` list, created when missing."""
        if self._task_list_id:
            return self._task_list_id
        for page in self.client.pages(f"{self.prefix}/todo/lists", what="the task lists", kind="todoLists.list"):
            for entry in page.get("value") or []:
                if str(entry.get("displayName", "")).strip().lower() == TASK_LIST_NAME.lower():
                    self._task_list_id = str(entry["id"])
                    return self._task_list_id
        created = self.client.call("POST", f"{self.prefix}/todo/lists", body={"displayName": TASK_LIST_NAME}, what="creating the task list", kind="todoLists.create")
        self._task_list_id = str(created["id"])
        return self._task_list_id

    def _ensure_contact_folder(self) -> str:
        """The id of the `Salesforce Contacts` folder, created when missing."""
        if self._contact_folder_id:
            return self._contact_folder_id
        params = {"$filter": f"displayName eq {_quote(CONTACT_FOLDER_NAME)}"}
        found = self.client.call("GET", f"{self.prefix}/contactFolders", params=params, what="the contact folders", kind="contactFolders.list") or {}
        rows = found.get("value") or []
        if rows:
            self._contact_folder_id = str(rows[0]["id"])
        else:
            created = self.client.call(
                "POST", f"{self.prefix}/contactFolders", body={"displayName": CONTACT_FOLDER_NAME}, what="creating the contact folder", kind="contactFolders.create"
            )
            self._contact_folder_id = str(created["id"])
        return self._contact_folder_id

    # -- writing ---------------------------------------------------------------------------------
    def apply(self, stream: Stream, writes: Sequence[Write]) -> list[WriteResult]:
        """Create, update or delete items of `stream` in `$batch` calls; one result per write, in order."""
        results: list[WriteResult | None] = [None] * len(writes)
        self._adopt_uncertain(stream, writes, results)
        waiting = [n for n, r in enumerate(results) if r is None]
        written = False
        for start in range(0, len(waiting), MAX_BATCH):
            chunk = waiting[start : start + MAX_BATCH]
            subs = [self._sub_request(stream, writes[n]) for n in chunk]
            try:
                answers = self._send(subs, retry_here=written)
            except RetriableError as exc:
                self._note_uncertain(stream, [writes[n] for n in chunk])
                if not written:
                    raise
                for n in chunk[:] + waiting[start + MAX_BATCH :]:
                    results[n] = WriteResult(ok=False, error_code=exc.code or "MAIL-UNAVAILABLE", message=exc.message)
                break
            written = True
            for n, answer in zip(chunk, answers, strict=True):
                results[n] = self._result(stream, writes[n], answer)
        return [r if r is not None else WriteResult(ok=False, error_code="MAIL-UNAVAILABLE", message="not sent") for r in results]

    def _send(self, subs: Sequence[SubRequest], *, retry_here: bool) -> list[SubResponse]:
        attempt = 0
        while True:
            try:
                return self.client.batch(subs)
            except RetriableError as exc:
                if not retry_here or attempt >= self.retry.attempts - 1:
                    raise
                self.retry.sleep(self.retry.delay(attempt, exc.retry_after))
                attempt += 1

    def _note_uncertain(self, stream: Stream, writes: Sequence[Write]) -> None:
        for write in writes:
            if isinstance(write, Create):
                salesforce_id = getattr(write.record, "salesforce_id", None)
                if salesforce_id:
                    self._uncertain.add((stream, str(salesforce_id)))

    def _adopt_uncertain(self, stream: Stream, writes: Sequence[Write], results: list[WriteResult | None]) -> None:
        """Creates whose earlier attempt may have gone through are looked up by tag first."""
        pending = {
            str(getattr(w.record, "salesforce_id", "")): n
            for n, w in enumerate(writes)
            if isinstance(w, Create) and (stream, str(getattr(w.record, "salesforce_id", ""))) in self._uncertain
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
        raise ProviderError(f"rgsync does not write emails into the mailbox (got {type(write).__name__})", code="MAIL-UNSUPPORTED")

    def _transaction_id(self, salesforce_id: str) -> str:
        # The same id on every retry within this run: Graph then creates the event only once.
        if salesforce_id not in self._transactions:
            self._transactions[salesforce_id] = f"rgsync-{salesforce_id}-{secrets.token_hex(6)}"
        return self._transactions[salesforce_id]

    def _event_request(self, write: Write) -> SubRequest:
        if isinstance(write, Create):
            item = write.record
            if not isinstance(item, CalendarItem):
                raise ProviderError(f"an event write needs a CalendarItem, not {type(item).__name__}", code="MAIL-UNSUPPORTED")
            transaction = self._transaction_id(item.salesforce_id or write.key or secrets.token_hex(8))
            return SubRequest("POST", f"{self.prefix}/events", convert.event_body(item, self.time_zone, transaction), retry_on_5xx=True)
        if isinstance(write, Update):
            return SubRequest("PATCH", f"{self.prefix}/events/{quote(write.id)}", convert.event_changes(write.changes, self.time_zone))
        return SubRequest("DELETE", f"{self.prefix}/events/{quote(write.id)}")

    def _task_request(self, write: Write) -> SubRequest:
        list_id = self._ensure_task_list()
        base = f"{self.prefix}/todo/lists/{quote(list_id)}/tasks"
        if isinstance(write, Create):
            item = write.record
            if not isinstance(item, TaskItem):
                raise ProviderError(f"a task write needs a TaskItem, not {type(item).__name__}", code="MAIL-UNSUPPORTED")
            return SubRequest("POST", base, convert.todo_body(item, self.time_zone), retry_on_5xx=False)
        if isinstance(write, Update):
            return SubRequest("PATCH", f"{base}/{quote(write.id)}", convert.todo_changes(write.changes, self.time_zone))
        return SubRequest("DELETE", f"{base}/{quote(write.id)}")

    def _contact_request(self, write: Write) -> SubRequest:
        if isinstance(write, Create):
            item = write.record
            if not isinstance(item, ContactItem):
                raise ProviderError(f"a contact write needs a ContactItem, not {type(item).__name__}", code="MAIL-UNSUPPORTED")
            folder_id = self._ensure_contact_folder()
            return SubRequest("POST", f"{self.prefix}/contactFolders/{quote(folder_id)}/contacts", convert.contact_body(item), retry_on_5xx=False)
        if isinstance(write, Update):
            return SubRequest("PATCH", f"{self.prefix}/contacts/{quote(write.id)}", convert.contact_changes(write.changes))
        return SubRequest("DELETE", f"{self.prefix}/contacts/{quote(write.id)}")

    def _result(self, stream: Stream, write: Write, answer: SubResponse) -> WriteResult:
        if answer.ok:
            new_id = answer.body.get("id") if isinstance(answer.body, dict) else None
            return WriteResult(ok=True, id=str(new_id or getattr(write, "id", "")))
        if isinstance(write, Delete) and answer.status == 404:
            return WriteResult(ok=True, id=write.id)  # already gone: the goal state holds
        error = graph_failure(answer.status, answer.headers, answer.body, what=f"a {stream.value[:-1]} write")
        if isinstance(error, ItemError | RetriableError):
            if isinstance(error, RetriableError):
                self._note_uncertain(stream, [write])
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
                f"{self.prefix}/todo/lists/{quote(list_id)}/tasks", params={"$expand": "linkedResources", "$top": "100"}, what="the tagged tasks", kind="tasks.list"
            ):
                for row in page.get("value") or []:
                    task = convert.task_from_todo(row, self.time_zone)
                    if task.salesforce_id in wanted:
                        out[task.salesforce_id] = task.id
            return out
        return {}

    def _tagged_events(self, salesforce_ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        tag = _quote(convert.TAG_PROPERTY)
        for start in range(0, len(salesforce_ids), MAX_BATCH):
            chunk = salesforce_ids[start : start + MAX_BATCH]
            subs = [
                SubRequest(
                    "GET",
                    f"{self.prefix}/events?$select=id&$filter=singleValueExtendedProperties/any(ep: ep/id eq {tag} and ep/value eq {_quote(sf)})",
                )
                for sf in chunk
            ]
            for salesforce_id, answer in zip(chunk, self.client.batch(subs, what="the tagged events"), strict=True):
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
        unknown = sorted({m.mailbox_id for m in marks if m.mailbox_id not in self._categories})
        missing: set[str] = set()
        for start in range(0, len(unknown), MAX_BATCH):
            chunk = unknown[start : start + MAX_BATCH]
            subs = [SubRequest("GET", f"{self.prefix}/messages/{quote(i)}?$select=categories") for i in chunk]
            for message_id, answer in zip(chunk, self.client.batch(subs, what="the emails' categories"), strict=True):
                if answer.ok and isinstance(answer.body, dict):
                    self._categories[message_id] = [str(c) for c in answer.body.get("categories") or []]
                elif answer.status == 404:
                    missing.add(message_id)
                else:
                    raise graph_failure(answer.status, answer.headers, answer.body, what="the emails' categories")
        wanted: dict[str, list[str]] = {}
        for mark in marks:
            if mark.mailbox_id in missing:
                continue
            current = wanted.setdefault(mark.mailbox_id, list(self._categories.get(mark.mailbox_id, [])))
            if mark.remove:
                if mark.label in current:
                    current.remove(mark.label)
            elif mark.label not in current:
                current.append(mark.label)
        ids = list(wanted)
        outcome: dict[str, WriteResult] = {i: WriteResult(ok=False, error_code="MAIL-NOT-FOUND", message="email not found") for i in missing}
        for start in range(0, len(ids), MAX_BATCH):
            chunk = ids[start : start + MAX_BATCH]
            subs = [SubRequest("PATCH", f"{self.prefix}/messages/{quote(i)}", {"categories": wanted[i]}) for i in chunk]
            for message_id, answer in zip(chunk, self.client.batch(subs, what="labelling emails"), strict=True):
                if answer.ok:
                    self._categories[message_id] = wanted[message_id]
                    outcome[message_id] = WriteResult(ok=True, id=message_id)
                else:
                    error = graph_failure(answer.status, answer.headers, answer.body, what="labelling an email")
                    if not isinstance(error, ItemError | RetriableError):
                        raise error
                    outcome[message_id] = WriteResult(ok=False, error_code=error.code, message=error.message)
        return [outcome[m.mailbox_id] for m in marks]

    def fetch_email(self, mailbox_id: str) -> Page:
        """One email by id (for `rgsync save`), in one batch with the ids of Inbox and Sent Items."""
        select = ",".join(convert.MESSAGE_FIELDS)
        expand = f"singleValueExtendedProperties($filter=id eq {_quote(convert.MESSAGE_CLASS_PROPERTY)})"
        subs = [
            SubRequest("GET", f"{self.prefix}/messages/{quote(mailbox_id)}?$select={select}&$expand={expand}"),
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
