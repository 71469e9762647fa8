"""The Exchange mailbox (the `Mailbox` protocol) over EWS: incremental reads, batched writes, tags.

Reading. Every stream is read with SyncFolderItems, whose sync state is the cursor, so a session
after nothing changed costs one call per folder: Inbox and Sent Items (emails), Calendar, and the
`Salesforce Tasks` / `Salesforce Contacts` subfolders (found or created once; their ids travel in
the cursor). SyncFolderItems returns ids only; details come from GetItem in batches.

* Emails: a cursor (both folders' sync states) comes with every page, so a session killed in the
  middle of a long listing resumes at the page it had reached — a first listing included, which
  keeps its history window across the resumption.
* Calendar: SyncFolderItems says *which* items changed, but a recurring series is one item there
  (its master) while rgsync syncs occurrence by occurrence (SPEC §4.1). So: a changed single item
  is read with GetItem; a created, changed or deleted series makes the page a full listing of the
  window through CalendarView (occurrences and exceptions, each its own item); a first listing is
  a CalendarView of the window taken after the sync state was drained. The cursor also keeps the
  ids of known series masters (to recognise a deleted series) and the window end already listed:
  when the window moves on by a day, the new days are listed with one CalendarView.
* An invalid sync state (ErrorInvalidSyncStateData) restarts that folder from scratch and marks
  the pages `full` and `reset`; the session diffs the listing against its links (SPEC §7.6).

Writing. Creates, updates and deletes go in batches (one CreateItem/UpdateItem/DeleteItem per 100
items), calendar items always with SendMeetingInvitations / …OrCancellations = SendToNone, every
created item tagged with the Salesforce Id in a named extended property. A create whose answer
was lost (the connection broke) is looked up by that tag before it is sent again.
"""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from exchangelib import CalendarItem as EwsCalendarItem
from exchangelib import Contact as EwsContact
from exchangelib import EWSDateTime, EWSTimeZone, Message
from exchangelib import Task as EwsTask
from exchangelib.folders import (
    Calendar,
    Contacts,
    DeletedItems,
    Drafts,
    Folder,
    Inbox,
    JunkEmail,
    SentItems,
    Tasks,
)
from exchangelib.items import (
    ALL_OCCURRENCES,
    ALWAYS_OVERWRITE,
    AUTO_RESOLVE,
    ID_ONLY,
    MOVE_TO_DELETED_ITEMS,
    SAVE_ONLY,
    SEND_TO_NONE,
    SHALLOW,
)
from exchangelib.properties import CalendarView
from exchangelib.restriction import Q, Restriction
from exchangelib.services import CreateFolder, FindFolder, FindItem, GetFolder, GetItem, SyncFolderItems

from rgsync.model import (
    CONTACT_FOLDER_NAME,
    TASK_LIST_NAME,
    CalendarItem,
    ContactItem,
    Create,
    Delete,
    MarkLabel,
    Page,
    Stream,
    SyncRecord,
    TaskItem,
    Update,
    Write,
    WriteResult,
)
from rgsync.model import (
    Folder as MailFolder,
)
from rgsync.providers.base import FatalError, ItemError, MailboxReadOptions, ProviderError, RetriableError

from . import convert
from .connection import EwsConnection, UncertainFailure, chunked, provider_error

SYNC_PAGE = 512  # the most changes EWS returns per SyncFolderItems call
BATCH = 100  # items per GetItem / CreateItem / UpdateItem / DeleteItem call
VIEW_LIMIT = 1000  # CalendarView has no paging: a fuller range is split in two
TAG_QUERY = 50  # Salesforce Ids per FindItem restriction
INVALID_STATE = "MAIL-SYNC-STATE-INVALID"
FOLDER_GONE = "MAIL-FOLDER-NOT-FOUND"
CURSOR_PREFIX = "ews1."

EMAIL_FOLDERS: tuple[tuple[str, type[Folder], MailFolder], ...] = (
    ("inbox", Inbox, MailFolder.INBOX),
    ("sentitems", SentItems, MailFolder.SENT),
)
OTHER_MAIL_FOLDERS: tuple[tuple[str, type[Folder], MailFolder], ...] = (
    ("junkemail", JunkEmail, MailFolder.JUNK),
    ("deleteditems", DeletedItems, MailFolder.TRASH),
    ("drafts", Drafts, MailFolder.DRAFTS),
)
SUBFOLDERS: dict[Stream, tuple[str, type[Folder], str, str]] = {
    # stream -> (parent distinguished id, parent class, subfolder name, folder class)
    Stream.TASKS: ("tasks", Tasks, TASK_LIST_NAME, "IPF.Task"),
    Stream.CONTACTS: ("contacts", Contacts, CONTACT_FOLDER_NAME, "IPF.Contact"),
}
ITEM_CLASSES: dict[Stream, type] = {
    Stream.EVENTS: EwsCalendarItem,
    Stream.TASKS: EwsTask,
    Stream.CONTACTS: EwsContact,
}


