"""Every setting rgsync knows, in one table (SPEC §1), plus the account connection tables.

`KEYS` holds the sync settings of SPEC §1, in the order of the Sync Settings page. `MAILBOX_KEYS` and
`SALESFORCE_KEYS` describe the `[mailbox]` and `[salesforce]` connection tables; their flat name is
the dotted TOML path (`mailbox.time-zone`). To add a setting, add one `Key` here: loading, validation,
`settings list|get|set`, the commented template and examples/settings.toml all follow this table.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass
from enum import StrEnum

from rgsync.model import (
    AutoResolve,
    CalendarDirection,
    ContactsScope,
    EmailDirection,
    ExchangeAuth,
    LogLevel,
    MailboxProvider,
    SalesforceAuth,
    SaveEmailsAs,
)
from rgsync.settings.errors import SettingsError, did_you_mean


class KeyType(StrEnum):
    """How a value is written and checked. The string value is what `Key.type` compares equal to."""

    BOOL = "bool"
    INT = "int"
    CHOICE = "choice"
    TEXT = "text"
    ADDRESSES = "addresses"  # list of email addresses
    DOMAINS = "domains"  # list of domains
    ADDRESS = "address"
    URL = "url"
    PATH = "path"
    TIMEZONE = "timezone"
    VERSION = "version"  # Salesforce API version such as 59.0
    STATE_URL = "state-url"  # sqlite:///PATH or postgresql://USER@HOST:PORT/DB, never with a password


@dataclass(frozen=True, eq=False)  # each Key is one module-level constant: identity is equality
class Key:
    """One setting: its flat CLI `name`, its TOML `path`, type, allowed values, default and help line.

    `default` is the built-in value (None = not set). `minimum`/`maximum` bound INT keys. `section` is
    the heading `settings list` groups the key under; `example` is shown commented out in the template
    for keys without a default.
    """

    name: str
    path: tuple[str, ...]
    type: KeyType
    default: object
    help: str
    section: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    example: object = None
    # The enum (in `rgsync.model`) a CHOICE key's words come from; typed values are its members.
    enum: builtins.type[StrEnum] | None = None

    @property
    def dotted(self) -> str:
        """The TOML path written with dots, e.g. `general.emails.auto-save`."""
        return ".".join(self.path)

    @property
    def table(self) -> tuple[str, ...]:
        """The TOML table the key lives in."""
        return self.path[:-1]

    @property
    def leaf(self) -> str:
        """The key's name inside its table."""
        return self.path[-1]


def _choices(choice: type[StrEnum]) -> tuple[str, ...]:
    """A choice setting's words, from its enum in `rgsync.model` (declared there once)."""
    return tuple(member.value for member in choice)


def _k(
    name: str,
    path: str,
    type_: KeyType,
    default: object,
    help_: str,
    section: str,
    *,
    choices: type[StrEnum] | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    example: object = None,
) -> Key:
    return Key(
        name=name,
        path=tuple(path.split(".")),
        type=type_,
        default=default,
        help=help_,
        section=section,
        choices=_choices(choices) if choices is not None else (),
        enum=choices,
        minimum=minimum,
        maximum=maximum,
        example=example,
    )


B, N, C, T = KeyType.BOOL, KeyType.INT, KeyType.CHOICE, KeyType.TEXT
EMAILS, EVENTS, TASKS, CONTACTS = "General: emails", "General: events", "General: tasks", "General: contacts"
LINKING, BLOCKLIST, SYNC = "Linking", "Blocklist", "Sync"

