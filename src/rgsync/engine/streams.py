"""One entry per stream: which streams run, what each needs looked up, and its plan (SPEC §2–§6).

The session asks `streams_to_run`, then for each stream `needs(stream, …)` (what to look up in the
org), fetches that, and hands it to `plan(stream, …)`. Between the two it may add the business
records `business_records_needed` names and, for emails, the people auto-resolve created.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from rgsync.engine import calendar as calendar_rules
from rgsync.engine import contacts as contact_rules
from rgsync.engine import emails as email_rules
from rgsync.engine import tasks as task_rules
from rgsync.engine.types import Action, Directory, Plan, Rules, SideChanges, StreamContext, ThreadLinks
from rgsync.model import (
    CalendarItem,
    ContactItem,
    Create,
    EmailItem,
    NewAccount,
    NewPerson,
    Person,
    PersonKind,
    Stream,
    SyncRecord,
    TaskItem,
)

R = TypeVar("R")
TWO_WAY = (Stream.EVENTS, Stream.TASKS, Stream.CONTACTS)


def streams_to_run(
    rules: Rules, has_links: Mapping[Stream, bool], *, manual: bool = False
) -> tuple[Stream, ...]:
    """The enabled streams of a session, in SPEC §2 order (step 4).

    Emails always run: manual saves by label work with auto-save off (SPEC §3.6). A two-way stream
    runs when its switch is on (events: down-sync, meetings or appointments), or while it still has
    links to clean up after a switch-off (SPEC §4.3, §5, §6.2). A manual save (`rgsync save`) runs
    emails alone.
    """
    if manual:
        return (Stream.EMAILS,)
    switched_on = {
        Stream.EVENTS: rules.sync_salesforce_calendar
        or rules.auto_save_meetings
        or rules.auto_save_appointments,
        Stream.TASKS: rules.sync_salesforce_tasks,
        Stream.CONTACTS: rules.sync_salesforce_contacts,
    }
    return (Stream.EMAILS, *(s for s in TWO_WAY if switched_on[s] or has_links.get(s, False)))


@dataclass(frozen=True)
class EmailInputs:
    """What the emails stream plans with besides the changes: the tracked threads (SPEC §3.6) and
    the mailbox ids the user saved by hand (`rgsync save`, with `--thread` for `manual_thread`)."""

    tracked: Mapping[str, ThreadLinks] = field(default_factory=dict)
    manual: tuple[str, ...] = ()
    manual_thread: tuple[str, ...] = ()


@dataclass(frozen=True)
class StreamNeeds:
    """What a stream's plan needs looked up in the org first (SPEC §3.3, §3.7, §4.2).

    `addresses`: participants to resolve among Contacts and unconverted Leads; `message_ids`:
    emails that may be saved already; `meeting_keys`: meetings a colleague may have saved.
    """

    addresses: frozenset[str] = frozenset()
    message_ids: frozenset[str] = frozenset()
    meeting_keys: frozenset[str] = frozenset()


def needs(
    stream: Stream, mailbox: SideChanges[SyncRecord], ctx: StreamContext, emails: EmailInputs | None = None
) -> StreamNeeds:
    """What `plan(stream, …)` needs looked up for these mailbox changes. Tasks and contacts need
    nothing: both sides are read whole."""
    if stream is Stream.EMAILS:
        inputs = emails or EmailInputs()
        items = [i for i in mailbox.changed if isinstance(i, EmailItem)]
        found = email_rules.email_lookups(
            items, ctx, inputs.tracked, inputs.manual, manual_thread=inputs.manual_thread
        )
        return StreamNeeds(addresses=found.addresses, message_ids=found.message_ids)
    if stream is Stream.EVENTS:
        events = [i for i in mailbox.changed if isinstance(i, CalendarItem)]
        wanted = calendar_rules.event_lookups(events, ctx)
        return StreamNeeds(addresses=wanted.addresses, meeting_keys=wanted.meeting_keys)
    return StreamNeeds()


def plan(
    stream: Stream,
    mailbox: SideChanges[SyncRecord],
    salesforce: SideChanges[SyncRecord],
    directory: Directory,
    ctx: StreamContext,
    emails: EmailInputs | None = None,
) -> Plan:
    """The plan of one stream (SPEC §3 emails, §4 events, §5 tasks, §6 contacts)."""
    if stream is Stream.EMAILS:
        inputs = emails or EmailInputs()
        items = [i for i in mailbox.changed if isinstance(i, EmailItem)]
        return email_rules.plan_emails(
            items, directory, ctx, inputs.tracked, inputs.manual, inputs.manual_thread
        )
    if stream is Stream.EVENTS:
        return calendar_rules.plan_events(
            _of(mailbox, CalendarItem), _of(salesforce, CalendarItem), directory, ctx
        )
    if stream is Stream.TASKS:
        return task_rules.plan_tasks(_of(mailbox, TaskItem), _of(salesforce, TaskItem), ctx)
    return contact_rules.plan_contacts(_of(mailbox, ContactItem), _of(salesforce, ContactItem), ctx)


def _of(changes: SideChanges[SyncRecord], kind: type[R]) -> SideChanges[R]:
    return SideChanges(tuple(i for i in changes.changed if isinstance(i, kind)), changes.deleted)


@dataclass(frozen=True)
class BusinessRecordNeeds:
    """Which business records linking needs (SPEC §3.5): the matched Contacts' Accounts, and
    whether to ask for the user's Opportunities on them."""

    account_ids: frozenset[str] = frozenset()
    opportunities: bool = False


def business_records_needed(people: Mapping[str, Sequence[Person]], rules: Rules) -> BusinessRecordNeeds:
    """Which business records to look up for linking (SPEC §3.5): the Accounts of matched Contacts
    (Leads have none), and the user's Opportunities on them when `link-to-opportunities` is on.
    Without a matched Contact that has an Account nothing is looked up."""
    accounts = frozenset(
        p.account_id
        for found in people.values()
        for p in found
        if p.kind is PersonKind.CONTACT and p.account_id
    )
    return BusinessRecordNeeds(accounts, opportunities=bool(accounts) and rules.link_to_opportunities)


def bind_new_contacts(persons: Iterable[Action], new_accounts: Mapping[str, str]) -> list[Action]:
    """Auto-resolve (SPEC §3.4): a new Contact whose Account is created in the same session gets
    that Account's Id once it is known. `new_accounts` maps the created Accounts' Website domain
    (or name) to their Id; a Contact is matched by its address's domain, else by its company."""
    out: list[Action] = []
    for action in persons:
        write = action.write
        record = write.record if isinstance(write, Create) else None
        if (
            isinstance(write, Create)
            and isinstance(record, NewPerson)
            and record.kind is PersonKind.CONTACT
            and record.account_id is None
        ):
            domain = record.email.rpartition("@")[2]
            if account_id := new_accounts.get(domain) or new_accounts.get(record.company):
                action = replace(action, write=replace(write, record=replace(record, account_id=account_id)))
        out.append(action)
    return out


def new_account_key(action: Action) -> str | None:
    """The key `bind_new_contacts` knows a created Account by (its Website domain), if the action
    creates an Account."""
    write = action.write
    if isinstance(write, Create) and isinstance(write.record, NewAccount):
        return write.record.website
    return None
