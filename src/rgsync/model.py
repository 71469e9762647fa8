"""Domain records shared by the engine, the providers, the state store and the sandbox.

Everything here is a frozen dataclass or an enum: plain values with no behaviour beyond small
derived properties. Datetimes are always time-zone aware (UTC unless a field says otherwise);
all-day calendar items carry dates (see `CalendarItem`).

Ids: a *mailbox id* is the id the mailbox service gives an item (Gmail message id, EWS ItemId,
Graph id); a *Salesforce id* is an 18-character record Id. A *natural key* identifies an item on
both sides without ids (Internet Message-ID for emails, iCalendar UID + start for meetings, …) and
is what crash recovery searches by (SPEC §7.1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time
from enum import StrEnum
from functools import lru_cache

import idna

# Names of the mailbox labels (Gmail) / categories (Exchange, Microsoft 365) rgsync reads and writes.
LABEL_SAVE = "Salesforce"
LABEL_SAVE_THREAD = "Salesforce Thread"
LABEL_SYNC_ERROR = "Salesforce Sync Error"
# Names of the mailbox containers rgsync down-syncs into (SPEC §5, §6).
TASK_LIST_NAME = "Salesforce Tasks"
CONTACT_FOLDER_NAME = "Salesforce Contacts"


class Stream(StrEnum):
    """The four sync streams of a session (SPEC §2)."""

    EMAILS = "emails"
    EVENTS = "events"
    TASKS = "tasks"
    CONTACTS = "contacts"


class Side(StrEnum):
    """Where an item lives or where a write goes."""

    MAILBOX = "mailbox"
    SALESFORCE = "salesforce"


class Folder(StrEnum):
    """The mailbox folder an email sits in. Only INBOX and SENT are ever candidates (SPEC §3.1)."""

    INBOX = "inbox"
    SENT = "sent"
    DRAFTS = "drafts"
    JUNK = "junk"
    TRASH = "trash"
    OTHER = "other"


class Response(StrEnum):
    """A meeting attendee's answer; ORGANIZER for the one who organises it."""

    ORGANIZER = "organizer"
    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"
    NONE = "none"


class ShowAs(StrEnum):
    """Free/busy status, named as Salesforce's Event.ShowAs picklist."""

    BUSY = "Busy"
    FREE = "Free"
    OUT_OF_OFFICE = "OutOfOffice"


class PersonKind(StrEnum):
    """A people record is a Contact or an (unconverted) Lead."""

    CONTACT = "contact"
    LEAD = "lead"


class EmailMode(StrEnum):
    """How an email is written to Salesforce (setting `save-emails-as` once resolved)."""

    TASK = "task"
    EMAIL_MESSAGE = "email-message"


# The choices of the SPEC §1 settings, declared here once: `settings.schema` offers their values,
# the engine's `Rules` holds them typed.
class SaveEmailsAs(StrEnum):
    """Setting `save-emails-as` (SPEC §3.7): `auto` picks by the org's Enhanced Email."""

    AUTO = "auto"
    TASK = "task"
    EMAIL_MESSAGE = "email-message"

    def resolved(self, enhanced_email: bool) -> EmailMode:
        """The email-mode resolution (SPEC §1, §3.7): `auto` is EmailMessage when the org has
        Enhanced Email, else Task. Kept on the choice itself so the engine (`resolve_email_mode`)
        and the Salesforce adapter (which may not import the engine) apply the one rule."""
        if self is SaveEmailsAs.AUTO:
            return EmailMode.EMAIL_MESSAGE if enhanced_email else EmailMode.TASK
        return EmailMode(self.value)


class EmailDirection(StrEnum):
    """Setting `email-direction` (SPEC §3.1)."""

    BOTH = "both"
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class AutoResolve(StrEnum):
    """Setting `auto-resolve` (SPEC §3.4)."""

    OFF = "off"
    LEAD = "lead"
    CONTACT = "contact"


class CalendarDirection(StrEnum):
    """Setting `calendar-direction` (SPEC §4.6)."""

    TWO_WAY = "two-way"
    MAILBOX_TO_SALESFORCE = "mailbox-to-salesforce"
    SALESFORCE_TO_MAILBOX = "salesforce-to-mailbox"


class ContactsScope(StrEnum):
    """Setting `contacts-scope` (SPEC §6.1)."""

    ALL = "all"
    MINE = "mine"
    VIEW = "view"


