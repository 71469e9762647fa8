"""Reading a Microsoft 365 mailbox with Graph delta queries (the read half of the adapter).

One delta round per stream, so an idle session costs one call per stream (two for emails):

* emails: `mailFolders/inbox|sentitems/messages/delta`, the first listing filtered to
  `receivedDateTime ge` the history window; the cursor holds both folders' deltaLinks;
* calendar: `calendarView/delta` over the sync window plus four weeks, so the window can slide for
  a while on one round; when it outgrows the round, a new listing starts (full, not a reset);
* tasks: `todo/lists/{Salesforce Tasks}/tasks/delta?$expand=linkedResources`;
* contacts: `contactFolders/{Salesforce Contacts}/contacts/delta`; the origin tags of the contacts
  read come from a batch of GETs (a contact delta cannot expand extended properties), or from one
  listing of the folder during a first sync.

The list and the folder are created when missing. A deltaLink Graph forgot (410 Gone,
syncStateNotFound) starts a full listing with `reset=True`. A cursor is JSON holding the links.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from rgsync.model import CONTACT_FOLDER_NAME, TASK_LIST_NAME, Folder, Page, Stream
from rgsync.providers.base import ItemError, MailboxReadOptions
from rgsync.providers.microsoft365 import convert
from rgsync.providers.microsoft365.client import (
    MAX_BATCH,
    DeltaExpired,
    GraphClient,
    SubRequest,
    graph_failure,
)
from rgsync.providers.own_marks import OwnMarks, RecentlyRead

log = logging.getLogger("rgsync.microsoft365")

PAGE_SIZE = 500  # delta rows per page (Prefer: odata.maxpagesize): each page costs one call
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


def _without_echo(rows: list[dict[str, Any]], options: MailboxReadOptions) -> list[dict[str, Any]]:
    """Delta rows worth converting: a saved email comes back when rgsync set its category, and
    nothing about it matters then unless it now carries the thread category (SPEC §3.6), so the
    rows of saved emails without it are dropped unconverted."""
    thread = options.thread_label.strip().casefold()
    if not rows or not thread:
        return rows
    saved = set(options.saved([str(r["id"]) for r in rows]))
    if not saved:
        return rows
    return [
        r
        for r in rows
        if str(r["id"]) not in saved
        or thread in {str(c).strip().casefold() for c in r.get("categories") or []}
    ]


def odata_literal(text: str) -> str:
    """A string literal for an OData $filter."""
    return "'" + text.replace("'", "''") + "'"


class DeltaReads:
    """The read half of `Microsoft365Mailbox` (mixed into it): changes per stream, origin tags,
    and the `Salesforce Tasks` list and `Salesforce Contacts` folder."""

    client: GraphClient
    prefix: str
    page_size: int
    time_zone: str
    _task_list_id: str | None
    _contact_folder_id: str | None
    _categories: RecentlyRead[list[str]]
    _marked: OwnMarks

    def _prefer_pages(self) -> dict[str, str]:
        return {"Prefer": f"odata.maxpagesize={self.page_size}"}

    def changes(self, stream: Stream, cursor: str | None, options: MailboxReadOptions) -> Iterator[Page]:
        """Pages of what changed in `stream` since `cursor` (see the module docstring)."""
        if stream is Stream.EMAILS:
            return self._email_changes(cursor, options)
        if stream is Stream.EVENTS:
            return self._event_changes(cursor, options)
        if stream is Stream.TASKS:
            return self._task_changes(cursor)
        return self._contact_changes(cursor)

    def _rounds(
        self, first: str, params: Mapping[str, str] | None, what: str, kind: str
    ) -> Iterator[tuple[dict[str, Any], str | None, str | None]]:
        """(page, nextLink, deltaLink) of one delta round."""
        link: str | None = first
        query = params
        while link:
            page = (
                self.client.call(
                    "GET", link, params=query, headers=self._prefer_pages(), what=what, kind=kind
                )
                or {}
            )
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
                    yield from self._email_round(
                        key, folder, str(links[key]), None, links, full=False, reset=False, options=options
                    )
                    continue
                except DeltaExpired:
                    log.info("the %s delta token expired; listing the folder again", key)
                    reset = True
            params = {
                "$select": ",".join(convert.MESSAGE_FIELDS),
                "$filter": f"receivedDateTime ge {_iso(options.email_since)}",
                "$expand": f"singleValueExtendedProperties($filter=id eq {odata_literal(convert.MESSAGE_CLASS_PROPERTY)})",
            }
            first = f"{self.prefix}/mailFolders/{key}/messages/delta"
            yield from self._email_round(key, folder, first, params, links, full=True, reset=reset)

    def _email_round(
        self,
        key: str,
        folder: Folder,
        first: str,
        params: Mapping[str, str] | None,
        links: dict[str, str | None],
        *,
        full: bool,
        reset: bool,
        options: MailboxReadOptions | None = None,
    ) -> Iterator[Page]:
        for page, following, delta in self._rounds(first, params, f"the {key} changes", "messages.delta"):
            rows, removed = self._split(page)
            if options is not None:
                rows = _without_echo(rows, options)
            for row in rows:
                self._categories.remember(str(row["id"]), [str(c) for c in row.get("categories") or []])
            links[key] = following or delta
            yield Page(
                items=tuple(convert.email_from_message(r, folder) for r in rows),
                deleted=tuple(removed),
                cursor=_dump_cursor(**links),
                full=full,
                last=delta is not None,
                reset=reset,
            )

    def past_own_marks(self, cursor: str, options: MailboxReadOptions) -> str | None:
        """The emails cursor moved past the category changes this run made (or None).

        Each folder's delta is followed from the stored link, page by page, while every row of a
        page is an email this run categorised whose changeKey is still the one our PATCH produced;
        the link after such a page replaces the stored one. A page holding anything else — a new
        email, a removal, an email the user changed after our PATCH (its changeKey moved on) —
        stops that folder there, so the next session's round starts at that page (SPEC §7).
        """
        links: dict[str, str | None] = {key: _load_cursor(cursor).get(key) for key, _ in _EMAIL_FOLDERS}
        if not self._marked or not all(links.values()):
            return None
        try:
            return self._delta_past_own(links)
        finally:
            self._marked.clear()  # marks are walked past once; later sessions set their own

    def _delta_past_own(self, links: dict[str, str | None]) -> str | None:
        moved = False
        for key, _folder in _EMAIL_FOLDERS:
            try:
                for page, following, delta in self._rounds(
                    str(links[key]), None, f"the {key} changes after our categories", "messages.delta"
                ):
                    if not all(self._own_row(row) for row in page.get("value") or []):
                        break
                    links[key] = following or delta or links[key]
                    moved = True
            except DeltaExpired:
                continue  # the next round lists the folder again anyway
        return _dump_cursor(**links) if moved else None

    def _own_row(self, row: Mapping[str, Any]) -> bool:
        """A delta row that is nothing but this run's own category change."""
        if "@removed" in row:
            return False
        version = str(row.get("changeKey") or "")
        return bool(version) and (str(row.get("id")), version) in self._marked

    def _event_changes(self, cursor: str | None, options: MailboxReadOptions) -> Iterator[Page]:
        saved = _load_cursor(cursor)
        reset = False
        if saved.get("link") and saved.get("start") and saved.get("end"):
            start, end = datetime.fromisoformat(saved["start"]), datetime.fromisoformat(saved["end"])
            if start <= options.calendar_start and end >= options.calendar_end:
                try:
                    yield from self._event_round(
                        str(saved["link"]), None, start, end, full=False, reset=False
                    )
                    return
                except DeltaExpired:
                    log.info("the calendar delta token expired; listing the calendar again")
                    reset = True
        start = options.calendar_start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        end = (
            options.calendar_end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            + WINDOW_SLACK
        )
        params = {"startDateTime": _iso(start), "endDateTime": _iso(end)}
        yield from self._event_round(
            f"{self.prefix}/calendarView/delta", params, start, end, full=True, reset=reset
        )

    def _event_round(
        self,
        first: str,
        params: Mapping[str, str] | None,
        start: datetime,
        end: datetime,
        *,
        full: bool,
        reset: bool,
    ) -> Iterator[Page]:
        for page, following, delta in self._rounds(
            first, params, "the calendar changes", "calendarView.delta"
        ):
            rows, removed = self._split(page)
            link = delta or following
            store = delta is not None or not full
            yield Page(
                items=tuple(convert.calendar_item_from_event(r) for r in rows),
                deleted=tuple(removed),
                cursor=_dump_cursor(link=link, start=start.isoformat(), end=end.isoformat())
                if store
                else None,
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

    def _task_round(
        self, first: str, params: Mapping[str, str] | None, *, full: bool, reset: bool
    ) -> Iterator[Page]:
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
                log.info(
                    "the contact folder's delta token is gone (%s); listing the contacts again", exc.code
                )
                self._contact_folder_id = None
                reset = True
        folder_id = self._ensure_contact_folder()
        first = f"{self.prefix}/contactFolders/{folder_id}/contacts/delta"
        yield from self._contact_round(
            first, {"$select": ",".join(convert.CONTACT_FIELDS)}, full=True, reset=reset
        )

    def _contact_round(
        self, first: str, params: Mapping[str, str] | None, *, full: bool, reset: bool
    ) -> Iterator[Page]:
        folder_tags: dict[str, str] | None = None
        for page, following, delta in self._rounds(first, params, "the contact changes", "contacts.delta"):
            rows, removed = self._split(page)
            if rows and full and folder_tags is None:
                folder_tags = self._folder_tags()  # one listing for a whole first sync
            tags = (
                folder_tags if folder_tags is not None else self._contact_tags([str(r["id"]) for r in rows])
            )
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
        expand = f"singleValueExtendedProperties($filter=id eq {odata_literal(convert.TAG_PROPERTY)})"
        for start in range(0, len(contact_ids), MAX_BATCH):
            chunk = contact_ids[start : start + MAX_BATCH]
            subs = [
                SubRequest("GET", f"{self.prefix}/contacts/{quote(i)}?$select=id&$expand={expand}")
                for i in chunk
            ]
            for contact_id, answer in zip(
                chunk, self.client.batch(subs, what="the contacts' origin"), strict=True
            ):
                if answer.ok and isinstance(answer.body, dict):
                    tag = convert.tag_of(answer.body)
                    if tag:
                        out[contact_id] = tag
                elif answer.status != 404:
                    raise graph_failure(
                        answer.status, answer.headers, answer.body, what="the contacts' origin"
                    )
        return out

    def _folder_tags(self) -> dict[str, str]:
        """Contact id → Salesforce Id for every tagged contact of the folder, in one listing."""
        folder_id = self._ensure_contact_folder()
        params = {
            "$select": "id",
            "$expand": f"singleValueExtendedProperties($filter=id eq {odata_literal(convert.TAG_PROPERTY)})",
            "$top": "1000",
        }
        out: dict[str, str] = {}
        for page in self.client.pages(
            f"{self.prefix}/contactFolders/{folder_id}/contacts",
            params=params,
            what="the contacts' origin",
            kind="contacts.list",
        ):
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
        for page in self.client.pages(
            f"{self.prefix}/todo/lists", what="the task lists", kind="todoLists.list"
        ):
            for entry in page.get("value") or []:
                if str(entry.get("displayName", "")).strip().lower() == TASK_LIST_NAME.lower():
                    self._task_list_id = str(entry["id"])
                    return self._task_list_id
        created = self.client.call(
            "POST",
            f"{self.prefix}/todo/lists",
            body={"displayName": TASK_LIST_NAME},
            what="creating the task list",
            kind="todoLists.create",
        )
        self._task_list_id = str(created["id"])
        return self._task_list_id

    def _ensure_contact_folder(self) -> str:
        """The id of the `Salesforce Contacts` folder, created when missing."""
        if self._contact_folder_id:
            return self._contact_folder_id
        params = {"$filter": f"displayName eq {odata_literal(CONTACT_FOLDER_NAME)}"}
        found = (
            self.client.call(
                "GET",
                f"{self.prefix}/contactFolders",
                params=params,
                what="the contact folders",
                kind="contactFolders.list",
            )
            or {}
        )
        rows = found.get("value") or []
        if rows:
            self._contact_folder_id = str(rows[0]["id"])
        else:
            created = self.client.call(
                "POST",
                f"{self.prefix}/contactFolders",
                body={"displayName": CONTACT_FOLDER_NAME},
                what="creating the contact folder",
                kind="contactFolders.create",
            )
            self._contact_folder_id = str(created["id"])
        return self._contact_folder_id
