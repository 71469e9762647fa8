"""In-memory providers that behave like the services, for tests of the engine and the session.

They keep a change journal per stream so cursors are real (a cursor is a journal position); a
cursor can be expired on demand, which forces a full listing exactly as an expired Gmail history id
or Calendar sync token does. Writes echo back as changes at the next read, as real services do.
Failures can be injected per record (`reject`), per call (`fail_calls`), and as a crash after the
N-th accepted write (`crash_after_writes`), which models a process killed after the service
accepted a create but before rgsync recorded it (SPEC §7.1).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rgsync.model import (
    Account,
    ApiUsage,
    CalendarItem,
    ContactItem,
    Create,
    Delete,
    EmailActivity,
    EmailItem,
    EventInvitee,
    EventRecord,
    ExistingEvent,
    Folder,
    MarkLabel,
    NewAccount,
    NewPerson,
    Opportunity,
    OrgInfo,
    Page,
    Person,
    PersonKind,
    RecordKind,
    Stream,
    SyncRecord,
    TaskItem,
    Update,
    Write,
    WriteResult,
    event_key,
    meeting_key,
)
from rgsync.providers.base import (
    ApiBudgetError,
    CrmReadOptions,
    MailboxReadOptions,
    ProviderError,
)


class SimulatedCrash(BaseException):
    """Raised by a memory provider to model the process being killed mid-session.

    A BaseException so that no `except Exception` in the session swallows it, like a real kill.
    """


@dataclass
class _Journal:
    """Append-only log of (position, id, deleted) for one stream; positions start at 1.

    `epoch` grows each time the service "forgets" sync positions: cursors of older epochs are expired.
    """

    entries: list[tuple[int, str, bool]] = field(default_factory=list)
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    epoch: int = 0

    def record(self, item_id: str, deleted: bool = False) -> None:
        self.entries.append((next(self.counter), item_id, deleted))

    @property
    def position(self) -> int:
        return self.entries[-1][0] if self.entries else 0

    @property
    def cursor(self) -> str:
        return f"m{self.epoch}.{self.position}"

    def since(self, position: int) -> tuple[list[str], list[str]]:
        """Ids changed and ids deleted after `position`, each once, latest state wins."""
        state: dict[str, bool] = {}
        for pos, item_id, deleted in self.entries:
            if pos > position:
                state.pop(item_id, None)
                state[item_id] = deleted
        return [i for i, d in state.items() if not d], [i for i, d in state.items() if d]

    def expire(self) -> None:
        self.epoch += 1

    def position_of(self, cursor: str | None) -> int | None:
        """The journal position of a cursor, or None when it is missing, foreign or expired."""
        if not cursor or not cursor.startswith("m") or "." not in cursor:
            return None
        epoch, _, position = cursor[1:].partition(".")
        if not (epoch.isdigit() and position.isdigit()) or int(epoch) != self.epoch:
            return None
        return int(position)


@dataclass
class FailureInjection:
    """Failures shared by both memory providers."""

    reject: Callable[[Write], str | None] = lambda _w: None  # -> error code to refuse this write
    fail_calls: list[ProviderError] = field(default_factory=list)  # raised by the next calls, in order
    crash_after_writes: int | None = None  # accepted writes before a SimulatedCrash
    accepted_writes: int = 0

    def on_call(self) -> None:
        if self.fail_calls:
            raise self.fail_calls.pop(0)

    def after_accepted_write(self) -> None:
        self.accepted_writes += 1
        if self.crash_after_writes is not None and self.accepted_writes >= self.crash_after_writes:
            self.crash_after_writes = None
            raise SimulatedCrash(f"simulated crash after {self.accepted_writes} accepted writes")


class _Applied:
    """Writes that already succeeded: a retried `apply` returns their results instead of resending.

    Real adapters must be just as safe to retry (see `Mailbox.apply` / `Crm.apply`); keyed by the
    write object itself, because a retry hands the very same writes again.
    """

    def __init__(self) -> None:
        self._done: dict[int, tuple[Write, WriteResult]] = {}

    def get(self, write: Write) -> WriteResult | None:
        hit = self._done.get(id(write))
        return hit[1] if hit is not None and hit[0] is write else None

    def add(self, write: Write, result: WriteResult) -> None:
        self._done[id(write)] = (write, result)


def _apply_batches(
    writes: Sequence[Write],
    size: int,
    call: Callable[[], None],
    write_one: Callable[[Write], WriteResult],
    failures: FailureInjection,
    applied: _Applied,
    service: str,
) -> list[WriteResult]:
    """Send writes in batches of `size` (one counted call each), one result per write, in order."""
    results: list[WriteResult] = []
    for start in range(0, len(writes), size):
        batch = writes[start : start + size]
        if any(applied.get(w) is None for w in batch):
            call()
        for write in batch:
            done = applied.get(write)
            if done is not None:
                results.append(done)
                continue
            code = failures.reject(write)
            if code:
                results.append(
                    WriteResult(ok=False, error_code=code, message=f"{service} refused the record ({code})")
                )
                continue
            result = write_one(write)
            results.append(result)
            if result.ok:
                applied.add(write, result)
                failures.after_accepted_write()
    return results


def _pages(
    items: list[SyncRecord], deleted: list[str], cursor: str, full: bool, reset: bool, size: int
) -> Iterator[Page]:
    """Split a listing into pages; only the last page carries the cursor of a full listing."""
    chunks = [items[i : i + size] for i in range(0, len(items), size)] or [[]]
    for n, chunk in enumerate(chunks):
        last = n == len(chunks) - 1
        yield Page(
            items=tuple(chunk),
            deleted=tuple(deleted) if last else (),
            cursor=cursor if (last or not full) else None,
            full=full,
            last=last,
            reset=reset,
        )


def _apply_changes(record: Any, changes: Mapping[str, object]) -> Any:
    known = {f.name for f in dataclasses.fields(record)}
    unknown = set(changes) - known
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)} for {type(record).__name__}")
    return dataclasses.replace(record, **changes)


class MemoryMailbox:
    """A mailbox held in memory: emails in folders, a calendar, a task list and a contact folder."""

    def __init__(self, address: str, aliases: Collection[str] = (), page_size: int = 50) -> None:
        self.address = address.lower()
        self.aliases = frozenset(a.lower() for a in aliases)
        self.page_size = page_size
        self.emails: dict[str, EmailItem] = {}
        self.events: dict[str, CalendarItem] = {}
        self.tasks: dict[str, TaskItem] = {}
        self.contacts: dict[str, ContactItem] = {}
        self.invitations_sent = 0
        self.failures = FailureInjection()
        self._applied = _Applied()
        self._journals = {s: _Journal() for s in Stream}
        self._ids = itertools.count(1)
        self._calls = 0

    # -- setup helpers for tests -------------------------------------------------------------
    def _store(self, stream: Stream) -> dict[str, Any]:
        stores: dict[Stream, dict[str, Any]] = {
            Stream.EMAILS: self.emails,
            Stream.EVENTS: self.events,
            Stream.TASKS: self.tasks,
            Stream.CONTACTS: self.contacts,
        }
        return stores[stream]

    def put(self, stream: Stream, item: SyncRecord) -> SyncRecord:
        """Add or replace an item as the user would (recorded in the change journal)."""
        key = item.mailbox_id if isinstance(item, EmailItem) else item.id
        self._store(stream)[key] = item
        self._journals[stream].record(key)
        return item

    def remove(self, stream: Stream, item_id: str) -> None:
        """Delete an item as the user would."""
        self._store(stream).pop(item_id, None)
        self._journals[stream].record(item_id, deleted=True)

    def edit(self, stream: Stream, item_id: str, **changes: object) -> SyncRecord:
        """Change fields of an item as the user would."""
        item = _apply_changes(self._store(stream)[item_id], changes)
        return self.put(stream, item)

    def expire_cursor(self, stream: Stream) -> None:
        """Make every stored cursor of `stream` invalid (like a Gmail 404 / Calendar 410)."""
        self._journals[stream].expire()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    # -- Mailbox protocol ----------------------------------------------------------------------
    @property
    def api_calls(self) -> int:
        return self._calls

    def _call(self) -> None:
        self._calls += 1
        self.failures.on_call()

    def _visible(self, stream: Stream, item: Any, options: MailboxReadOptions, full: bool) -> bool:
        if stream is Stream.EMAILS:
            if item.folder not in (Folder.INBOX, Folder.SENT):
                return False  # only Inbox and Sent are ever read (SPEC §3.1)
            return not full or item.sent_at >= options.email_since
        if stream is Stream.EVENTS and full:
            return bool(options.calendar_start <= item.start < options.calendar_end)
        return True

    def changes(self, stream: Stream, cursor: str | None, options: MailboxReadOptions) -> Iterator[Page]:
        journal = self._journals[stream]
        store = self._store(stream)
        position = journal.position_of(cursor)
        self._call()
        end = journal.cursor
        if position is None:
            items = [i for i in store.values() if self._visible(stream, i, options, True)]
            yield from _pages(items, [], end, True, cursor is not None, self.page_size)
            return
        changed_ids, deleted = journal.since(position)
        items = [
            store[i] for i in changed_ids if i in store and self._visible(stream, store[i], options, False)
        ]
        yield from _pages(items, deleted, end, False, False, self.page_size)

    def apply(self, stream: Stream, writes: Sequence[Write]) -> list[WriteResult]:
        return _apply_batches(
            writes,
            100,
            self._call,
            lambda w: self._write(stream, w),
            self.failures,
            self._applied,
            "the mailbox",
        )

    def _write(self, stream: Stream, write: Write) -> WriteResult:
        store = self._store(stream)
        if isinstance(write, Create):
            prefix = {Stream.EVENTS: "ev", Stream.TASKS: "tk", Stream.CONTACTS: "ct"}.get(stream, "it")
            item_id = self.new_id(prefix)
            store[item_id] = dataclasses.replace(write.record, id=item_id)  # type: ignore[arg-type]
            self._journals[stream].record(item_id)
            return WriteResult(ok=True, id=item_id)
        if isinstance(write, Update):
            if write.id not in store:
                return WriteResult(ok=False, error_code="MAIL-NOT-FOUND", message="item not found")
            store[write.id] = _apply_changes(store[write.id], write.changes)
            self._journals[stream].record(write.id)
            return WriteResult(ok=True, id=write.id)
        # Deleting an item that is already gone counts as done: the goal state holds.
        store.pop(write.id, None)
        self._journals[stream].record(write.id, deleted=True)
        return WriteResult(ok=True, id=write.id)

    def find_tagged(self, stream: Stream, salesforce_ids: Collection[str]) -> dict[str, str]:
        self._call()
        wanted = set(salesforce_ids)
        return {
            item.salesforce_id: item_id
            for item_id, item in self._store(stream).items()
            if getattr(item, "salesforce_id", None) in wanted
        }

    def mark(self, marks: Sequence[MarkLabel]) -> list[WriteResult]:
        if not marks:
            return []
        self._call()
        results = []
        for mark in marks:
            email = self.emails.get(mark.mailbox_id)
            if email is None:
                results.append(WriteResult(ok=False, error_code="MAIL-NOT-FOUND", message="email not found"))
                continue
            labels = email.labels - {mark.label} if mark.remove else email.labels | {mark.label}
            self.emails[mark.mailbox_id] = dataclasses.replace(email, labels=frozenset(labels))
            # Label changes show in Gmail history too; the engine ignores emails it already linked.
            self._journals[Stream.EMAILS].record(mark.mailbox_id)
            results.append(WriteResult(ok=True, id=mark.mailbox_id))
        return results

    def fetch_email(self, mailbox_id: str) -> Page:
        self._call()
        email = self.emails.get(mailbox_id)
        if email is None:
            raise ProviderError(f"no email with id {mailbox_id!r} in the mailbox", code="MAIL-NOT-FOUND")
        return Page(items=(email,))

    def close(self) -> None:
        return None


class MemoryCrm:
    """A Salesforce org held in memory, seen as one user.

    Contacts are `ContactItem`s (they are both people records for resolution and the items of the
    contacts stream); Leads are `Person`s. Writes go in batches of at most 200 per call; every call
    counts against a daily allocation, and crossing it raises `ApiBudgetError` like
    REQUEST_LIMIT_EXCEEDED.
    """

    BATCH = 200

    def __init__(
        self, user_id: str, user_email: str = "", *, enhanced_email: bool = True, api_limit: int = 15000
    ) -> None:
        self.user_id = user_id
        self.user_email = user_email
        self.enhanced_email = enhanced_email
        self.api_limit = api_limit
        self.api_used = 0
        self.accounts: dict[str, Account] = {}
        self.contacts: dict[str, ContactItem] = {}
        self.leads: dict[str, Person] = {}
        self.opportunities: dict[str, Opportunity] = {}
        self.events: dict[str, CalendarItem] = {}
        self.tasks: dict[str, TaskItem] = {}
        self.emails: dict[str, EmailActivity] = {}
        self.email_owners: dict[str, str] = {}
        self.edit_access: dict[tuple[str, str], bool] = {}  # (event id, user id) -> may edit
        self.list_views: dict[str, Callable[[ContactItem], bool]] = {}
        self.failures = FailureInjection()
        self._applied = _Applied()
        self._journals = {s: _Journal() for s in (Stream.EVENTS, Stream.TASKS, Stream.CONTACTS)}
        self._ids = itertools.count(1)
        self._calls = 0
        self.calls_by_kind: dict[str, int] = {}

    # -- setup helpers ---------------------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):015d}"

    def add_account(self, name: str, website: str = "", id: str | None = None) -> Account:
        account = Account(id=id or self.new_id("001"), name=name, website=website)
        self.accounts[account.id] = account
        return account

    def add_contact(self, item: ContactItem) -> ContactItem:
        self.contacts[item.id] = item
        self._journals[Stream.CONTACTS].record(item.id)
        return item

    def add_lead(self, person: Person) -> Person:
        self.leads[person.id] = person
        return person

    def add_opportunity(self, opportunity: Opportunity) -> Opportunity:
        self.opportunities[opportunity.id] = opportunity
        return opportunity

    def put_event(self, item: CalendarItem) -> CalendarItem:
        """Add or replace an Event as a Salesforce user would."""
        self.events[item.id] = item
        self._journals[Stream.EVENTS].record(item.id)
        return item

    def put_task(self, item: TaskItem) -> TaskItem:
        self.tasks[item.id] = item
        self._journals[Stream.TASKS].record(item.id)
        return item

    def put_contact(self, item: ContactItem) -> ContactItem:
        return self.add_contact(item)

    def remove(self, stream: Stream, record_id: str) -> None:
        """Delete a record as a Salesforce user would."""
        self._store(stream).pop(record_id, None)
        self._journals[stream].record(record_id, deleted=True)

    def edit(self, stream: Stream, record_id: str, **changes: object) -> Any:
        store = self._store(stream)
        store[record_id] = _apply_changes(store[record_id], changes)
        self._journals[stream].record(record_id)
        return store[record_id]

    def expire_cursor(self, stream: Stream) -> None:
        self._journals[stream].expire()

    def _store(self, stream: Stream) -> dict[str, Any]:
        stores: dict[Stream, dict[str, Any]] = {
            Stream.EVENTS: self.events,
            Stream.TASKS: self.tasks,
            Stream.CONTACTS: self.contacts,
        }
        return stores[stream]

    # -- accounting ---------------------------------------------------------------------------------
    @property
    def api_calls(self) -> int:
        return self._calls

    def _call(self, kind: str) -> None:
        self.failures.on_call()
        if self.api_used >= self.api_limit:
            raise ApiBudgetError(
                "Salesforce refused the call: the org's daily API allocation is used up (REQUEST_LIMIT_EXCEEDED)",
                code="SF-API-BUDGET",
            )
        self._calls += 1
        self.api_used += 1
        self.calls_by_kind[kind] = self.calls_by_kind.get(kind, 0) + 1

    def usage(self) -> ApiUsage | None:
        return ApiUsage(used=self.api_used, limit=self.api_limit) if self._calls else None

    # -- Crm protocol: reads ---------------------------------------------------------------------------
    def use_org_info(self, info: OrgInfo) -> None:
        return None  # nothing to describe in memory

    def org_info(self) -> OrgInfo:
        self._call("org_info")
        return OrgInfo(user_id=self.user_id, user_email=self.user_email, enhanced_email=self.enhanced_email)

    def _in_scope(self, stream: Stream, record: Any, options: CrmReadOptions) -> bool:
        if stream is Stream.EVENTS:
            mine = record.owner_id == options.user_id or options.user_id in record.invitee_ids
            return bool(mine and options.calendar_start <= record.start < options.calendar_end)
        if stream is Stream.TASKS:
            return bool(record.owner_id == options.user_id)
        if options.contacts_scope == "mine":
            return bool(record.owner_id == options.user_id)
        if options.contacts_scope == "view":
            view = self.list_views.get(options.contacts_view)
            if view is None:
                raise ProviderError(
                    f"no Contact list view named {options.contacts_view!r}", code="SF-LIST-VIEW"
                )
            return view(record)
        return True

    def changes(
        self, cursors: Mapping[Stream, str | None], options: CrmReadOptions
    ) -> dict[Stream, list[Page]]:
        self._call("changes")  # one Composite request carries every delta query
        out: dict[Stream, list[Page]] = {}
        for stream in options.streams:
            if stream not in self._journals:
                continue
            journal = self._journals[stream]
            store = self._store(stream)
            cursor = cursors.get(stream)
            position = journal.position_of(cursor)
            end = journal.cursor
            if position is None:
                items = [r for r in store.values() if self._in_scope(stream, r, options)]
                out[stream] = list(_pages(items, [], end, True, cursor is not None, 2000))
                continue
            changed_ids, deleted = journal.since(position)
            items, gone = [], list(deleted)
            for record_id in changed_ids:
                record = store.get(record_id)
                if record is None:
                    continue
                if self._in_scope(stream, record, options):
                    items.append(record)
                else:
                    gone.append(record_id)  # left the scope: the mailbox copy goes (SPEC §5, §6.2)
            out[stream] = list(_pages(items, gone, end, False, False, 2000))
        return out

    def _people(self) -> list[Person]:
        contacts = [
            Person(
                c.id, PersonKind.CONTACT, c.email.lower(), c.first_name, c.last_name, c.account_id, c.owner_id
            )
            for c in self.contacts.values()
            if c.email
        ]
        return contacts + list(self.leads.values())

    def find_people(self, emails: Collection[str]) -> dict[str, list[Person]]:
        wanted = sorted({e.lower() for e in emails})
        out: dict[str, list[Person]] = {}
        for start in range(0, len(wanted), 200):
            self._call("find_people")
            chunk = set(wanted[start : start + 200])
            for person in self._people():
                if person.email.lower() in chunk:
                    out.setdefault(person.email.lower(), []).append(person)
        return out

    @staticmethod
    def website_domain(website: str) -> str:
        host = website.lower().split("//", 1)[-1].split("/", 1)[0]
        return host[4:] if host.startswith("www.") else host

    def find_accounts_by_domain(self, domains: Collection[str]) -> dict[str, Account]:
        if not domains:
            return {}
        self._call("find_accounts_by_domain")
        wanted = {d.lower() for d in domains}
        out: dict[str, Account] = {}
        for account in sorted(self.accounts.values(), key=lambda a: a.id):
            domain = self.website_domain(account.website)
            if domain in wanted and domain not in out:
                out[domain] = account
        return out

    def accounts_by_id(self, ids: Collection[str]) -> dict[str, Account]:
        if not ids:
            return {}
        self._call("accounts")
        return {i: self.accounts[i] for i in ids if i in self.accounts}

    def opportunities_for(self, account_ids: Collection[str], owner_id: str) -> list[Opportunity]:
        if not account_ids:
            return []
        self._call("opportunities")
        wanted = set(account_ids)
        return [o for o in self.opportunities.values() if o.account_id in wanted and o.owner_id == owner_id]

    def find_existing(self, kind: RecordKind, keys: Collection[str]) -> dict[str, str]:
        if not keys:
            return {}
        self._call(f"find_existing.{kind}")
        wanted = set(keys)
        if kind is RecordKind.EMAIL:
            return {a.email.message_id: i for i, a in self.emails.items() if a.email.message_id in wanted}
        if kind is RecordKind.EVENT:
            return {
                k: i
                for i, e in self.events.items()
                if (k := event_key(e.subject, e.start, e.owner_id or "")) in wanted
            }
        if kind in (RecordKind.CONTACT, RecordKind.LEAD):
            return {p.email: p.id for p in self._people() if p.email in wanted and p.kind.value == kind.value}
        if kind is RecordKind.ACCOUNT:
            return {d: a.id for d, a in self.find_accounts_by_domain(wanted).items()}
        if kind is RecordKind.TASK:
            # The tasks engine's natural key: subject|due|owner (a key without '|' is a bare subject).
            found: dict[str, str] = {}
            for task_id, task in self.tasks.items():
                due = task.due.isoformat() if task.due else ""
                for key in (f"{task.subject.strip()}|{due}|{task.owner_id or ''}", task.subject):
                    if key in wanted:
                        found.setdefault(key, task_id)
            return found
        return {}

    def find_meetings(self, keys: Collection[str]) -> dict[str, ExistingEvent]:
        if not keys:
            return {}
        self._call("find_meetings")
        wanted = set(keys)
        out: dict[str, ExistingEvent] = {}
        for event_id, event in self.events.items():
            key = meeting_key(event.subject, event.start)
            if key in wanted and key not in out:
                owner = event.owner_id or ""
                editable = owner == self.user_id or self.edit_access.get((event_id, self.user_id), False)
                out[key] = ExistingEvent(id=event_id, owner_id=owner, editable=editable)
        return out

    # -- Crm protocol: writes ----------------------------------------------------------------------------
    def apply(self, writes: Sequence[Write]) -> list[WriteResult]:
        return _apply_batches(
            writes,
            self.BATCH,
            lambda: self._call("apply"),
            self._checked_write,
            self.failures,
            self._applied,
            "Salesforce",
        )

    def _checked_write(self, write: Write) -> WriteResult:
        try:
            return self._write(write)
        except ValueError as exc:
            return WriteResult(ok=False, error_code="SF-REQUIRED-FIELD", message=str(exc))

    def _write(self, write: Write) -> WriteResult:
        if isinstance(write, Create):
            return WriteResult(ok=True, id=self._create(write))
        if isinstance(write, Update):
            stream = {
                RecordKind.EVENT: Stream.EVENTS,
                RecordKind.TASK: Stream.TASKS,
                RecordKind.CONTACT: Stream.CONTACTS,
            }[write.kind]
            store = self._store(stream)
            if write.id not in store:
                return WriteResult(ok=False, error_code="SF-NOT-FOUND", message="entity is deleted")
            store[write.id] = _apply_changes(store[write.id], write.changes)
            self._journals[stream].record(write.id)
            return WriteResult(ok=True, id=write.id)
        assert isinstance(write, Delete)
        if write.kind is RecordKind.EVENT_INVITEE:
            # Leaving a colleague's Event: only the user's invitation goes, the Event stays.
            event = self.events.get(write.id)
            if event is None:
                return WriteResult(ok=False, error_code="SF-NOT-FOUND", message="entity is deleted")
            invitees = tuple(i for i in event.invitee_ids if i != self.user_id)
            self.events[write.id] = dataclasses.replace(event, invitee_ids=invitees)
            self._journals[Stream.EVENTS].record(write.id)
            return WriteResult(ok=True, id=write.id)
        for stream in self._journals:
            if write.id in self._store(stream):
                self.remove(stream, write.id)
                return WriteResult(ok=True, id=write.id)
        # Deleting what is already gone counts as done, as the adapter treats ENTITY_IS_DELETED.
        self.emails.pop(write.id, None)
        return WriteResult(ok=True, id=write.id)

    def _create(self, write: Create) -> str:
        record = write.record
        if isinstance(record, EmailActivity):
            new_id = self.new_id("02s" if record.mode.value == "email-message" else "00T")
            self.emails[new_id] = record
            self.email_owners[new_id] = record.owner_id or self.user_id
            return new_id
        if isinstance(record, EventRecord):
            new_id = self.new_id("00U")
            item = dataclasses.replace(
                record.item,
                id=new_id,
                who_ids=record.who_ids,
                what_id=record.what_id,
                owner_id=record.owner_id or self.user_id,
                created_by_rgsync=True,
                description=record.item.description,
            )
            self.put_event(item)
            return new_id
        if isinstance(record, CalendarItem):
            new_id = self.new_id("00U")
            self.put_event(
                dataclasses.replace(
                    record, id=new_id, owner_id=record.owner_id or self.user_id, created_by_rgsync=True
                )
            )
            return new_id
        if isinstance(record, EventInvitee):
            event = self.events[record.event_id]
            self.events[record.event_id] = dataclasses.replace(
                event, invitee_ids=(*event.invitee_ids, record.user_id)
            )
            return record.event_id
        if isinstance(record, TaskItem):
            if not record.subject:
                raise ValueError("Required fields are missing: [Subject]")
            new_id = self.new_id("00T")
            self.put_task(
                dataclasses.replace(
                    record, id=new_id, owner_id=record.owner_id or self.user_id, salesforce_id=None
                )
            )
            return new_id
        if isinstance(record, ContactItem):
            if not record.last_name:
                raise ValueError("Required fields are missing: [LastName]")
            account_id = record.account_id
            if account_id is None and record.company:
                match = [a for a in self.accounts.values() if a.name.lower() == record.company.lower()]
                account_id = match[0].id if match else self.add_account(record.company).id
            new_id = self.new_id("003")
            self.add_contact(
                dataclasses.replace(
                    record,
                    id=new_id,
                    owner_id=record.owner_id or self.user_id,
                    account_id=account_id,
                    salesforce_id=None,
                )
            )
            return new_id
        if isinstance(record, NewAccount):
            return self.add_account(record.name, record.website).id
        if isinstance(record, NewPerson):
            if not record.last_name:
                raise ValueError("Required fields are missing: [LastName]")
            if record.kind is PersonKind.LEAD:
                if not record.company:
                    raise ValueError("Required fields are missing: [Company]")
                person = Person(
                    self.new_id("00Q"),
                    PersonKind.LEAD,
                    record.email,
                    record.first_name,
                    record.last_name,
                    None,
                    record.owner_id or self.user_id,
                )
                self.add_lead(person)
                return person.id
            contact = ContactItem(
                id=self.new_id("003"),
                first_name=record.first_name,
                last_name=record.last_name,
                email=record.email,
                account_id=record.account_id,
                owner_id=record.owner_id or self.user_id,
                company=self.accounts[record.account_id].name
                if record.account_id in self.accounts
                else record.company,
            )
            self.add_contact(contact)
            return contact.id
        raise ValueError(f"cannot create {type(record).__name__}")

    def close(self) -> None:
        return None
