"""The two provider protocols (Mailbox, Crm) and the kinds of error adapters raise.

Adapters translate between a service's API and the domain records of `rgsync.model`; they never
decide what to sync (that is the engine's job). Every adapter maps its service's failures into the
three kinds below, so the session handles failure in one way whatever the service:

* `RetriableError`: the call may succeed if repeated (timeouts, 5xx, 429, throttling), and it is
  known to have changed nothing. Adapters never repeat a call themselves: the session's one
  policy does (`rgsync.session.retry`), so retries never nest.
* `UncertainWrite`: a write whose request may have been carried out (the connection broke after
  it was sent, the answer was lost, a 5xx on a create). It is never sent again blind: the session
  first looks for what it would have made, by natural key or idempotency key, and adopts it.
* `ItemError`: one record failed (validation rule, required field): it becomes an issue and the
  rest of the batch goes on. Batched writes report these as failed `WriteResult`s instead of raising.
* `FatalError`: the stream cannot go on this session (authentication, configuration, API budget).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from rgsync.model import (
    Account,
    ApiUsage,
    ExistingEvent,
    MarkLabel,
    Opportunity,
    OrgInfo,
    Page,
    Person,
    RecordKind,
    Stream,
    Write,
    WriteResult,
)


class ProviderError(Exception):
    """Base of every error an adapter raises on purpose."""

    def __init__(self, message: str, *, code: str = "", advice: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.advice = advice


class RetriableError(ProviderError):
    """A transient failure; `retry_after` (seconds) is the service's own hint, when it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None, code: str = "") -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class UncertainWrite(ProviderError):
    """A write that may or may not have been applied; `retry_after` is the service's hint, if any.

    Deliberately not a `RetriableError`: repeating such a call blindly could create twice.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, code: str = "") -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class ItemError(ProviderError):
    """One record was refused; the rest of the work goes on."""


class FatalError(ProviderError):
    """The stream (or the session) cannot continue: sign-in, configuration, permissions, budget."""


class AuthError(FatalError):
    """Sign-in failed or a token was revoked; `advice` names the `rgsync connect …` command to run."""


class ApiBudgetError(FatalError):
    """Salesforce refused because the org's daily API allocation is used up (REQUEST_LIMIT_EXCEEDED)."""


@dataclass(frozen=True)
class MailboxReadOptions:
    """What the session tells a mailbox about the window of each stream.

    `email_since`: oldest email considered on a full listing (first session: now − history-days).
    `calendar_start`/`calendar_end`: the calendar window (SPEC §4.1).
    `saved`: which of the given email ids are already saved (linked). A mailbox uses it to drop the
    echo of its own marks (the save label or category it set after saving) before fetching or
    converting anything; the default knows of none, so nothing is dropped. `thread_label`: the
    label/category that starts tracking a saved email's thread (SPEC §3.6), the one change to a
    saved email that still matters ("" when unknown: a mailbox then drops no saved email).
    """

    email_since: datetime
    calendar_start: datetime
    calendar_end: datetime
    saved: Callable[[Collection[str]], Collection[str]] = field(default=lambda _ids: ())
    thread_label: str = ""


@dataclass(frozen=True)
class CrmReadOptions:
    """What the session tells the org about the scope of each Salesforce stream."""

    user_id: str
    calendar_start: datetime
    calendar_end: datetime
    tasks_since: datetime
    contacts_scope: str = "mine"
    contacts_view: str = ""
    streams: frozenset[Stream] = frozenset({Stream.EVENTS, Stream.TASKS, Stream.CONTACTS})


@dataclass(frozen=True)
class SavedEmail:
    """An email recovery found saved after an interrupted session, to be checked for completeness.

    `sender` is the sender's address when a people record among `who_ids` may stand for it (the
    sender is not also a recipient), else "".
    """

    record_id: str
    sender: str = ""
    who_ids: tuple[str, ...] = ()


