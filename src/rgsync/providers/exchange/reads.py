"""Reading the Exchange mailbox: the `changes` of each stream and single emails (see `mailbox`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from exchangelib import CalendarItem as EwsCalendarItem
from exchangelib import Contact as EwsContact
from exchangelib import EWSDateTime, EWSTimeZone, Message
from exchangelib import Task as EwsTask
from exchangelib.folders import Folder
from exchangelib.items import (
    ID_ONLY,
    SHALLOW,
)
from exchangelib.properties import CalendarView
from exchangelib.services import FindItem

from rgsync.model import (
    CalendarItem,
    Page,
    Stream,
    SyncRecord,
)
from rgsync.model import Folder as MailFolder
from rgsync.providers.base import FatalError, ItemError, MailboxReadOptions, ProviderError

from . import convert, records
from .access import (
    BATCH,
    EMAIL_FOLDERS,
    FOLDER_GONE,
    INVALID_STATE,
    ITEM_CLASSES,
    VIEW_LIMIT,
    MailboxAccess,
    decode_cursor,
    encode_cursor,
)
from .connection import chunked


class Reads(MailboxAccess):
    """The read half of `ExchangeMailbox`."""

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
                        folder, states.get(name), Message, ("datetime_received", "categories")
                    )
                except ItemError as exc:
                    if exc.code != INVALID_STATE or states.get(name) is None:
                        raise
                    # The server forgot this state: list the folder again inside the history window.
                    states[name], folder_reset = None, True
                    listing.add(name)
                    since = options.email_since.isoformat()
                    continue
                # A long listing meets the emails this run has labelled meanwhile again, as
                # updates: those whose ChangeKey is still the one our UpdateItem produced hold
                # nothing new (the criterion `past_own_marks` applies for the next session).
                changed, deleted = self._split([c for c in changes if not self._own_change(*c)])
                full = name in listing
                if full:
                    cutoff = datetime.fromisoformat(since)
                    changed = [
                        i for i in changed if i.datetime_received is None or i.datetime_received >= cutoff
                    ]
                else:
                    changed = _without_echo(changed, options)
                now = self._now()
                emails = []
                for item, _noted in self._fetch(Message, [i.id for i in changed], convert.EMAIL_FIELDS):
                    emails.append(convert.email_item(item, kind, now=now))
                    self._remember(item.id, item.changekey, item.categories)
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

    def past_own_marks(self, cursor: str, options: MailboxReadOptions) -> str | None:
        """The emails cursor moved past the category updates this run made (or None).

        Each mail folder is synchronised from its stored state, page by page, while every change
        of a page is an update of an email this run categorised whose ChangeKey is still the one
        our UpdateItem produced (or a read-flag change, which reads ignore); the state after such
        a page replaces the stored one. A page holding anything else — a new email, a deletion,
        an email the user changed after our update (its ChangeKey moved on) — stops that folder
        there, so the next session synchronises from that page on (SPEC §7).
        """
        data = decode_cursor(Stream.EMAILS, cursor)
        if not self._marked or not data or data.get("full") or not isinstance(data.get("s"), dict):
            return None
        try:
            return self._sync_past_own(data)
        finally:
            self._marked.clear()  # marks are walked past once; later sessions set their own

    def _sync_past_own(self, data: dict[str, Any]) -> str | None:
        states: dict[str, str | None] = dict(data["s"])
        moved = False
        for name, cls, _kind in EMAIL_FOLDERS:
            state = states.get(name)
            if not state:
                continue
            folder = self.connection.distinguished(cls, name)
            while True:
                try:
                    changes, state_after, last = self._sync_page(folder, state, Message, ())
                except ItemError:
                    break  # a forgotten state: the next session lists the folder again anyway
                if not all(self._own_change(kind, item) for kind, item in changes):
                    break
                state, moved = state_after, True
                states[name] = state
                if last:
                    break
        if not moved:
            return None
        return encode_cursor(Stream.EMAILS, {**data, "s": states})

    def _own_change(self, kind: str, item: Any) -> bool:
        """A sync change that is nothing but this run's own category update (or a read flag)."""
        if kind == "read_flag_change":
            return True
        if kind != "update":
            return False
        changekey = str(getattr(item, "changekey", "") or "")
        return bool(changekey) and (str(getattr(item, "id", "")), changekey) in self._marked

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
            records.calendar_item(item, unmapped=records.unmapped_zone(noted))
            for item, noted in self._fetch(EwsCalendarItem, ids, convert.CALENDAR_FIELDS)
            if getattr(item, "type", None) != "RecurringMaster"
        ]

    @staticmethod
    def _item_pages(
        items: Sequence[SyncRecord], deleted: Sequence[str], cursor: str, *, full: bool, reset: bool
    ) -> Iterator[Page]:
        """Items in pages of BATCH; the cursor (and deletions) on the last page only. The items are
        all known beforehand (FindItem's calendar view, or the changed ids), so is their number."""
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
                total=len(items) + len(deleted),
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
                    records.task_item(i, self.tz) for i, _ in self._fetch(EwsTask, ids, convert.TASK_FIELDS)
                ]
            else:
                items = [
                    records.contact_item(i) for i, _ in self._fetch(EwsContact, ids, convert.CONTACT_FIELDS)
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

    def fetch_email(self, mailbox_id: str) -> Page:
        """One email by id (for `rgsync save`), as a single-item page."""
        found = self._fetch(Message, [mailbox_id], (*convert.EMAIL_FIELDS, "parent_folder_id"))
        if not found:
            raise ProviderError(f"no email with id {mailbox_id!r} in the mailbox", code="MAIL-NOT-FOUND")
        item = found[0][0]
        self._remember(item.id, item.changekey, item.categories)
        parent = getattr(getattr(item, "parent_folder_id", None), "id", None)
        folder = self._mail_folder_kinds().get(parent or "", MailFolder.OTHER)
        return Page(items=(convert.email_item(item, folder, now=self._now()),))


def _without_echo(changed: list[Any], options: MailboxReadOptions) -> list[Any]:
    """Changed items worth fetching: a saved email comes back when rgsync set its category, and
    nothing about it matters then unless it now carries the thread category (SPEC §3.6), so saved
    emails without it are dropped before GetItem."""
    thread = options.thread_label.strip().casefold()
    if not changed or not thread:
        return changed
    saved = set(options.saved([str(i.id) for i in changed]))
    return [
        i
        for i in changed
        if str(i.id) not in saved or thread in {str(c).strip().casefold() for c in (i.categories or [])}
    ]
