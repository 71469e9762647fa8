"""The in-memory Salesforce org (see `rgsync.providers.memory`)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from rgsync.model import (
    Account,
    ApiUsage,
    CalendarItem,
    ContactItem,
    Create,
    Delete,
    EmailActivity,
    EventInvitee,
    EventRecord,
    ExistingEvent,
    NewAccount,
    NewPerson,
    Opportunity,
    OrgInfo,
    Page,
    Person,
    PersonKind,
    RecordKind,
    Stream,
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
    ProviderError,
    SavedEmail,
)
from rgsync.providers.memory.common import (
    AppliedWrites,
    FailureInjection,
    Journal,
    apply_batches,
    apply_changes,
    pages_of,
)


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
        self._applied = AppliedWrites()
        self._journals = {s: Journal() for s in (Stream.EVENTS, Stream.TASKS, Stream.CONTACTS)}
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
        store[record_id] = apply_changes(store[record_id], changes)
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
                out[stream] = list(pages_of(items, [], end, True, cursor is not None, 2000))
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
            out[stream] = list(pages_of(items, gone, end, False, False, 2000))
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

    def people_by_id(self, ids: Collection[str]) -> dict[str, Person]:
        wanted = set(ids)
        if not wanted:
            return {}
        self._call("people_by_id")
        return {p.id: p for p in self._people() if p.id in wanted}

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
    def complete_emails(self, emails: Sequence[SavedEmail]) -> list[WriteResult]:
        """Nothing to add: an email activity here carries its people in the one record."""
        return [WriteResult(ok=True, id=e.record_id) for e in emails]

    def apply(self, writes: Sequence[Write]) -> list[WriteResult]:
        return apply_batches(
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
            store[write.id] = apply_changes(store[write.id], write.changes)
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