class LogLevel(StrEnum):
    """Setting `log-level`: what `rgsync run` writes to its log file."""

    OFF = "off"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"


class MailboxProvider(StrEnum):
    """Setting `mailbox.provider`: which mail service holds the mailbox."""

    GMAIL = "gmail"
    EXCHANGE = "exchange"
    MICROSOFT365 = "microsoft365"
    MEMORY = "memory"


class ExchangeAuth(StrEnum):
    """Setting `mailbox.auth-type`: how to sign in to Exchange."""

    NTLM = "ntlm"
    BASIC = "basic"
    OAUTH = "oauth"


class SalesforceAuth(StrEnum):
    """Setting `salesforce.auth`: how to sign in to Salesforce."""

    SESSION = "session"
    PASSWORD = "password"
    JWT = "jwt"
    OAUTH = "oauth"


@dataclass(frozen=True)
class MailboxConnection:
    """The `[mailbox]` settings table, typed (SPEC §1, §9): which mailbox and how to reach it.

    One field per key of the table, named after it (`time-zone` → `time_zone`); None = not set.
    File paths are absolute. Secrets are never here: they live in the profile's credential store.
    """

    provider: MailboxProvider | None = None
    address: str | None = None
    aliases: tuple[str, ...] = ()
    time_zone: str | None = None
    save_label: str = LABEL_SAVE
    thread_label: str = LABEL_SAVE_THREAD
    error_label: str = LABEL_SYNC_ERROR
    gmail_api_url: str | None = None
    client_secrets_file: str | None = None
    service_account_file: str | None = None
    ews_url: str | None = None
    username: str | None = None
    auth_type: ExchangeAuth = ExchangeAuth.NTLM
    impersonate: bool = False
    graph_url: str | None = None
    authority_url: str | None = None
    tenant_id: str | None = None
    client_id: str | None = None
    ca_file: str | None = None

    def table(self) -> dict[str, object]:
        """The table as the settings file spells it (leaf name → value; lists for list keys)."""
        return _table(self)

    @classmethod
    def from_table(cls, table: Mapping[str, object]) -> MailboxConnection:
        """From a table spelled as the settings file does (`time-zone`, …); missing keys keep defaults."""
        values: dict[str, object] = {}
        for spec in fields(cls):
            value = table.get(spec.name.replace("_", "-"))
            if value is None:
                continue
            if spec.name == "provider":
                value = MailboxProvider(str(value))
            elif spec.name == "auth_type":
                value = ExchangeAuth(str(value).lower())
            elif isinstance(value, list | tuple):
                value = tuple(str(v) for v in value)
            values[spec.name] = value
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SalesforceConnection:
    """The `[salesforce]` settings table, typed (SPEC §1, §9): where and how to sign in."""

    instance_url: str | None = None
    login_url: str = "https://login.salesforce.com"
    username: str | None = None
    api_version: str = "59.0"
    auth: SalesforceAuth = SalesforceAuth.OAUTH
    consumer_key: str | None = None
    private_key_file: str | None = None
    ca_file: str | None = None

    def table(self) -> dict[str, object]:
        """The table as the settings file spells it (leaf name → value)."""
        return _table(self)


def _table(connection: object) -> dict[str, object]:
    out: dict[str, object] = {}
    for spec in fields(connection):  # type: ignore[arg-type]
        name = spec.name
        value = getattr(connection, name)
        if isinstance(value, StrEnum):
            value = value.value
        out[name.replace("_", "-")] = list(value) if isinstance(value, tuple) else value
    return out


class Severity(StrEnum):
    """Issue severity (SPEC §8)."""

    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"


class IssueSource(StrEnum):
    """Which side or part of rgsync an issue comes from (SPEC §8)."""

    MAILBOX = "mailbox"
    SALESFORCE = "salesforce"
    SETTINGS = "settings"
    RGSYNC = "rgsync"


def utc(dt: datetime) -> datetime:
    """Return `dt` in UTC; naive datetimes are refused so no time zone is ever guessed."""
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt!r}: rgsync only handles time-zone aware datetimes")
    return dt.astimezone(UTC)