# fmt: off
KEYS: tuple[Key, ...] = (
    _k("auto-save-emails", "general.emails.auto-save", B, True,
       "save relevant Inbox/Sent emails automatically", EMAILS),
    _k("auto-save-threads", "general.emails.auto-save-threads", B, False,
       "save every later email of a thread that is already saved", EMAILS),
    _k("save-emails-as", "general.emails.save-as", C, "auto",
       "auto = EmailMessage when the org has Enhanced Email, else Task", EMAILS,
       choices=SaveEmailsAs),
    _k("email-direction", "general.emails.direction", C, "both",
       "which emails auto-saving considers", EMAILS, choices=EmailDirection),
    _k("auto-resolve", "general.emails.auto-resolve", C, "off",
       "create a Lead or Contact for an unresolved external address", EMAILS,
       choices=AutoResolve),
    _k("history-days", "general.emails.history-days", N, 6,
       "on the first session, emails this many days back are considered", EMAILS, minimum=0, maximum=60),
    _k("auto-save-meetings", "general.events.auto-save-meetings", B, True,
       "save meetings (calendar items with attendees)", EVENTS),
    _k("auto-save-appointments", "general.events.auto-save-appointments", B, False,
       "save appointments (calendar items without attendees)", EVENTS),
    _k("sync-salesforce-calendar", "general.events.sync-salesforce-calendar", B, True,
       "down-sync Salesforce Events to the mailbox calendar", EVENTS),
    _k("calendar-direction", "general.events.direction", C, "two-way",
       "one-way sync option for calendar items", EVENTS,
       choices=CalendarDirection),
    _k("save-private-events", "general.events.save-private", B, False,
       "also save calendar items marked private", EVENTS),
    _k("save-unanswered-invitations", "general.events.save-unanswered", B, False,
       "also save meetings you have not answered", EVENTS),
    _k("calendar-past-days", "general.events.window-past-days", N, 14,
       "sync window start, days before today", EVENTS, minimum=0, maximum=365),
    _k("calendar-future-days", "general.events.window-future-days", N, 60,
       "sync window end, days after today", EVENTS, minimum=0, maximum=730),
    _k("sync-salesforce-tasks", "general.tasks.sync-salesforce-tasks", B, False,
       "down-sync your Salesforce Tasks to the mailbox", TASKS),
    _k("tasks-forbid-remove", "general.tasks.forbid-remove", B, True,
       "deleting a task in the mailbox does not delete it in Salesforce", TASKS),
    _k("tasks-completed-days", "general.tasks.completed-window-days", N, 14,
       "completed tasks due or modified this many days back are still synced", TASKS, minimum=0, maximum=365),
    _k("sync-salesforce-contacts", "general.contacts.sync-salesforce-contacts", B, True,
       "down-sync Salesforce Contacts to the mailbox", CONTACTS),
    _k("contacts-scope", "general.contacts.scope", C, "mine",
       "which Contacts: all, the ones you own, or a list view", CONTACTS, choices=ContactsScope),
    _k("contacts-view", "general.contacts.view", T, "",
       "Salesforce list view (name or Id) used when contacts-scope is view", CONTACTS),
    _k("contacts-forbid-remove", "general.contacts.forbid-remove", B, True,
       "deleting a contact in the mailbox does not delete it in Salesforce", CONTACTS),
    _k("link-to-opportunities", "linking.link-to-opportunities", B, True,
       "link auto-saved emails and meetings to Opportunities", LINKING),
    _k("blocklist-addresses", "blocklist.addresses", KeyType.ADDRESSES, [],
       "addresses never saved, never linked, never auto-resolved", BLOCKLIST),
    _k("blocklist-domains", "blocklist.domains", KeyType.DOMAINS, [],
       "the same for a whole domain (exact domain, no wildcards)", BLOCKLIST),
    _k("block-free-email-domains", "blocklist.block-free-email-domains", B, True,
       "treat free mail services (gmail.com, outlook.com, …) as blocklisted", BLOCKLIST),
    _k("internal-domains", "blocklist.internal-domains", KeyType.DOMAINS, [],
       "your company's other domains; the mailbox's own domain is always internal", BLOCKLIST),
    _k("max-deletes", "sync.max-deletes", N, 50,
       "mass-deletion guard: most deletions per stream and side in one session", SYNC,
       minimum=0, maximum=100_000),
    _k("interval-minutes", "sync.interval-minutes", N, 30,
       "a cron-started run that is not yet due does nothing (0 = always due)", SYNC, minimum=0, maximum=1440),
    _k("min-api-remaining", "sync.min-api-remaining-percent", N, 10,
       "stop before the org's daily API allocation falls below this percentage", SYNC, minimum=0, maximum=100),
    _k("log-level", "sync.log-level", C, "info",
       "what `rgsync run` writes to its log file (off = no log file; --log-level overrides)", SYNC,
       choices=LogLevel),
)
# fmt: on

MAILBOX, SALESFORCE = "Mailbox connection", "Salesforce connection"

