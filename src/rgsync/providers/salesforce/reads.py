"""Reading what changed in the org: every stream's delta query in ONE Composite request (SPEC §10).

Per stream in `CrmReadOptions.streams`:

* Events: the user's own Events (OwnerId = user, not invitee copies) and Events the user is
  invited to (a semi-join on EventRelation), each with its EventRelations (people and invitees).
  A full listing covers the calendar window; a delta read takes what changed since the cursor plus
  Events that entered the window since the last read. Changed Events now outside the scope
  (moved out of the window, invitation withdrawn) are reported as gone.
* Tasks: the user's Tasks other than email activities that are open, or due or modified since
  `tasks_since` (SPEC §5).
* Contacts: by scope — mine (OwnerId), all, or a list view's filter (from the list view describe).
* Deletions: a delta read runs its queries as queryAll, so records deleted since the cursor come
  back with IsDeleted = true (the recycle bin keeps them), and getDeleted
  (`sobjects/{Type}/deleted/?start&end`, minute-grained) covers the rest from the cursor's
  position, including records that were purged or left the scope before being deleted. getDeleted
  reaches 15 days back; an older cursor, or an answer whose earliestDateAvailable is past the
  start, means a full listing with `reset=True` (SPEC §7.6). A None cursor means a full listing.

* Records that left the scope without being deleted — a Task or Event reassigned to a colleague,
  a Contact handed over or edited out of a list view, an Event moved out of the window, an
  invitation withdrawn. Salesforce reports no such event, and getDeleted does not list them; but
  the change moves their SystemModstamp, the field getUpdated and delta queries go by. So a delta
  read asks for what changed since the cursor *whoever owns it now* (the owner filter is applied
  to the answer, not the query), and for a list view also for the Ids of changed Contacts
  outside the view (`_left_scope_query`): a changed record no longer in scope is reported as
  gone, and its mailbox copy leaves (SPEC §4.5, §5, §6.2). A record the user can no longer read
  at all after the change is returned by no query: the next full listing notices it, which a
  cursor older than `RELIST_AFTER` asks for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from rgsync.model import CalendarItem, Page, Stream, SyncRecord
from rgsync.providers.base import CrmReadOptions, FatalError, ProviderError
from rgsync.providers.salesforce import soql
from rgsync.providers.salesforce.client import SalesforceClient, SubResponse
from rgsync.providers.salesforce.cursor import OVERLAP, StreamCursor, advance
from rgsync.providers.salesforce.mapping import (
    CONTACT_READ_FIELDS,
    EVENT_READ_FIELDS,
    EVENT_RELATIONS,
    TASK_READ_FIELDS,
    OrgShape,
    contact_from_record,
    event_from_record,
    parse_datetime,
    task_from_record,
)

PAGE_SIZE = 2000
SOBJECT = {Stream.EVENTS: "Event", Stream.TASKS: "Task", Stream.CONTACTS: "Contact"}
ORDER = " ORDER BY SystemModstamp ASC, Id ASC"


def _minute(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(second=0, microsecond=0)


def _getdeleted_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


@dataclass
class _StreamRead:
    """What is asked and learnt for one stream during one `changes` call."""

    stream: Stream
    cursor: StreamCursor  # the previous cursor, or a fresh one for a full listing
    full: bool
    reset: bool
    queries: list[str] = field(default_factory=list)
    # A delta read's look-out for records that left the scope: the Ids of records changed since
    # the cursor that the scope queries would no longer return (see `_left_scope_query`).
    left_query: str = ""
    left_rows: list[dict[str, Any]] = field(default_factory=list)
    deleted_window: tuple[datetime, datetime] | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    deleted_from: datetime | None = None
    expired_by_server: bool = False
    total: int | None = 0  # the scope queries' totalSize, summed (None when not reported)


class ChangeReader:
    """Builds and runs the bundled delta read; see the module docstring."""

    def __init__(
        self, client: SalesforceClient, shape: Callable[[], OrgShape], clock: Callable[[], datetime]
    ) -> None:
        self.client = client
        self.shape = shape
        self.clock = clock

    # -- scope ------------------------------------------------------------------------------------
    @staticmethod
    def scope_key(stream: Stream, options: CrmReadOptions) -> str:
        """What a cursor's listing covered; a different key means the cursor no longer applies."""
        if stream is Stream.CONTACTS:
            view = options.contacts_view if options.contacts_scope == "view" else ""
            return f"contacts|{options.user_id}|{options.contacts_scope}|{view}"
        return f"{stream.value}|{options.user_id}"

    def resolve_view(self, view: str) -> tuple[str, str]:
        """(USING SCOPE value, WHERE condition) of the Contact list view named by label or Id."""
        wanted = view.strip()
        if not wanted:
            raise FatalError(
                "contacts-scope is 'view' but contacts-view names no list view",
                code="SF-LIST-VIEW",
                advice='`rgsync settings set contacts-view "My Contacts"` (a Contact list view\'s name or Id)',
            )
        listing = self.client.restful("sobjects/Contact/listviews") or {}
        views = listing.get("listviews") or []
        match = None
        for candidate in views:
            view_id = str(candidate.get("id") or "")
            names = {
                str(candidate.get("label") or "").casefold(),
                str(candidate.get("developerName") or "").casefold(),
            }
            if (soql.is_id(wanted) and view_id[:15] == wanted[:15]) or wanted.casefold() in names:
                match = candidate
                break
        if match is None:
            known = ", ".join(sorted(str(v.get("label")) for v in views)[:10]) or "none"
            raise FatalError(
                f"no Contact list view named {wanted!r} (known: {known})",
                code="SF-LIST-VIEW",
                advice="set contacts-view to a Contact list view's name or Id, or use contacts-scope mine/all",
            )
        if match.get("soqlCompatible") is False:
            raise FatalError(
                f"the list view {wanted!r} cannot be expressed in SOQL (Salesforce says it is not SOQL-compatible)",
                code="SF-LIST-VIEW",
                advice="pick a list view without cross-filters, or use contacts-scope mine/all",
            )
        described = self.client.restful(f"sobjects/Contact/listviews/{match['id']}/describe") or {}
        return soql.split_view_query(str(described.get("query") or ""))

    # -- query building ------------------------------------------------------------------------------
    def _queries(self, read: _StreamRead, options: CrmReadOptions, shape: OrgShape) -> list[str]:
        user = soql.record_id(options.user_id)
        since = None if read.full else read.cursor.query_from()
        changed = f"SystemModstamp >= {soql.datetime_literal(since)}" if since else ""
        if read.stream is Stream.EVENTS:
            fields = EVENT_READ_FIELDS + ", IsDeleted"
            key_field = shape.key_field("Event")
            if key_field:
                fields += f", {key_field}"
            fields += f", {EVENT_RELATIONS}"
            window = (
                f"StartDateTime >= {soql.datetime_literal(options.calendar_start)} "
                f"AND StartDateTime < {soql.datetime_literal(options.calendar_end)}"
            )
            if changed:
                # Changed Events whoever owns them now: one handed to a colleague comes back too,
                # and leaves the scope (see the module docstring). Events that entered the window
                # by time passing are asked for by owner (and by invitation below).
                previous_end = read.cursor.window_end
                entered = ""
                if previous_end is not None and previous_end < options.calendar_end:
                    entered = (
                        f"StartDateTime >= {soql.datetime_literal(previous_end)} "
                        f"AND StartDateTime < {soql.datetime_literal(options.calendar_end)}"
                    )
                owned_filter = f"({changed} OR (OwnerId = {user} AND {entered}))" if entered else changed
                time_filter = f"({changed} OR ({entered}))" if entered else changed
            else:
                owned_filter = f"OwnerId = {user} AND {window}"
                time_filter = window
            owned = f"SELECT {fields} FROM Event WHERE IsChild = false AND {owned_filter}{ORDER}"
            invited = (
                f"SELECT {fields} FROM Event WHERE Id IN (SELECT EventId FROM EventRelation "
                f"WHERE RelationId = {user} AND IsInvitee = true) AND {time_filter}{ORDER}"
            )
            return [owned, invited]
        if read.stream is Stream.TASKS:
            scope = (
                f"OwnerId = {user} AND TaskSubtype != 'Email' AND (IsClosed = false "
                f"OR ActivityDate >= {soql.date_literal(options.tasks_since.astimezone(UTC).date())} "
                f"OR LastModifiedDate >= {soql.datetime_literal(options.tasks_since)})"
            )
            # A delta read asks for changed Tasks whoever owns them now: one reassigned to a
            # colleague comes back and leaves the scope (a change is recent, so the completed
            # window always holds for it).
            where = f"TaskSubtype != 'Email' AND {changed}" if changed else scope
            return [f"SELECT {TASK_READ_FIELDS}, IsDeleted FROM Task WHERE {where}{ORDER}"]
        conditions = []
        using = ""
        if options.contacts_scope == "mine" and not changed:
            # A delta read takes changed Contacts whoever owns them now (see the module docstring).
            conditions.append(f"OwnerId = {user}")
        elif options.contacts_scope == "view":
            if read.cursor.view_scope:
                using = f" USING SCOPE {read.cursor.view_scope}"
            if read.cursor.view_filter:
                conditions.append(f"({read.cursor.view_filter})")
        if changed:
            conditions.append(changed)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return [f"SELECT {CONTACT_READ_FIELDS}, IsDeleted FROM Contact{using}{where}{ORDER}"]

    @staticmethod
    def _left_scope_query(read: _StreamRead, options: CrmReadOptions) -> str:
        """For a list-view scope: Ids of Contacts changed since the cursor, in the view or not.

        A Contact edited out of the list view stops matching the view's filter, and getDeleted
        does not list it (it is not deleted). Its SystemModstamp moved, so a query on
        SystemModstamp alone (as getUpdated does) returns it: an Id this query returns that the
        view's query did not has left the scope (SPEC §6.2). Only Ids are read, in the same call.
        """
        since = None if read.full else read.cursor.query_from()
        if since is None or read.stream is not Stream.CONTACTS or options.contacts_scope != "view":
            return ""
        return f"SELECT Id FROM Contact WHERE SystemModstamp >= {soql.datetime_literal(since)}"

    # -- the read -----------------------------------------------------------------------------------
    def changes(
        self, cursors: Mapping[Stream, str | None], options: CrmReadOptions
    ) -> dict[Stream, list[Page]]:
        """Pages per stream (see `Crm.changes`): one Composite call when nothing needs resolving."""
        local_now = self.clock()
        shape = self.shape()
        reads: list[_StreamRead] = []
        for stream in (Stream.EVENTS, Stream.TASKS, Stream.CONTACTS):
            if stream not in options.streams:
                continue
            given = cursors.get(stream)
            previous = StreamCursor.decode(given)
            key = self.scope_key(stream, options)
            if (
                previous is not None
                and previous.scope == key
                and not previous.expired(local_now)
                and not previous.relist_due(local_now)
            ):
                reads.append(_StreamRead(stream, previous, full=False, reset=False))
            else:
                # A changed scope, or the daily relisting, is a new listing, not an expired position.
                expired = previous is not None and previous.scope == key and previous.expired(local_now)
                fresh = StreamCursor(scope=key)
                reads.append(
                    _StreamRead(
                        stream, fresh, full=True, reset=given is not None and (expired or previous is None)
                    )
                )
        for read in reads:
            if read.stream is Stream.CONTACTS and options.contacts_scope == "view" and read.full:
                scope, where = self.resolve_view(options.contacts_view)
                read.cursor = replace(read.cursor, view_scope=scope, view_filter=where)
            read.queries = self._queries(read, options, shape)
            read.left_query = self._left_scope_query(read, options)
            if not read.full and read.cursor.deleted_from is not None:
                start = read.cursor.deleted_from
                end = _minute(read.cursor.server_now(local_now))
                if end > start:
                    read.deleted_window = (start, end)
        self._run(reads)
        offset = self.client.clock_offset
        for read in [r for r in reads if r.expired_by_server]:
            # getDeleted can no longer cover the gap: list the scope again (one more call for all).
            read.full, read.reset, read.rows, read.deleted = True, True, [], []
            read.total = None  # listed again through `queries`, which keeps no totalSize
            read.left_query, read.left_rows = "", []
            read.cursor = replace(
                StreamCursor(scope=read.cursor.scope),
                view_scope=read.cursor.view_scope,
                view_filter=read.cursor.view_filter,
            )
            read.queries = self._queries(read, options, shape)
        redo = [r for r in reads if r.expired_by_server]
        if redo:
            answers = self.client.queries([q for r in redo for q in r.queries])
            for read in redo:
                for _query in read.queries:
                    read.rows += answers.pop(0)
        return {read.stream: self._pages(read, options, shape, local_now, offset) for read in reads}

    def _run(self, reads: list[_StreamRead]) -> None:
        """Send every query and getDeleted in one Composite request and file the answers."""
        subrequests: list[dict[str, Any]] = []
        owners: list[tuple[_StreamRead, str]] = []
        for read in reads:
            for n, query in enumerate(read.queries):
                ref = f"{read.stream.value}_q{n}"
                # A delta read includes the recycle bin: deletions since the cursor come back too.
                url = self.client.query_url(query, include_deleted=not read.full)
                subrequests.append({"method": "GET", "url": url, "referenceId": ref})
                owners.append((read, "query"))
            if read.left_query:
                url = self.client.query_url(read.left_query, include_deleted=False)
                subrequests.append({"method": "GET", "url": url, "referenceId": f"{read.stream.value}_left"})
                owners.append((read, "left"))
            if read.deleted_window is not None:
                start, end = read.deleted_window
                params = urlencode({"start": _getdeleted_time(start), "end": _getdeleted_time(end)})
                path = self.client.data_path(f"sobjects/{SOBJECT[read.stream]}/deleted/?{params}")
                subrequests.append(
                    {"method": "GET", "url": path, "referenceId": f"{read.stream.value}_deleted"}
                )
                owners.append((read, "deleted"))
        if not subrequests:
            return
        answers = self.client.composite(subrequests)
        for (read, kind), answer in zip(owners, answers, strict=True):
            if kind == "query":
                if not answer.ok:
                    raise self._query_error(read, answer)
                read.rows += list(self.client.more(answer.body or {}))
                size = (answer.body or {}).get("totalSize")
                read.total = read.total + int(size) if read.total is not None and size is not None else None
            elif kind == "left":
                if not answer.ok:
                    raise self._query_error(read, answer)
                read.left_rows += list(self.client.more(answer.body or {}))
            else:
                self._file_deleted(read, answer)

    @staticmethod
    def _query_error(read: _StreamRead, answer: SubResponse) -> ProviderError:
        error = answer.error()
        if read.stream is Stream.CONTACTS and read.cursor.view_filter and error.code.startswith("SF-INVALID"):
            return FatalError(
                f"the Contact list view's filter no longer runs: {error.message}",
                code="SF-LIST-VIEW",
                advice="check the list view in Salesforce, or pick another with contacts-view",
            )
        return error

    @staticmethod
    def _file_deleted(read: _StreamRead, answer: SubResponse) -> None:
        body = answer.body
        if not answer.ok:
            error = answer.error()
            if "INVALID_REPLICATION_DATE" in error.code or "INVALID_REPLICATION_DATE" in error.message:
                read.expired_by_server = True
                return
            raise error
        body = body if isinstance(body, dict) else {}
        start = read.deleted_window[0] if read.deleted_window else None
        earliest = parse_datetime(body.get("earliestDateAvailable"))
        if start is not None and earliest is not None and earliest > start:
            read.expired_by_server = True  # the delete log was purged past our position
            return
        read.deleted = [str(r.get("id")) for r in body.get("deletedRecords") or [] if r.get("id")]
        read.deleted_from = parse_datetime(body.get("latestDateCovered")) or (
            read.deleted_window[1] if read.deleted_window else None
        )

    # -- pages --------------------------------------------------------------------------------------
    def _pages(
        self,
        read: _StreamRead,
        options: CrmReadOptions,
        shape: OrgShape,
        local_now: datetime,
        offset: float | None,
    ) -> list[Page]:
        items: list[SyncRecord] = []
        gone: list[str] = list(read.deleted)
        stamps: list[tuple[str, datetime, str]] = []
        seen_ids: set[str] = set()
        for row in read.rows:
            record_id = str(row.get("Id") or "")
            if not record_id or record_id in seen_ids:
                continue  # the owned and the invited Event queries may both return an Event
            seen_ids.add(record_id)
            raw = str(row.get("SystemModstamp") or "")
            stamp = parse_datetime(raw)
            if stamp is not None:
                stamps.append((record_id, stamp, raw))
            if (
                not read.full
                and read.cursor.already_read(record_id, raw)
                and not self._entered_window(read, row, options)
            ):
                continue
            if row.get("IsDeleted"):
                gone.append(record_id)
                continue
            item = self._item(read.stream, row, shape)
            if item is None:
                continue
            if self._in_scope(read.stream, item, options):
                items.append(item)
            elif not read.full:
                gone.append(record_id)  # changed and no longer in scope: the mailbox copy goes
        for row in read.left_rows:
            record_id = str(row.get("Id") or "")
            if record_id and record_id not in seen_ids:
                gone.append(record_id)  # changed, and no longer returned by the scope queries
        deleted_from: datetime | None
        if read.full:
            server_now = local_now + timedelta(seconds=offset or 0.0)
            deleted_from = _minute(server_now - OVERLAP)
        else:
            deleted_from = read.deleted_from
        cursor = advance(
            read.cursor,
            stamps,
            deleted_from=deleted_from,
            clock_offset=offset,
            window_end=options.calendar_end if read.stream is Stream.EVENTS else None,
            listed_at=local_now if read.full else None,
        ).encode()
        chunks = [items[i : i + PAGE_SIZE] for i in range(0, len(items), PAGE_SIZE)] or [[]]
        pages = []
        for n, chunk in enumerate(chunks):
            last = n == len(chunks) - 1
            pages.append(
                Page(
                    items=tuple(chunk),
                    deleted=tuple(dict.fromkeys(gone)) if last else (),
                    cursor=cursor if last else None,
                    full=read.full,
                    last=last,
                    reset=read.reset,
                    total=read.total,
                )
            )
        return pages

    @staticmethod
    def _entered_window(read: _StreamRead, row: Mapping[str, Any], options: CrmReadOptions) -> bool:
        """An Event read again because it entered the calendar window since the last read."""
        if read.stream is not Stream.EVENTS or read.cursor.window_end is None:
            return False
        start = parse_datetime(row.get("StartDateTime"))
        return start is not None and read.cursor.window_end <= start < options.calendar_end

    @staticmethod
    def _item(stream: Stream, row: Mapping[str, Any], shape: OrgShape) -> SyncRecord | None:
        if stream is Stream.EVENTS:
            return event_from_record(row, shape)
        if stream is Stream.TASKS:
            return task_from_record(row)
        return contact_from_record(row)

    @staticmethod
    def _in_scope(stream: Stream, item: SyncRecord, options: CrmReadOptions) -> bool:
        if stream is Stream.EVENTS and isinstance(item, CalendarItem):
            mine = item.owner_id == options.user_id or options.user_id in item.invitee_ids
            return bool(mine and options.calendar_start <= item.start < options.calendar_end)
        if stream is Stream.TASKS:
            return getattr(item, "owner_id", None) == options.user_id
        if stream is Stream.CONTACTS and options.contacts_scope == "mine":
            return getattr(item, "owner_id", None) == options.user_id
        return True