def day_start(d: date) -> datetime:
    """Midnight UTC of a calendar date: how all-day items carry their dates in `CalendarItem`."""
    return datetime.combine(d, time(0), tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# People and business records (Salesforce side, read for resolution and linking)


@dataclass(frozen=True)
class Address:
    """An email address with its display name. `email` is stored lower-cased and stripped."""

    email: str
    name: str = ""

    @property
    def domain(self) -> str:
        """The part after the last '@' ('' when there is none)."""
        return self.email.rpartition("@")[2] if "@" in self.email else ""


@dataclass(frozen=True)
class Person:
    """A Contact or unconverted Lead found by email address (SPEC §3.3)."""

    id: str
    kind: PersonKind
    email: str
    first_name: str = ""
    last_name: str = ""
    account_id: str | None = None
    owner_id: str | None = None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class Account:
    """A Salesforce Account; `website` as stored (may include scheme or www.)."""

    id: str
    name: str
    website: str = ""


@dataclass(frozen=True)
class Opportunity:
    """An Opportunity as §3.5 needs it: owner, account and the two dates that order candidates."""

    id: str
    name: str
    account_id: str | None
    owner_id: str
    last_modified: datetime
    close_date: date | None = None


# --------------------------------------------------------------------------------------------
# Mailbox items


# The headers every mailbox adapter reads for service-message detection (SPEC §3.1), by their
# lower-case names; `EmailItem.headers` holds those a message has.
SERVICE_HEADERS = (
    "from",
    "return-path",
    "auto-submitted",
    "precedence",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "content-type",
)


@dataclass(frozen=True)
class EmailItem:
    """One email of the mailbox as the emails stream sees it.

    `content_type` is the top-level MIME type (e.g. 'multipart/report' for delivery reports),
    `auto_submitted` the Auto-Submitted header ('' when absent), `item_class` the Exchange item
    class ('' for Gmail), `headers` the `SERVICE_HEADERS` the message has as (lower-case name,
    value) pairs. The engine decides from these whether it is a service message (SPEC §3.1).
    `text_body` may be empty when the email has an HTML body only: whoever needs text renders
    `html_body` then (an adapter need not render it for emails that are never saved).
    `problems` lists what the adapter had to clean up while parsing (malformed headers, bad charsets),
    so the planner can report it; an email whose essentials could not be read at all has `unreadable`
    set to the reason.
    """

    mailbox_id: str
    message_id: str
    thread_id: str
    folder: Folder
    subject: str
    sent_at: datetime
    sender: Address | None
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    text_body: str = ""
    html_body: str = ""
    labels: frozenset[str] = frozenset()
    content_type: str = "text/plain"
    auto_submitted: str = ""
    item_class: str = ""
    in_reply_to: str = ""
    problems: tuple[str, ...] = ()
    unreadable: str = ""
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def participants(self) -> tuple[Address, ...]:
        """From, To and Cc in that order (Bcc is recorded, never matched: SPEC §3.2)."""
        return ((self.sender,) if self.sender else ()) + self.to + self.cc


@dataclass(frozen=True)
class Attendee:
    """A meeting attendee with their answer."""

    address: Address
    response: Response = Response.NONE


@dataclass(frozen=True)
class CalendarItem:
    """A calendar item: a mailbox occurrence or a Salesforce Event, in the same shape.

    Timed items: `start`/`end` are aware datetimes. All-day items (`all_day`): `start`/`end` are
    midnight UTC of the first day and of the day after the last (end exclusive); use `start_day`
    and `end_day`. Recurring series arrive occurrence by occurrence, each with its own `id` and the
    series' `series_id` (SPEC §4.1).

    Mailbox side: `organizer`, `attendees` and `my_response` describe the meeting;
    `salesforce_id` is the origin tag of an item rgsync down-synced (None for the user's own items);
    `timezone_unmapped` names a time zone the adapter could not map (SPEC §4.7).
    Salesforce side: `owner_id`, `who_ids` (people related), `what_id` (business record),
    `invitee_ids` (Users invited) and `created_by_rgsync` (true for Events rgsync up-synced).
    """

    id: str
    subject: str
    start: datetime
    end: datetime
    all_day: bool = False
    location: str = ""
    show_as: ShowAs = ShowAs.BUSY
    description: str = ""
    private: bool = False
    cancelled: bool = False
    ical_uid: str = ""
    series_id: str = ""
    organizer: Address | None = None
    attendees: tuple[Attendee, ...] = ()
    my_response: Response = Response.ORGANIZER
    salesforce_id: str | None = None
    timezone_unmapped: str = ""
    owner_id: str | None = None
    who_ids: tuple[str, ...] = ()
    what_id: str | None = None
    invitee_ids: tuple[str, ...] = ()
    created_by_rgsync: bool = False
    last_modified: datetime | None = None

    @property
    def start_day(self) -> date:
        return self.start.date()

    @property
    def end_day(self) -> date:
        """For all-day items the day after the last day (exclusive end)."""
        return self.end.date()


class Priority(StrEnum):
    """Task priority in Salesforce's words."""

    HIGH = "High"
    NORMAL = "Normal"
    LOW = "Low"


@dataclass(frozen=True)
class TaskItem:
    """A task: a mailbox task in the `Salesforce Tasks` list or a Salesforce Task.

    `due` is a date only (Google Tasks cannot carry a time). Salesforce side: `owner_id`,
    `subtype` (TaskSubtype: 'Task', 'Email', 'Call', …) and `last_modified`.
    Mailbox side: `salesforce_id` is the origin tag for tasks rgsync down-synced.
    """

    id: str
    subject: str
    due: date | None = None
    completed: bool = False
    priority: Priority = Priority.NORMAL
    notes: str = ""
    salesforce_id: str | None = None
    owner_id: str | None = None
    subtype: str = "Task"
    last_modified: datetime | None = None


@dataclass(frozen=True)
class PostalAddress:
    """A postal address in Salesforce's Mailing* parts."""

    street: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""


@dataclass(frozen=True)
class ContactItem:
    """A contact: a mailbox contact in `Salesforce Contacts` or a Salesforce Contact.

    `company` is the Account name on the Salesforce side and the organisation in the mailbox.
    Salesforce side: `owner_id`, `account_id`, `last_modified`.
    Mailbox side: `salesforce_id` is the origin tag for contacts rgsync down-synced.
    """

    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    mobile_phone: str = ""
    title: str = ""
    department: str = ""
    company: str = ""
    mailing: PostalAddress = field(default_factory=PostalAddress)
    notes: str = ""
    salesforce_id: str | None = None
    owner_id: str | None = None
    account_id: str | None = None
    last_modified: datetime | None = None


# --------------------------------------------------------------------------------------------
# Change reading

SyncRecord = EmailItem | CalendarItem | TaskItem | ContactItem


@dataclass(frozen=True)
class Page:
    """One page of changes from one side of one stream.

    `items` were created or changed; `deleted` are ids that disappeared. When `full` is true the
    page belongs to a full listing (first session, or a cursor that expired: `reset`), and the ids
    missing from the whole listing count as deleted only once `last` is true. `cursor` is what to
    store once everything this page covers has been recorded (None mid-way through a listing that
    cannot resume). `total` is how many records the whole listing holds when the service says so
    (the same on every page of it; None when the service gives no count): the progress display
    shows it beside the records read, and nothing else depends on it.
    """

    items: tuple[SyncRecord, ...] = ()
    deleted: tuple[str, ...] = ()
    cursor: str | None = None
    full: bool = False
    last: bool = True
    reset: bool = False
    total: int | None = None


# --------------------------------------------------------------------------------------------
# Writes: what the planner asks for and what a provider reports back


class RecordKind(StrEnum):
    """The kinds of record rgsync writes."""

    EMAIL = "email"  # Task (TaskSubtype Email) or EmailMessage
    EVENT = "event"
    EVENT_INVITEE = "event-invitee"  # EventRelation adding the user to a colleague's Event
    EMAIL_RECIPIENT = "email-recipient"  # EmailMessageRelation adding the user to a colleague's email
    TASK = "task"
    CONTACT = "contact"
    LEAD = "lead"
    ACCOUNT = "account"
    LABEL = "label"  # a mailbox label/category on an email


@dataclass(frozen=True)
class EmailActivity:
    """An email as it is saved to Salesforce (SPEC §3.7)."""

    email: EmailItem
    mode: EmailMode
    who_ids: tuple[str, ...] = ()
    what_id: str | None = None
    owner_id: str | None = None


@dataclass(frozen=True)
class EventRecord:
    """A calendar item as it is saved to Salesforce, with its people and business record."""

    item: CalendarItem
    who_ids: tuple[str, ...] = ()
    what_id: str | None = None
    owner_id: str | None = None


@dataclass(frozen=True)
class NewPerson:
    """A Lead or Contact created by auto-resolve (SPEC §3.4). `account_id`/`company` per kind."""

    kind: PersonKind
    email: str
    first_name: str
    last_name: str
    company: str = ""
    account_id: str | None = None
    owner_id: str | None = None


@dataclass(frozen=True)
class NewAccount:
    """An Account created by auto-resolve, named after an email domain."""

    name: str
    website: str


@dataclass(frozen=True)
class ExistingEvent:
    """An Event already in the org for the same meeting (a colleague's copy, SPEC §4.2).

    `editable` is true when the user may edit it (then the user is added as invitee instead of
    getting an Event of their own).
    """

    id: str
    owner_id: str
    editable: bool


@dataclass(frozen=True)
class EventInvitee:
    """Add a User as invitee of an existing Event (a colleague's copy of the same meeting)."""

    event_id: str
    user_id: str


@dataclass(frozen=True)
class EmailRecipient:
    """Relate a User to an EmailMessage a colleague saved (SPEC §3.7: one record per Message-ID).

    `relation_type` is how the user appears in the email: ToAddress, CcAddress, BccAddress or
    FromAddress; `address` is the user's address as the email shows it.
    """

    email_id: str
    user_id: str
    address: str
    relation_type: str


WriteRecord = (
    EmailActivity
    | EventRecord
    | CalendarItem
    | TaskItem
    | ContactItem
    | NewPerson
    | NewAccount
    | EventInvitee
    | EmailRecipient
)


@dataclass(frozen=True)
class Create:
    """Create one record. `key` is its natural key: what crash recovery searches by (SPEC §7.1)."""

    kind: RecordKind
    key: str
    record: WriteRecord


@dataclass(frozen=True)
class Update:
    """Change some fields of an existing record. `changes` maps domain field names to new values."""

    kind: RecordKind
    id: str
    changes: Mapping[str, object]


@dataclass(frozen=True)
class Delete:
    """Delete one record."""

    kind: RecordKind
    id: str


@dataclass(frozen=True)
class MarkLabel:
    """Add (or remove) a mailbox label/category on an email: the user sees what was saved."""

    mailbox_id: str
    label: str
    remove: bool = False


Write = Create | Update | Delete


@dataclass(frozen=True)
class WriteResult:
    """The outcome of one write, in the order the writes were given.

    On success `id` is the record's id (for creates, the new id). On failure `error_code` is a
    stable code (e.g. 'SF-VALIDATION', 'SF-REQUIRED-FIELD') and `message` the service's words.
    """

    ok: bool
    id: str | None = None
    error_code: str = ""
    message: str = ""


@dataclass(frozen=True)
class ApiUsage:
    """The org's daily API allocation as last reported (Sforce-Limit-Info)."""

    used: int
    limit: int

    @property
    def remaining_percent(self) -> float:
        return 100.0 if self.limit <= 0 else max(0.0, 100.0 * (self.limit - self.used) / self.limit)


@dataclass(frozen=True)
class OrgInfo:
    """What rgsync needs to know about the org and the user, refreshed at most daily."""

    user_id: str
    user_email: str = ""
    enhanced_email: bool = True
    shared_activities: bool = True
    external_id_fields: Mapping[str, str] = field(default_factory=dict)
    fetched_at: datetime | None = None


# --------------------------------------------------------------------------------------------
# Links and issues


@dataclass(frozen=True)
class Link:
    """A pair of items kept in step: mailbox id ↔ Salesforce id in one stream.

    `origin` is the side the item was first created on. `fields` are the values last written to or
    read from both sides (the common base of the three-way comparison in SPEC §4.4), so a change on
    one side can be told from a change on both.
    """

    stream: Stream
    mailbox_id: str
    salesforce_id: str
    origin: Side
    fields: Mapping[str, str] = field(default_factory=dict)
    natural_key: str = ""


@dataclass(frozen=True)
class IssueItem:
    """The item an issue is about, in the user's terms."""

    kind: str = ""
    subject: str = ""
    mailbox_id: str = ""
    salesforce_id: str = ""


@dataclass(frozen=True)
class IssueReport:
    """A problem found during a session, before it is stored (SPEC §8).

    The same `code` on the same item is one issue with a count, not one row per session.
    """

    code: str
    severity: Severity
    source: IssueSource
    message: str
    advice: str = ""
    item: IssueItem = field(default_factory=IssueItem)
    stream: Stream | None = None

    @property
    def dedupe_key(self) -> str:
        it = self.item
        return f"{self.code}|{it.kind}|{it.mailbox_id}|{it.salesforce_id}|{'' if (it.mailbox_id or it.salesforce_id) else it.subject}"


def event_key(subject: str, start: datetime, owner_id: str) -> str:
    """Natural key of an Event: Subject + start + owner (SPEC §7.1), used to find it after a crash."""
    return f"{subject.strip()}|{utc(start).strftime('%Y-%m-%dT%H:%M:%SZ')}|{owner_id}"


def meeting_key(subject: str, start: datetime) -> str:
    """Key to find a colleague's Event for the same meeting: Subject + start (SPEC §4.2)."""
    return f"{subject.strip()}|{utc(start).strftime('%Y-%m-%dT%H:%M:%SZ')}"


# ---------------------------------------------------------------------------------------------
# Comparing addresses and domains (SPEC §3.2)
#
# The blocklist, the org policy, `internal-domains`, the free-mail list and the participants of
# every item must all be compared in one spelling, or `Bücher.example` in a list would not match
# `bob@xn--bcher-kva.example` in a message. The comparison form lives here because both `settings`
# (which validates what users type) and the pure `engine` (which sorts participants) need it, and
# `model` is the one module both may import.

# RFC 5322 atext (plus any non-ASCII character, RFC 6531) in dot-separated runs.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010FFFF]+"
_DOT_ATOM = re.compile(rf"^{_ATEXT}(\.{_ATEXT})*$")
# The comparison forms are pure functions of their text, and a session compares the same few
# thousand correspondents on every email (each address ~15 times): remembering the latest answers
# keeps that to one computation per address. Bounded, so a huge mailbox cannot grow it.
_KEY_CACHE = 16384


@lru_cache(maxsize=_KEY_CACHE)
def canonical_domain(raw: str) -> str:
    """`raw` as a domain in its comparison form: IDNA (UTS 46) ASCII, case-folded, no trailing dot.

    `Bücher.Example`, `BÜCHER.example.` and `XN--BCHER-KVA.example` all give
    `xn--bcher-kva.example`. A leading `@` and surrounding spaces are dropped. Raises `ValueError`
    (an `idna.IDNAError`) when the text cannot be a domain name under IDNA.
    """
    text = raw.strip().lstrip("@").strip().rstrip(".")
    if text.isascii() and "xn--" not in text.lower():
        # Plain ASCII labels map to their lower case under UTS 46; skipping the codec keeps long
        # lists (the free-mail list holds thousands) cheap to compare.
        return text.lower()
    return idna.encode(text, uts46=True).decode("ascii")


@lru_cache(maxsize=_KEY_CACHE)
def domain_key(raw: str) -> str:
    """Like `canonical_domain`, but never fails: a domain IDNA refuses is compared case-folded.

    Mailbox data is whatever senders wrote; an address whose domain IDNA refuses can match no
    (validated) list entry, yet must still be kept and compared consistently.
    """
    try:
        return canonical_domain(raw)
    except ValueError:
        return raw.strip().lstrip("@").strip().rstrip(".").casefold()


def canonical_local_part(raw: str) -> str:
    """The part before '@' in its comparison form: lower case, quotes only where they are needed.

    `"Bob"` and `bob` are the same mailbox (RFC 5321 §4.1.2); `"q u"` keeps its quotes because a
    space needs them. Backslash escapes in a quoted local part are undone, then redone where needed.
    """
    text = raw.strip()
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        inner = re.sub(r"\\(.)", r"\1", text[1:-1])
        if _DOT_ATOM.match(inner):
            return inner.lower()
        return '"' + inner.lower().replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text.lower()


@lru_cache(maxsize=_KEY_CACHE)
def address_key(raw: str) -> str:
    """An address in its comparison form: canonical local part, '@', `domain_key` of the domain.

    Only for comparing: the address a user sees or Salesforce stores keeps the spelling it came with.
    Returns '' when there is no '@'.
    """
    local, at, domain = raw.strip().rpartition("@")
    if not at:
        return ""
    return f"{canonical_local_part(local)}@{domain_key(domain)}"


@dataclass(frozen=True)
class HeldBack:
    """A mailbox item Salesforce refused for good (SPEC §7.7): the refusals in a row, when it is
    next tried, the fingerprint of the item when it was refused and the refusal's code (the
    back-off rules are `engine.backoff`)."""

    attempts: int
    next_attempt: datetime
    fingerprint: str
    code: str = ""