# fmt: off
MAILBOX_KEYS: tuple[Key, ...] = (
    _k("mailbox.provider", "mailbox.provider", C, None, "which mail service holds the mailbox", MAILBOX,
       choices=MailboxProvider, example="gmail"),
    _k("mailbox.address", "mailbox.address", KeyType.ADDRESS, None, "the mailbox's primary address", MAILBOX,
       example="you@example.com"),
    _k("mailbox.aliases", "mailbox.aliases", KeyType.ADDRESSES, [],
       "other addresses of the same mailbox (treated as you)", MAILBOX),
    _k("mailbox.time-zone", "mailbox.time-zone", KeyType.TIMEZONE, None,
       "IANA time zone for calendar items (default: the mailbox's own)", MAILBOX, example="Europe/Berlin"),
    _k("mailbox.save-label", "mailbox.save-label", T, "Salesforce",
       "label/category put on items saved to Salesforce", MAILBOX),
    _k("mailbox.thread-label", "mailbox.thread-label", T, "Salesforce Thread",
       "label/category that marks a thread whose later emails are saved", MAILBOX),
    _k("mailbox.error-label", "mailbox.error-label", T, "Salesforce Sync Error",
       "label/category put on items that could not be saved", MAILBOX),
    _k("mailbox.gmail-api-url", "mailbox.gmail-api-url", KeyType.URL, None,
       "Gmail: API root override (default: Google's)", MAILBOX, example="https://gmail.googleapis.com/"),
    _k("mailbox.client-secrets-file", "mailbox.client-secrets-file", KeyType.PATH, None,
       "Gmail: OAuth client file of an installed app", MAILBOX, example="~/client_secret.json"),
    _k("mailbox.service-account-file", "mailbox.service-account-file", KeyType.PATH, None,
       "Gmail: service account key file (Google Workspace domain-wide delegation)", MAILBOX,
       example="~/service-account.json"),
    _k("mailbox.ews-url", "mailbox.ews-url", KeyType.URL, None,
       "Exchange: EWS endpoint (default: autodiscover)", MAILBOX,
       example="https://mail.example.com/EWS/Exchange.asmx"),
    _k("mailbox.username", "mailbox.username", T, None, "Exchange: sign-in name (default: the address)",
       MAILBOX, example="EXAMPLE\\you"),
    _k("mailbox.auth-type", "mailbox.auth-type", C, "ntlm", "Exchange: how to sign in", MAILBOX,
       choices=ExchangeAuth),
    _k("mailbox.impersonate", "mailbox.impersonate", B, False,
       "Exchange: act on the mailbox through impersonation (service account)", MAILBOX),
    _k("mailbox.graph-url", "mailbox.graph-url", KeyType.URL, None,
       "Microsoft 365: Graph API root override", MAILBOX, example="https://graph.microsoft.com/v1.0"),
    _k("mailbox.authority-url", "mailbox.authority-url", KeyType.URL, None,
       "Microsoft 365: sign-in authority override", MAILBOX, example="https://login.microsoftonline.com"),
    _k("mailbox.tenant-id", "mailbox.tenant-id", T, None, "Microsoft 365: directory (tenant) Id", MAILBOX,
       example="organizations"),
    _k("mailbox.client-id", "mailbox.client-id", T, None, "Microsoft 365: application (client) Id",
       MAILBOX, example="00000000-0000-0000-0000-000000000000"),
    _k("mailbox.ca-file", "mailbox.ca-file", KeyType.PATH, None,
       "extra CA certificates (PEM) to trust for the mail service", MAILBOX, example="~/corp-ca.pem"),
)
# fmt: on

