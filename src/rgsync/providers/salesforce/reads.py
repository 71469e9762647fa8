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

Changes of scope records that only changed owner (reassigned to a colleague) are noticed at the
next full listing, not by a delta read: the delta query is kept narrow to the user's records.
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
    deleted_window: tuple[datetime, datetime] | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    deleted_from: datetime | None = None
    expired_by_server: bool = False


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
                previous_end = read.cursor.window_end
                if previous_end is not None and previous_end < options.calendar_end:
                    entered = (
                        f"StartDateTime >= {soql.datetime_literal(previous_end)} "
                        f"AND StartDateTime < {soql.datetime_literal(options.calendar_end)}"
                    )
                    time_filter = f"({changed} OR ({entered}))"
                else:
                    time_filter = changed
            else:
                time_filter = window
            owned = f"SELECT {fields} FROM Event WHERE OwnerId = {user} AND IsChild = false AND {time_filter}{ORDER}"
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
            where = f"{scope} AND {changed}" if changed else scope
            return [f"SELECT {TASK_READ_FIELDS}, IsDeleted FROM Task WHERE {where}{ORDER}"]
        conditions = []
        using = ""
        if options.contacts_scope == "mine":
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
            if previous is not None and previous.scope == key and not previous.expired(local_now):
                reads.append(_StreamRead(stream, previous, full=False, reset=False))
            else:
                # A changed scope is a new listing, not an expired position.
                expired = previous is not None and previous.scope == key
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