def encode_cursor(stream: Stream, data: dict[str, Any]) -> str:
    """A cursor string: the stream, the sync states and what else resumption needs, as JSON."""
    raw = json.dumps({"k": stream.value, **data}, separators=(",", ":"), sort_keys=True).encode()
    return CURSOR_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii")


def decode_cursor(stream: Stream, cursor: str | None) -> dict[str, Any] | None:
    """The data of a cursor of this stream, or None when there is none or it is not one of ours."""
    if not cursor or not cursor.startswith(CURSOR_PREFIX):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor[len(CURSOR_PREFIX) :]))
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("k") != stream.value:
        return None
    return data


def _code(exc: ProviderError) -> str:
    return exc.code if isinstance(exc, ItemError) else ""


class ExchangeMailbox:
    """An Exchange on-premises mailbox (Exchange 2016, 2019, Subscription Edition) over EWS."""

    def __init__(
        self,
        connection: EwsConnection,
        *,
        address: str,
        aliases: Collection[str] = (),
        time_zone: str | None = None,
        clock: Callable[[], datetime] | None = None,
        sync_page: int = SYNC_PAGE,
    ) -> None:
        self.connection = connection
        self.address = address.strip().lower()
        self.aliases = frozenset(a.strip().lower() for a in aliases)
        try:
            self.tz = ZoneInfo(time_zone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            self.tz = ZoneInfo("UTC")
        self.sync_page = max(1, min(sync_page, SYNC_PAGE))
        self._now = clock or (lambda: datetime.now(UTC))
        self._subfolders: dict[Stream, str] = {}
        self._mail_folders: dict[str, MailFolder] | None = None

    # --- protocol basics ---------------------------------------------------------------------------

    @property
    def api_calls(self) -> int:
        """SOAP requests sent so far (retries included)."""
        return self.connection.requests_sent

    def close(self) -> None:
        self.connection.close()

    @property
    def _account(self) -> Any:
        return self.connection.account

    @property
    def _owner(self) -> set[str]:
        return {self.address, *self.aliases}

    # --- folders ---------------------------------------------------------------------------------------

    def _subfolder_id(self, stream: Stream, *, create: bool = True) -> str | None:
        """The id of `Salesforce Tasks` / `Salesforce Contacts`, found (FindFolder) or created once."""
        if stream in self._subfolders:
            return self._subfolders[stream]
        parent_name, parent_cls, name, folder_class = SUBFOLDERS[stream]
        parent = self.connection.distinguished(parent_cls, parent_name)
        found = self._find_folder(parent, name)
        if found is None and create:
            try:
                created = self.connection.call(
                    "CreateFolder",
                    lambda: list(
                        CreateFolder(account=self._account).call(
                            parent_folder=parent,
                            folders=[
                                Folder(root=self.connection.root(), name=name, folder_class=folder_class)
                            ],
                        )
                    ),
                )
            except ItemError:
                created = []  # created meanwhile by another client (ErrorFolderExists): look again
            found = (
                created[0].id
                if created and not isinstance(created[0], Exception)
                else self._find_folder(parent, name)
            )
            if found is None:
                raise FatalError(f"cannot create the folder '{name}' in Exchange", code="MAIL-FOLDER")
        if found is not None:
            self._subfolders[stream] = found
        return found

    def _find_folder(self, parent: Folder, name: str) -> str | None:
        restriction = Restriction(Q(name=name), folders=[parent], applies_to=Restriction.FOLDERS)
        found = self.connection.call(
            "FindFolder",
            lambda: list(
                FindFolder(account=self._account).call(
                    folders=[parent],
                    additional_fields=[],
                    restriction=restriction,
                    shape=ID_ONLY,
                    depth=SHALLOW,
                    max_items=10,
                    offset=0,
                )
            ),
        )
        ids = [f.id for f in found if not isinstance(f, Exception)]
        return ids[0] if ids else None

    def _folder(self, stream: Stream, folder_id: str | None = None) -> Folder:
        if stream is Stream.EVENTS:
            return self.connection.distinguished(Calendar, "calendar")
        folder_id = folder_id or self._subfolder_id(stream)
        assert folder_id is not None
        return self.connection.folder(SUBFOLDERS[stream][1], folder_id)

    def _mail_folder_kinds(self) -> dict[str, MailFolder]:
        """Folder id → which mail folder it is (one GetFolder, once)."""
        if self._mail_folders is None:
            known = EMAIL_FOLDERS + OTHER_MAIL_FOLDERS
            folders = [self.connection.distinguished(cls, name) for name, cls, _ in known]
            found = self.connection.call(
                "GetFolder",
                lambda: list(
                    GetFolder(account=self._account).call(
                        folders=folders, additional_fields=[], shape=ID_ONLY
                    )
                ),
            )
            self._mail_folders = {
                f.id: kind
                for f, (_n, _c, kind) in zip(found, known, strict=False)
                if not isinstance(f, Exception)
            }
        return self._mail_folders

    # --- low-level reads ---------------------------------------------------------------------------------

    def _sync_page(
        self, folder: Folder, state: str | None, cls: type, fields: Sequence[str]
    ) -> tuple[list[tuple[str, Any]], str, bool]:
        """One SyncFolderItems page: ([(change type, item or id)], new state, last page?)."""

        def send() -> tuple[list[tuple[str, Any]], str, bool]:
            service = SyncFolderItems(account=self._account)
            changes = list(
                service.call(
                    folder=folder,
                    shape=ID_ONLY,
                    additional_fields=convert.field_paths(cls, fields),
                    sync_state=state,
                    ignore=None,
                    max_changes_returned=self.sync_page,
                    sync_scope=None,
                )
            )
            return changes, service.sync_state, bool(service.includes_last_item_in_range)

        return self.connection.call("SyncFolderItems", send)

    @staticmethod
    def _split(changes: list[tuple[str, Any]]) -> tuple[list[Any], list[str]]:
        """(created or changed items, deleted ids) of a sync page; read-flag changes are ignored."""
        changed = [item for kind, item in changes if kind in ("create", "update")]
        deleted = [item.id for kind, item in changes if kind == "delete"]
        return changed, deleted

    def _fetch(self, cls: type, ids: Sequence[str], fields: Sequence[str]) -> list[tuple[Any, list[str]]]:
        """GetItem in batches: [(item, warnings raised while parsing it)]; missing ids left out."""
        out: list[tuple[Any, list[str]]] = []
        paths = convert.field_paths(cls, fields)
        for chunk in chunked(dict.fromkeys(ids), BATCH):

            def send(chunk: list[str] = chunk) -> list[tuple[Any, list[str]]]:
                parsed: list[tuple[Any, list[str]]] = []
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    service = GetItem(account=self._account, chunk_size=len(chunk))
                    for item in service.call(
                        items=[(i, None) for i in chunk], additional_fields=paths, shape=ID_ONLY
                    ):
                        parsed.append((item, [str(w.message) for w in caught]))
                        caught.clear()
                return parsed

            for item, noted in self.connection.call("GetItem", send):
                if isinstance(item, Exception):
                    mapped = provider_error(item, "GetItem")
                    if _code(mapped) == "MAIL-NOT-FOUND":
                        continue  # deleted since it was listed: the next sync reports the deletion
                    raise mapped
                out.append((item, noted))
        return out

    # --- changes ---------------------------------------------------------------------------------------

    def changes(self, stream: Stream, cursor: str | None, options: MailboxReadOptions) -> Iterator[Page]:
        """Pages of what changed in `stream` since `cursor` (see the module docstring)."""
        try:
            if stream is Stream.EMAILS:
                yield from self._email_changes(cursor, options)
            elif stream is Stream.EVENTS:
                yield from self._event_changes(cursor, options)
            else:
                yield from self._folder_changes(stream, cursor)
        except ItemError as exc:
            # Whatever else EWS refused while listing stops this stream, not the session.
            raise FatalError(exc.message, code=exc.code or "MAIL-ERROR") from exc

    def _email_changes(self, cursor: str | None, options: MailboxReadOptions) -> Iterator[Page]:
        data = decode_cursor(Stream.EMAILS, cursor)
        reset = cursor is not None and data is None
        states: dict[str, str | None] = dict(data["s"]) if data else {}
        listing = set(data.get("full") or ()) if data else {name for name, _c, _k in EMAIL_FOLDERS}
        since = str(data.get("since") or "") if data else ""
        since = since or options.email_since.isoformat()
        last_name = EMAIL_FOLDERS[-1][0]
        for name, cls, kind in EMAIL_FOLDERS:
            folder = self.connection.distinguished(cls, name)
            folder_reset = reset
            while True:
                try:
                    changes, state, last = self._sync_page(
                        folder, states.get(name), Message, ("datetime_received",)
                    )
                except ItemError as exc:
                    if exc.code != INVALID_STATE or states.get(name) is None:
                        raise
                    # The server forgot this state: list the folder again inside the history window.
                    states[name], folder_reset = None, True
                    listing.add(name)
                    since = options.email_since.isoformat()
                    continue
                changed, deleted = self._split(changes)
                full = name in listing
                if full:
                    cutoff = datetime.fromisoformat(since)
                    changed = [
                        i for i in changed if i.datetime_received is None or i.datetime_received >= cutoff
                    ]
                now = self._now()
                emails = [
                    convert.email_item(item, kind, now=now)
                    for item, _noted in self._fetch(Message, [i.id for i in changed], convert.EMAIL_FIELDS)
                ]
                states[name] = state
                if last:
                    listing.discard(name)
                page_cursor = encode_cursor(
                    Stream.EMAILS,
                    {"s": states, "full": sorted(listing), "since": since if listing else None},
                )
                yield Page(
                    items=tuple(emails),
                    deleted=tuple(deleted),
                    cursor=page_cursor,
                    full=full,
                    last=last and name == last_name,
                    reset=folder_reset,
                )
                if last:
                    break

    def _drain(
        self, folder: Folder, state: str | None, cls: type, fields: Sequence[str]
    ) -> tuple[list[Any], list[str], str]:
        """Every change since `state` (all pages): (changed items, deleted ids, new state)."""
        changed: list[Any] = []
        deleted: list[str] = []
        while True:
            changes, state_after, last = self._sync_page(folder, state, cls, fields)
            page_changed, page_deleted = self._split(changes)
            changed += page_changed
            deleted += page_deleted
            state = state_after
            if last:
                return changed, deleted, state_after

    def _event_changes(self, cursor: str | None, options: MailboxReadOptions) -> Iterator[Page]:
        data = decode_cursor(Stream.EVENTS, cursor)
        reset = cursor is not None and data is None
        folder = self._folder(Stream.EVENTS)
        window_end = options.calendar_end
        if data is not None:
            try:
                changed, deleted, state = self._drain(folder, data["s"], EwsCalendarItem, ("type",))
            except ItemError as exc:
                if exc.code != INVALID_STATE:
                    raise
                data, reset = None, True
        if data is None:
            changed, _deleted, state = self._drain(folder, None, EwsCalendarItem, ("type",))
            masters = sorted(i.id for i in changed if i.type == "RecurringMaster")
            items = self._view(options.calendar_start, window_end)
            new_cursor = encode_cursor(
                Stream.EVENTS, {"s": state, "m": masters, "end": window_end.date().isoformat()}
            )
            yield from self._item_pages(items, (), new_cursor, full=True, reset=reset)
            return
        known_masters = set(data.get("m") or ())
        new_masters = {i.id for i in changed if i.type == "RecurringMaster"}
        series_touched = bool(new_masters) or bool(known_masters & set(deleted))
        masters = sorted((known_masters | new_masters) - set(deleted))
        listed_end = date.fromisoformat(str(data.get("end") or window_end.date().isoformat()))
        new_end = max(listed_end, window_end.date())
        new_cursor = encode_cursor(Stream.EVENTS, {"s": state, "m": masters, "end": new_end.isoformat()})
        gone = [d for d in deleted if d not in known_masters]
        if series_touched:
            items = self._view(options.calendar_start, window_end)
            yield from self._item_pages(items, gone, new_cursor, full=True, reset=False)
            return
        items = self._calendar_details([i.id for i in changed])
        if window_end.date() > listed_end:
            # The window moved on: list the days that came into it.
            since = datetime.combine(listed_end, time(0), tzinfo=UTC)
            seen = {i.id for i in items}
            items += [i for i in self._view(since, window_end) if i.id not in seen]
        yield from self._item_pages(items, gone, new_cursor, full=False, reset=False)

    def _view(self, start: datetime, end: datetime) -> list[CalendarItem]:
        """Singles, occurrences and exceptions of the calendar overlapping [start, end), with details."""
        return self._calendar_details(self._view_ids(start, end))

    def _view_ids(self, start: datetime, end: datetime) -> list[str]:
        folder = self._folder(Stream.EVENTS)
        zone = EWSTimeZone("UTC")
        view = CalendarView(
            start=EWSDateTime.from_datetime(start.astimezone(UTC)).astimezone(zone),
            end=EWSDateTime.from_datetime(end.astimezone(UTC)).astimezone(zone),
            max_items=VIEW_LIMIT,
        )
        found = self.connection.call(
            "FindItem",
            lambda: list(
                FindItem(account=self._account).call(
                    folders=[folder],
                    additional_fields=convert.field_paths(EwsCalendarItem, ("type",)),
                    restriction=None,
                    order_fields=None,
                    shape=ID_ONLY,
                    query_string=None,
                    depth=SHALLOW,
                    calendar_view=view,
                    max_items=VIEW_LIMIT,
                    offset=0,
                )
            ),
        )
        ids = [i.id for i in found if not isinstance(i, Exception)]
        if len(ids) >= VIEW_LIMIT and end - start > timedelta(hours=2):
            middle = start + (end - start) / 2
            return list(dict.fromkeys(self._view_ids(start, middle) + self._view_ids(middle, end)))
        return ids

    def _calendar_details(self, ids: Sequence[str]) -> list[CalendarItem]:
        return [
            convert.calendar_item(item, unmapped=convert.unmapped_zone(noted))
            for item, noted in self._fetch(EwsCalendarItem, ids, convert.CALENDAR_FIELDS)
            if getattr(item, "type", None) != "RecurringMaster"
        ]

    @staticmethod
    def _item_pages(
        items: Sequence[SyncRecord], deleted: Sequence[str], cursor: str, *, full: bool, reset: bool
    ) -> Iterator[Page]:
        """Items in pages of BATCH; the cursor (and deletions) on the last page only."""
        chunks = chunked(items, BATCH) or [[]]
        for n, chunk in enumerate(chunks):
            last = n == len(chunks) - 1
            yield Page(
                items=tuple(chunk),
                deleted=tuple(deleted) if last else (),
                cursor=cursor if last else None,
                full=full,
                last=last,
                reset=reset,
            )

    def _folder_changes(self, stream: Stream, cursor: str | None) -> Iterator[Page]:
        data = decode_cursor(stream, cursor)
        reset = cursor is not None and data is None
        if data and data.get("f"):
            self._subfolders.setdefault(stream, str(data["f"]))
        state: str | None = data.get("s") if data else None
        full = state is None
        recovered = False
        cls = ITEM_CLASSES[stream]
        while True:
            folder = self._folder(stream)
            try:
                changes, state_after, last = self._sync_page(folder, state, cls, ())
            except ItemError as exc:
                if exc.code not in (INVALID_STATE, FOLDER_GONE) or recovered:
                    raise
                recovered = True
                if exc.code == FOLDER_GONE:
                    self._subfolders.pop(stream, None)  # deleted by the user: found or made again
                state, full, reset = None, True, True
                continue
            changed, deleted = self._split(changes)
            ids = [i.id for i in changed]
            if stream is Stream.TASKS:
                items: list[SyncRecord] = [
                    convert.task_item(i, self.tz) for i, _ in self._fetch(EwsTask, ids, convert.TASK_FIELDS)
                ]
            else:
                items = [
                    convert.contact_item(i) for i, _ in self._fetch(EwsContact, ids, convert.CONTACT_FIELDS)
                ]
            state = state_after
            # A full listing cannot resume half-way (what it does not show counts as deleted), so
            # only its last page carries the cursor; an incremental one can, page by page.
            page_cursor = encode_cursor(stream, {"s": state, "f": self._subfolders[stream]})
            yield Page(
                items=tuple(items),
                deleted=tuple(deleted),
                cursor=page_cursor if (last or not full) else None,
                full=full,
                last=last,
                reset=reset,
            )
            if last:
                return

    # --- writes ----------------------------------------------------------------------------------------

    def apply(self, stream: Stream, writes: Sequence[Write]) -> list[WriteResult]:
        """Create, update or delete items of `stream` in batches; one result per write, in order.

        A batch that still fails after the retries raises when nothing was written yet in this call
        (the session retries or stops the stream); after earlier batches succeeded, its writes are
        reported as failed instead, so the successes are recorded.
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
                    outcome = {
                        n: WriteResult(
                            ok=False, error_code=exc.code or "MAIL-UNAVAILABLE", message=exc.message
                        )
                        for n, _w in chunk
                    }
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
        for attempt in range(self.connection.retry.attempts):
            if not pending:
                break
            items = [item for _n, item, _sf in pending]

            def send(items: list[Any] = items) -> list[Any]:
                return list(
                    self._account.bulk_create(
                        folder=folder,
                        items=items,
                        message_disposition=SAVE_ONLY,
                        send_meeting_invitations=SEND_TO_NONE,
                        chunk_size=len(items),
                    )
                )

            try:
                answers = self.connection.call("CreateItem", send, repeatable=False)
            except UncertainFailure:
                if attempt == self.connection.retry.attempts - 1:
                    raise
                # The server may have created some of them: adopt those, send only the others.
                tagged = [sf for _n, _i, sf in pending if sf]
                found = self.find_tagged(stream, tagged) if tagged else {}
                for n, _item, sf in pending:
                    if sf and sf in found:
                        out[n] = WriteResult(ok=True, id=found[sf])
                pending = [p for p in pending if not (p[2] and p[2] in found)]
                self.connection.retry.sleep(self.connection.retry.delay(attempt, None))
                continue
            for (n, _item, _sf), answer in zip(pending, answers, strict=True):
                out[n] = self._result(answer, "CreateItem")
            pending = []
        return out

    def _new_item(self, stream: Stream, record: Any, folder: Folder) -> Any:
        if stream is Stream.EVENTS and isinstance(record, CalendarItem):
            return convert.new_calendar_item(
                record, account=self._account, folder=folder, tz=self.tz, owner=self._owner
            )
        if stream is Stream.TASKS and isinstance(record, TaskItem):
            return convert.new_task(record, account=self._account, folder=folder, tz=self.tz)
        if stream is Stream.CONTACTS and isinstance(record, ContactItem):
            return convert.new_contact(record, account=self._account, folder=folder)
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
                    fields = convert.calendar_changes(
                        item,
                        write.changes,
                        tz=self.tz,
                        owner=self._owner,
                        all_day=bool(getattr(now, "is_all_day", False)),
                    )
                elif stream is Stream.TASKS:
                    fields = convert.task_changes(item, write.changes, self.tz)
                else:
                    fields = convert.contact_changes(item, write.changes, now)
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
                if (convert.CONTACT_INDEXED | {"first_name", "last_name"}) & set(w.changes)
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
        """Add or remove categories on emails: one GetItem and one UpdateItem per 100 emails."""
        if not marks:
            return []
        ids = list(dict.fromkeys(m.mailbox_id for m in marks))
        current = {
            item.id: list(item.categories or [])
            for item, _noted in self._fetch(Message, ids, ("categories",))
        }
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
        outcome: dict[str, WriteResult] = {i: WriteResult(ok=True, id=i) for i in wanted}
        for chunk in chunked(changed, BATCH):
            stubs = []
            for item_id in chunk:
                stub = convert.message_stub(item_id, self._account)
                stub.categories = wanted[item_id] or None
                stubs.append((stub, ["categories"]))

            def update(stubs: list[tuple[Any, list[str]]] = stubs) -> list[Any]:
                return list(
                    self._account.bulk_update(
                        items=stubs,
                        conflict_resolution=AUTO_RESOLVE,
                        message_disposition=SAVE_ONLY,
                        send_meeting_invitations_or_cancellations=SEND_TO_NONE,
                        suppress_read_receipts=True,
                        chunk_size=len(stubs),
                    )
                )

            answers = self.connection.call("UpdateItem", update)
            for item_id, answer in zip(chunk, answers, strict=True):
                outcome[item_id] = self._result(answer, "UpdateItem", item_id=item_id)
        missing = WriteResult(ok=False, error_code="MAIL-NOT-FOUND", message="email not found")
        return [outcome.get(m.mailbox_id, missing) for m in marks]

    def fetch_email(self, mailbox_id: str) -> Page:
        """One email by id (for `rgsync save`), as a single-item page."""
        found = self._fetch(Message, [mailbox_id], (*convert.EMAIL_FIELDS, "parent_folder_id"))
        if not found:
            raise ProviderError(f"no email with id {mailbox_id!r} in the mailbox", code="MAIL-NOT-FOUND")
        item = found[0][0]
        parent = getattr(getattr(item, "parent_folder_id", None), "id", None)
        folder = self._mail_folder_kinds().get(parent or "", MailFolder.OTHER)
        return Page(items=(convert.email_item(item, folder, now=self._now()),))
