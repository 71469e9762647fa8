"""`GoogleMailbox`: the `Mailbox` protocol over Gmail, Google Calendar, Google Tasks and People.

It routes each stream to its module and adds what every stream's writes need from a session's
point of view:

* A write that already succeeded in this session is not sent again. The session retries a whole
  `apply` after a transient failure; remembered results make that retry repeat nothing that
  Google already did (a task or a contact created twice would be a duplicate: neither has an id
  rgsync can choose).
* A transient failure while creates were in flight raises `UncertainWrite`: their outcome is
  unknown, and they are looked up by their origin tag (the Salesforce id in the event's private
  property, the task's notes trailer, the contact's client data) before being sent again.
* A refreshed OAuth token is written back to the credentials store, so the next session starts
  with it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence

from rgsync.model import (
    CONTACT_FOLDER_NAME,
    LABEL_SAVE,
    LABEL_SAVE_THREAD,
    TASK_LIST_NAME,
    Create,
    MarkLabel,
    Page,
    Stream,
    Write,
    WriteResult,
)
from rgsync.providers.base import MailboxReadOptions, RetriableError, UncertainWrite
from rgsync.providers.google.api import GoogleApi
from rgsync.providers.google.calendar import CalendarEvents
from rgsync.providers.google.gmail import GmailEmails
from rgsync.providers.google.people import GooglePeople
from rgsync.providers.google.tasks import GoogleTasks


class GoogleMailbox:
    """A Gmail / Google Workspace mailbox: emails, primary calendar, a task list, a contact group."""

    def __init__(
        self,
        api: GoogleApi,
        *,
        address: str,
        aliases: Collection[str] = (),
        time_zone: str | None = None,
        save_label: str = LABEL_SAVE,
        thread_label: str = LABEL_SAVE_THREAD,
        task_list: str = TASK_LIST_NAME,
        contact_group: str = CONTACT_FOLDER_NAME,
        on_close: Callable[[GoogleApi], None] | None = None,
    ) -> None:
        """`on_close` runs when the mailbox closes (used to store a refreshed token)."""
        self.api = api
        self.address = address.lower()
        self.aliases = frozenset(a.lower() for a in aliases)
        self.emails = GmailEmails(api, trigger_labels=(save_label, thread_label), own_label=save_label)
        self.calendar = CalendarEvents(api, address=self.address, aliases=self.aliases, time_zone=time_zone)
        self.tasks = GoogleTasks(api, list_name=task_list)
        self.people = GooglePeople(api, group_name=contact_group)
        self._on_close = on_close
        self._done: dict[str, WriteResult] = {}
        self._uncertain: dict[Stream, set[str]] = {}

    @property
    def api_calls(self) -> int:
        """HTTP requests sent to Google so far (a batch counts once)."""
        return self.api.calls

    def changes(self, stream: Stream, cursor: str | None, options: MailboxReadOptions) -> Iterator[Page]:
        """Pages of what changed in `stream` since `cursor` (see each stream's module)."""
        if stream is Stream.EMAILS:
            return self.emails.changes(cursor, options)
        if stream is Stream.EVENTS:
            return self.calendar.changes(cursor, options.calendar_start, options.calendar_end)
        if stream is Stream.TASKS:
            return self.tasks.changes(cursor)
        return self.people.changes(cursor)

    def apply(self, stream: Stream, writes: Sequence[Write]) -> list[WriteResult]:
        """Create, update or delete items of `stream`; one result per write, in order."""
        if stream is Stream.EMAILS:
            return [
                WriteResult(ok=False, error_code="MAIL-REFUSED", message="emails are never written")
                for _ in writes
            ]
        results: list[WriteResult | None] = [self._done.get(_key(stream, w)) for w in writes]
        self._settle_uncertain(stream, writes, results)
        target: CalendarEvents | GoogleTasks | GooglePeople
        if stream is Stream.EVENTS:
            target = self.calendar
        elif stream is Stream.TASKS:
            target = self.tasks
        else:
            target = self.people
        try:
            target.apply(writes, results)
        except RetriableError as exc:
            unknown = False
            for write, result in zip(writes, results, strict=True):
                if result is None and isinstance(write, Create):
                    # Sent or not? Only the service knows: ask it before sending this one again.
                    self._uncertain.setdefault(stream, set()).add(_tag(write))
                    unknown = True
            if unknown:
                # The session must look before it sends again (never blind: no client ids here).
                raise UncertainWrite(exc.message, retry_after=exc.retry_after, code=exc.code) from exc
            raise
        finally:
            for write, result in zip(writes, results, strict=True):
                if result is not None and result.ok:
                    self._done[_key(stream, write)] = result
        return [
            r or WriteResult(ok=False, error_code="MAIL-ERROR", message="not carried out") for r in results
        ]

    def _settle_uncertain(
        self, stream: Stream, writes: Sequence[Write], results: list[WriteResult | None]
    ) -> None:
        uncertain = self._uncertain.get(stream)
        if not uncertain:
            return
        pending = {
            _tag(w) for n, w in enumerate(writes) if isinstance(w, Create) and results[n] is None
        } & uncertain
        if not pending:
            return
        found = self.find_tagged(stream, pending)
        for n, write in enumerate(writes):
            if isinstance(write, Create) and results[n] is None and _tag(write) in found:
                results[n] = WriteResult(ok=True, id=found[_tag(write)])
        uncertain -= pending

    def find_tagged(self, stream: Stream, salesforce_ids: Collection[str]) -> dict[str, str]:
        """Mailbox ids of items carrying these Salesforce ids as origin tag."""
        if not salesforce_ids:
            return {}
        if stream is Stream.EVENTS:
            return self.calendar.find_tagged(salesforce_ids)
        if stream is Stream.TASKS:
            return self.tasks.find_tagged(salesforce_ids)
        if stream is Stream.CONTACTS:
            return self.people.find_tagged(salesforce_ids)
        return {}

    def past_own_marks(self, cursor: str, options: MailboxReadOptions) -> str | None:
        """The emails cursor moved past the labels this run set (see `GmailEmails.past_own_marks`)."""
        return self.emails.past_own_marks(cursor, options)

    def mark(self, marks: Sequence[MarkLabel]) -> list[WriteResult]:
        """Add or remove Gmail labels (created when missing), batched per label."""
        if not marks:
            return []
        return self.emails.mark(marks)

    def fetch_email(self, mailbox_id: str) -> Page:
        """One email by Gmail id, as a single-item page (for `rgsync save`)."""
        return self.emails.fetch_email(mailbox_id)

    def close(self) -> None:
        """Store a refreshed sign-in, if any; nothing else is held open."""
        if self._on_close is not None:
            self._on_close(self.api)


def _tag(write: Create) -> str:
    """The Salesforce id a create tags its item with (its natural key for down-synced items)."""
    return str(getattr(write.record, "salesforce_id", None) or write.key)


def _key(stream: Stream, write: Write) -> str:
    # Writes are frozen dataclasses: their repr is a faithful, deterministic identity.
    return f"{stream.value}|{write!r}"
