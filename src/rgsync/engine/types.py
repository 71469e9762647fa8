"""What the planner takes and returns. Pure values; no I/O, no clock.

The session gathers these inputs (changes of both sides, links from the state store, lookups from
the org), calls the planner functions of `rgsync.engine`, then carries out the `Plan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from rgsync.model import (
    Account,
    EmailDirection,
    EmailMode,
    ExistingEvent,
    IssueReport,
    Link,
    MarkLabel,
    Opportunity,
    Person,
    Side,
    Stream,
    Write,
)
from rgsync.model import AutoResolve as AutoResolve
from rgsync.model import CalendarDirection as CalendarDirection
from rgsync.model import ContactsScope as ContactsScope

T = TypeVar("T")


# The setting choices are declared once, in `rgsync.model`; `Direction` is the engine's name for
# `email-direction`.
Direction = EmailDirection


@dataclass(frozen=True)
class Blocklist:
    """The effective blocklist: user + org policy entries, free-mail switch, internal domains (SPEC §3.2)."""

    addresses: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    block_free_email_domains: bool = True
    internal_domains: frozenset[str] = frozenset()
    # The maintained free-mail list, handed in by the session (the engine does no I/O or imports of
    # data packages). Auto-resolve never creates records for these domains, blocklisted or not.
    free_mail_domains: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Rules:
    """The effective settings the engine needs, already layered (forced > user > policy > default).

    `email_mode` is `save-emails-as` resolved against the org (auto → EmailMessage when the org
    has Enhanced Email, else Task).
    """

    auto_save_emails: bool = True
    auto_save_threads: bool = False
    email_mode: EmailMode = EmailMode.TASK
    email_direction: Direction = Direction.BOTH
    auto_resolve: AutoResolve = AutoResolve.OFF
    history_days: int = 6
    auto_save_meetings: bool = True
    auto_save_appointments: bool = False
    sync_salesforce_calendar: bool = True
    calendar_direction: CalendarDirection = CalendarDirection.TWO_WAY
    save_private_events: bool = False
    save_unanswered_invitations: bool = False
    calendar_past_days: int = 14
    calendar_future_days: int = 60
    sync_salesforce_tasks: bool = False
    tasks_forbid_remove: bool = True
    tasks_completed_days: int = 14
    sync_salesforce_contacts: bool = True
    contacts_scope: ContactsScope = ContactsScope.MINE
    contacts_view: str = ""
    contacts_forbid_remove: bool = True
    link_to_opportunities: bool = True
    blocklist: Blocklist = field(default_factory=Blocklist)
    max_deletes: int = 50
    save_label: str = "Salesforce"
    thread_label: str = "Salesforce Thread"


@dataclass(frozen=True)
class Identity:
    """Who the user is on both sides: mailbox address and aliases, Salesforce User Id."""

    user_id: str
    address: str
    aliases: frozenset[str] = frozenset()
    time_zone: str = "UTC"


@dataclass(frozen=True)
class Directory:
    """What the org told us, for resolution and linking (SPEC §3.3–§3.5, §4.2).

    `people` maps a lower-cased address to every Contact/unconverted Lead with that Email.
    `accounts_by_domain` maps a domain to an Account whose Website has it (auto-resolve).
    `existing_emails` maps Message-IDs to the Salesforce id of an email already saved in the org.
    `existing_events` maps an event natural key to an Event already in the org (a colleague's).
    """

    people: Mapping[str, tuple[Person, ...]] = field(default_factory=dict)
    accounts: Mapping[str, Account] = field(default_factory=dict)
    opportunities: tuple[Opportunity, ...] = ()
    accounts_by_domain: Mapping[str, Account] = field(default_factory=dict)
    existing_emails: Mapping[str, str] = field(default_factory=dict)
    existing_events: Mapping[str, ExistingEvent] = field(default_factory=dict)


@dataclass(frozen=True)
class ThreadLinks:
    """A tracked thread (SPEC §3.6): the links of its first saved email, reused for the later ones."""

    thread_id: str
    who_ids: tuple[str, ...]
    what_id: str | None


@dataclass(frozen=True)
class SideChanges(Generic[T]):
    """What changed on one side of a stream: `changed` items and ids of `deleted` ones.

    A full listing has already been turned into deletions by the session (linked ids not seen).
    """

    changed: tuple[T, ...] = ()
    deleted: tuple[str, ...] = ()


class SkipReason(StrEnum):
    """Why an item was not synced. Stable codes: shown grouped in summaries and in `--json`."""

    NOT_INBOX_OR_SENT = "not-inbox-or-sent"
    DIRECTION = "direction"
    OUTSIDE_HISTORY_WINDOW = "outside-history-window"
    SERVICE_MESSAGE = "service-message"
    AUTO_SAVE_OFF = "auto-save-off"
    INTERNAL = "internal"
    BLOCKLISTED = "blocklisted"
    NO_RELATED_RECORD = "no-related-record"
    NO_OPPORTUNITY_OR_ACCOUNT = "no-opportunity-or-account"
    ALREADY_SAVED = "already-saved"
    UNREADABLE = "unreadable"
    MEETINGS_OFF = "meetings-off"
    APPOINTMENTS_OFF = "appointments-off"
    UNANSWERED = "unanswered"
    DECLINED = "declined"
    PRIVATE = "private"
    OUTSIDE_WINDOW = "outside-window"
    CANNOT_SYNC = "cannot-sync"
    NOT_OWNER = "not-owner"
    EMAIL_ACTIVITY = "email-activity"
    COMPLETED_LONG_AGO = "completed-long-ago"
    CANCELLED = "cancelled"
    REMOVED_IN_SALESFORCE = "removed-in-salesforce"


@dataclass(frozen=True)
class Skip:
    """An item the planner left alone, with the reason a user would be told."""

    stream: Stream
    item_id: str
    subject: str
    reason: SkipReason


@dataclass(frozen=True)
class LinkChange:
    """How the link of an action's item changes once the action succeeds.

    After a create the new id fills the empty side (`mailbox_id` or `salesforce_id` is '').
    `remove` drops the link (unlink); otherwise the link is stored with `fields` as its new base.
    """

    mailbox_id: str
    salesforce_id: str
    origin: Side
    fields: Mapping[str, str] = field(default_factory=dict)
    natural_key: str = ""
    remove: bool = False
    # With `remove`: the mailbox item stays, and must never be saved again (its Salesforce record
    # was deleted or left the user's scope there); the reason is remembered in the state store.
    do_not_resave: str = ""


@dataclass(frozen=True)
class Action:
    """One planned step: a write on one side (or none, for link-only steps) and its link change."""

    stream: Stream
    side: Side
    write: Write | None
    link: LinkChange | None = None
    subject: str = ""


@dataclass
class Plan:
    """Everything a stream's planning decided, in execution order within each side."""

    actions: list[Action] = field(default_factory=list)
    labels: list[MarkLabel] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    issues: list[IssueReport] = field(default_factory=list)
    tracked_threads: list[ThreadLinks] = field(default_factory=list)

    def extend(self, other: Plan) -> None:
        self.actions += other.actions
        self.labels += other.labels
        self.skips += other.skips
        self.issues += other.issues
        self.tracked_threads += other.tracked_threads

    def deletes(self, stream: Stream, side: Side) -> int:
        """How many deletions the plan makes on one side of one stream (mass-deletion guard, SPEC §7.5)."""
        from rgsync.model import Delete

        return sum(
            1 for a in self.actions if a.stream == stream and a.side == side and isinstance(a.write, Delete)
        )


@dataclass(frozen=True)
class StreamContext:
    """Inputs common to every planner call."""

    identity: Identity
    rules: Rules
    now: datetime
    links: Mapping[str, Link] = field(default_factory=dict)  # by mailbox id
    links_by_salesforce_id: Mapping[str, Link] = field(default_factory=dict)
    first_session: bool = False
    # Mailbox ids → why they must not be saved again (see `LinkChange.do_not_resave`).
    unlinked: Mapping[str, str] = field(default_factory=dict)