@runtime_checkable
class Mailbox(Protocol):
    """The user's mailbox: emails, calendar, a task list and a contact folder."""

    address: str
    aliases: frozenset[str]

    def changes(self, stream: Stream, cursor: str | None, options: MailboxReadOptions) -> Iterator[Page]:
        """Pages of what changed in `stream` since `cursor`.

        A None or expired cursor yields a full listing (pages with `full=True`; `reset=True` when a
        stored cursor had expired). For EMAILS only Inbox and Sent are read; for EVENTS the primary
        calendar inside the window, occurrence by occurrence; for TASKS the `Salesforce Tasks` list;
        for CONTACTS the `Salesforce Contacts` folder/group (both created when missing).
        """
        ...

    def apply(self, stream: Stream, writes: Sequence[Write]) -> list[WriteResult]:
        """Create, update or delete items of `stream`, one result per write, in order.

        Raises `RetriableError` only when nothing of this call was applied; once something may
        have been, `UncertainWrite` (the session then looks creates up with `find_tagged` before
        sending again). Updates and deletes are safe to send twice.

        Creates carry a record whose `salesforce_id` is set: the item is tagged as Salesforce-origin,
        and calendar items are created without sending any invitation.
        """
        ...

    def find_tagged(self, stream: Stream, salesforce_ids: Collection[str]) -> dict[str, str]:
        """Mailbox ids of items tagged with these Salesforce ids (crash recovery of down-sync creates)."""
        ...

    def mark(self, marks: Sequence[MarkLabel]) -> list[WriteResult]:
        """Add or remove labels/categories on emails, creating missing labels; batched."""
        ...

    def fetch_email(self, mailbox_id: str) -> Page:
        """One email by id (for `rgsync save`), as a single-item page."""
        ...

    @property
    def api_calls(self) -> int:
        """HTTP calls made so far (for the session record and the benchmarks)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class SkipsOwnMarks(Protocol):
    """A mailbox that can move its emails cursor past the marks it set itself in this run.

    After a session labelled what it saved, the change journal (Gmail history, a Graph delta, an
    EWS sync state) lists every one of those marks; reading them next session costs one call per
    few hundred emails. `past_own_marks` reads the journal from `cursor` now and answers a cursor
    past the leading run of changes that are provably rgsync's own — the very label or category
    it added, on an email it marked in this run, at the version its write produced — or None when
    nothing can be skipped. The first change made by anyone else stops it: that change and all
    after it stay ahead of the answered cursor (SPEC §7, nothing missed).
    """

    def past_own_marks(self, cursor: str, options: MailboxReadOptions) -> str | None:
        """A cursor past rgsync's own marks after `cursor`, or None (see the class docstring)."""
        ...


@runtime_checkable
class Crm(Protocol):
    """The Salesforce org, seen as the user."""

    def org_info(self) -> OrgInfo:
        """The user's Id and the org's capabilities (one or two calls; the session caches it daily)."""
        ...

    def use_org_info(self, info: OrgInfo) -> None:
        """Take the org info the session keeps (refreshed daily), so the adapter spends no call on it."""
        ...

    def changes(
        self, cursors: Mapping[Stream, str | None], options: CrmReadOptions
    ) -> dict[Stream, list[Page]]:
        """Changes of Events, Tasks and Contacts in scope since each cursor.

        An idle session must cost one call for all streams together (SPEC §10), so the adapter
        bundles the delta queries. A None or expired cursor gives a full listing of what is in scope.
        """
        ...

    def find_people(self, emails: Collection[str]) -> dict[str, list[Person]]:
        """Contacts and unconverted Leads by email (lower-cased keys), many addresses per query."""
        ...

    def people_by_id(self, ids: Collection[str]) -> dict[str, Person]:
        """Contacts and Leads by Id (those with an address), many Ids per query.

        A Salesforce Event names its people by Id only; a copy in the mailbox needs their addresses
        as attendees, whether or not this session met them in the mailbox.
        """
        ...

    def find_accounts_by_domain(self, domains: Collection[str]) -> dict[str, Account]:
        """An Account whose Website has each domain (www./scheme/path ignored), for auto-resolve."""
        ...

    def accounts_by_id(self, ids: Collection[str]) -> dict[str, Account]:
        """Accounts by Id."""
        ...

    def opportunities_for(self, account_ids: Collection[str], owner_id: str) -> list[Opportunity]:
        """Opportunities owned by `owner_id` on these Accounts (SPEC §3.5)."""
        ...

    def find_existing(self, kind: RecordKind, keys: Collection[str]) -> dict[str, str]:
        """Ids of records that already carry these natural keys (SPEC §3.7, §4.2, §7.1).

        EMAIL keys are Internet Message-IDs; EVENT keys are `event_key(...)` strings; LEAD/CONTACT
        keys are email addresses; ACCOUNT keys are website domains.
        """
        ...

    def find_meetings(self, keys: Collection[str]) -> dict[str, ExistingEvent]:
        """Events of any owner matching `meeting_key(subject, start)` keys, with the user's edit access."""
        ...

    def apply(self, writes: Sequence[Write]) -> list[WriteResult]:
        """Create, update or delete records in batches of at most 200, one result per write, in order.

        A `RetriableError` leaves it safe to call again with the same writes (writes that already
        succeeded in this session are not sent twice); after `UncertainWrite` the session looks
        creates up with `find_existing` before sending again.
        """
        ...

    def complete_emails(self, emails: Sequence[SavedEmail]) -> list[WriteResult]:
        """Add what an email saved by an interrupted session may lack (an EmailMessage's
        `FromAddress` relation to its sender's Contact or Lead); one result per email, in order."""
        ...

    def usage(self) -> ApiUsage | None:
        """The daily API allocation as of the last response (None before any call)."""
        ...

    @property
    def api_calls(self) -> int: ...

    def close(self) -> None: ...