# fmt: off
SALESFORCE_KEYS: tuple[Key, ...] = (
    _k("salesforce.instance-url", "salesforce.instance-url", KeyType.URL, None,
       "your org's My Domain URL", SALESFORCE, example="https://example.my.salesforce.com"),
    _k("salesforce.login-url", "salesforce.login-url", KeyType.URL, "https://login.salesforce.com",
       "where to sign in (use https://test.salesforce.com for a sandbox org)", SALESFORCE),
    _k("salesforce.username", "salesforce.username", T, None, "your Salesforce username", SALESFORCE,
       example="you@example.com"),
    _k("salesforce.api-version", "salesforce.api-version", KeyType.VERSION, "59.0",
       "REST API version", SALESFORCE),
    _k("salesforce.auth", "salesforce.auth", C, "oauth", "how to sign in", SALESFORCE,
       choices=SalesforceAuth),
    _k("salesforce.consumer-key", "salesforce.consumer-key", T, None,
       "connected app consumer key (for jwt and oauth)", SALESFORCE, example="3MVG9..."),
    _k("salesforce.private-key-file", "salesforce.private-key-file", KeyType.PATH, None,
       "jwt: file holding the connected app's private key", SALESFORCE, example="~/salesforce-jwt.key"),
    _k("salesforce.ca-file", "salesforce.ca-file", KeyType.PATH, None,
       "extra CA certificates (PEM) to trust for Salesforce", SALESFORCE, example="~/corp-ca.pem"),
)
# fmt: on

CONNECTION_TABLES: dict[str, tuple[Key, ...]] = {"mailbox": MAILBOX_KEYS, "salesforce": SALESFORCE_KEYS}
"""The account connection tables (SPEC §1, §9): table name → its keys. Extend by adding a table here."""

STATE = "State"
# Where the state lives (not a sync setting of SPEC §1, so not in KEYS): `[sync] state-url = "…"`.
STATE_KEYS: tuple[Key, ...] = (
    _k("state-url", "sync.state-url", KeyType.STATE_URL, None,
       "where rgsync keeps its state: a SQLite file (the default) or a shared PostgreSQL database", STATE,
       example="postgresql://rgsync@db.example.com:5432/rgsync"),
)  # fmt: skip

ALL_KEYS: tuple[Key, ...] = KEYS + MAILBOX_KEYS + SALESFORCE_KEYS + STATE_KEYS

_BY_NAME: dict[str, Key] = {k.name: k for k in ALL_KEYS}
_BY_PATH: dict[tuple[str, ...], Key] = {k.path: k for k in ALL_KEYS}

_SECRET = re.compile(r"pass(word|wd|phrase)?|token|secret|private-?key|api-?key|credential", re.IGNORECASE)
_FILE_SUFFIX = re.compile(r"[-_.](file|path|dir|folder)$", re.IGNORECASE)


def looks_like_secret(name: str) -> bool:
    """True for a key named like a secret's contents (password, token, secret, private key).

    A key naming a file that holds one (`private-key-file`, `client-secrets-file`) is not a secret.
    """
    leaf = name.rsplit(".", 1)[-1]
    return bool(_SECRET.search(leaf)) and not _FILE_SUFFIX.search(leaf)


def secret_refusal(name: str) -> str:
    """The one-line refusal for a secret-looking key, pointing to `rgsync connect` (SPEC §9)."""
    table = name.split(".", 1)[0] if "." in name else ""
    target = {"salesforce": "salesforce", "mailbox": "gmail|exchange|microsoft365"}.get(table, "…")
    return (
        f"'{name}' looks like a secret, and secrets never go in settings — run `rgsync connect {target}`, "
        "which keeps them in the OS keyring (SPEC §9)"
    )


def key_by_name(name: str) -> Key:
    """Find a key by its CLI name (`history-days`) or dotted TOML path (`general.emails.history-days`).

    Raises `SettingsError` with the closest valid name when there is no such key, and the `rgsync
    connect` hint when the name looks like a secret.
    """
    clean = name.strip()
    found = _BY_NAME.get(clean) or _BY_NAME.get(clean.lower())
    if found is None:
        found = _BY_PATH.get(tuple(clean.lower().split(".")))
    if found is not None:
        return found
    if looks_like_secret(clean):
        raise SettingsError(secret_refusal(clean), key=clean)
    candidates = [k.name for k in ALL_KEYS] + [k.dotted for k in KEYS]
    hint = did_you_mean(clean, candidates) or "; `rgsync settings list` shows them all"
    raise SettingsError(f"unknown setting '{clean}'{hint}", key=clean)


def table_paths() -> frozenset[tuple[str, ...]]:
    """Every table a settings file may hold (`general`, `general.emails`, …, `mailbox`, `salesforce`)."""
    tables: set[tuple[str, ...]] = set()
    for k in ALL_KEYS:
        for depth in range(1, len(k.path)):
            tables.add(k.path[:depth])
    return frozenset(tables)
