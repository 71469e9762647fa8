"""Scenario files: a user, their Salesforce org and their mailbox, described in TOML for the sandbox.

`load_scenario(path)` reads and checks a scenario file (every problem is reported with the file,
the line and the field, exit 2) and returns a `Scenario`. `Scenario.salesforce_scenario()` and
`Scenario.google_scenario()` turn it into the data the Salesforce and Google emulators load.

The format is documented at the top of `examples/scenarios/demo.toml`. In short:

* `[scenario]` name and description; `[user]` the mailbox owner; `[settings]` tables copied into
  the settings file the sandbox writes (same tables and keys as a settings file).
* `[org]` switches, then `[[org.users]]`, `[[org.accounts]]`, `[[org.contacts]]`, `[[org.leads]]`,
  `[[org.opportunities]]`, `[[org.events]]`, `[[org.tasks]]` with Salesforce field names,
  `[[org.list-views]]`, `[[org.custom-fields]]`, `[[org.validation-rules]]`. A value `"@key"`
  refers to another record (or user) by its `key`.
* `[[mailbox.emails]]` (fields or `raw` RFC 822), `[[mailbox.calendar]]`, `[[mailbox.tasks]]`,
  `[[mailbox.contacts]]`.

Times may be relative to the moment the scenario is loaded (`"-2d 10:00"`, `"+1d 09:00"`, `"-3h"`,
`"today"`), so a demo always shows fresh data inside the sync windows.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rgsync.sandbox.salesforce.schema import SObjectType, standard_objects
from rgsync.sandbox.scenario_toml import (
    Clock,
    PathKey,
    Positions,
    Reader,
    ScenarioError,
    did_you_mean,
    parse_duration,
    parse_when,
)

__all__ = [
    "EmailEntry",
    "Scenario",
    "ScenarioError",
    "ScenarioUser",
    "load_scenario",
    "parse_scenario",
]

# [org] list name → Salesforce object
ORG_OBJECTS: dict[str, str] = {
    "accounts": "Account",
    "contacts": "Contact",
    "leads": "Lead",
    "opportunities": "Opportunity",
    "events": "Event",
    "tasks": "Task",
}
USER_FIELDS = (
    "key",
    "Name",
    "FirstName",
    "LastName",
    "Email",
    "Username",
    "Alias",
    "Title",
    "TimeZoneSidKey",
)
FOLDER_LABELS: dict[str, tuple[str, ...]] = {
    "inbox": ("INBOX",),
    "sent": ("SENT",),
    "spam": ("SPAM",),
    "drafts": ("DRAFT",),
    "trash": ("TRASH",),
    "archive": (),
}
RESPONSES = {
    "accepted": "accepted",
    "tentative": "tentative",
    "declined": "declined",
    "needs-action": "needsAction",
    "unanswered": "needsAction",
}
EMAIL_FIELDS = (
    "key", "folder", "from", "to", "cc", "bcc", "subject", "when", "body", "html", "headers", "labels",
    "thread", "message-id", "in-reply-to", "raw",
)  # fmt: skip
RAW_EMAIL_FIELDS = ("key", "folder", "when", "labels", "thread", "raw")
CALENDAR_FIELDS = (
    "key", "subject", "start", "end", "duration", "organizer", "attendees", "response", "private",
    "location", "description", "recurrence", "show-as", "cancelled", "uid",
)  # fmt: skip
TASK_FIELDS = ("key", "list", "title", "notes", "due", "completed")
CONTACT_FIELDS = (
    "key", "first-name", "last-name", "emails", "phones", "company", "title", "department", "notes",
)  # fmt: skip
DEFAULT_TASK_LIST = "My Tasks"
_SAFE_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class ScenarioUser:
    """The mailbox owner: name, addresses, time zone and their Salesforce user's key."""

    name: str
    address: str
    aliases: tuple[str, ...]
    time_zone: str
    salesforce_user: str


@dataclass(frozen=True)
class EmailEntry:
    """One mailbox email, ready for the Google emulator (raw RFC 822 plus labels and thread alias)."""

    key: str
    raw: str
    labels: tuple[str, ...]
    thread: str | None
    message_id: str
    subject: str
    sent_at: datetime


@dataclass
class Scenario:
    """A checked scenario, with every relative time resolved against `now`.

    `settings` holds the tables to copy into the settings file; `records` the org's records per
    Salesforce object (field values already in Salesforce's wire format, references as `@key`);
    `emails`, `calendar`, `tasks` and `contacts` the mailbox content in the Google APIs' shapes.
    """

    file: Path | None
    name: str
    description: str
    now: datetime
    user: ScenarioUser
    settings: dict[str, Any]
    org: dict[str, Any]
    users: list[dict[str, Any]]
    records: dict[str, list[dict[str, Any]]]
    list_views: list[dict[str, Any]]
    custom_fields: list[dict[str, Any]]
    validation_rules: list[dict[str, Any]]
    emails: list[EmailEntry]
    calendar: list[dict[str, Any]]
    tasks: dict[str, list[dict[str, Any]]]
    contacts: list[dict[str, Any]]
    reader: Reader = field(repr=False)

    def fail(self, path: PathKey, problem: str) -> ScenarioError:
        """A located error about the value at `path` of this scenario file (used by the sandbox)."""
        return self.reader.fail(path, problem)

    def salesforce_scenario(self) -> dict[str, Any]:
        """The Salesforce emulator's scenario data: org switches, users, records, list views, rules.

        The scenario user comes first: the emulator signs the first user in as the API user.
        """
        external: dict[str, list[dict[str, Any]]] = {}
        for custom in self.custom_fields:
            external.setdefault(custom["object"], []).append(
                {"name": custom["name"], "external_id": custom["external_id"]}
            )
        users = sorted(self.users, key=lambda u: u["key"] != self.user.salesforce_user)
        return {
            "org": {
                "name": self.org["name"],
                "enhanced_email": self.org["enhanced_email"],
                "shared_activities": self.org["shared_activities"],
                "api_limit": self.org["api_limit"],
                "external_id_fields": external,
            },
            "users": [dict(u) for u in users],
            "records": {name: [dict(r) for r in rows] for name, rows in self.records.items()},
            "list_views": [dict(v) for v in self.list_views],
            "validation_rules": [dict(r) for r in self.validation_rules],
        }

    def google_scenario(self) -> dict[str, Any]:
        """The Google emulator's scenario data: the user, messages, calendar events, tasks, contacts."""
        return {
            "user": {"address": self.user.address, "timeZone": self.user.time_zone},
            "messages": [
                {
                    "raw": e.raw,
                    "labels": list(e.labels),
                    "thread": e.thread,
                    "internalDate": int(e.sent_at.timestamp() * 1000),
                }
                for e in self.emails
            ],
            "events": [_without_key(e) for e in self.calendar],
            "tasks": {title: [_without_key(t) for t in items] for title, items in self.tasks.items()},
            "contacts": [_without_key(c) for c in self.contacts],
        }

    def user_record_key(self) -> str:
        """The `key` of the scenario user's Salesforce User record."""
        return self.user.salesforce_user


def load_scenario(path: str | Path, *, now: datetime | None = None) -> Scenario:
    """Read and check the scenario file at `path`; relative times are resolved against `now`.

    Raises `ScenarioError` (a `UsageError`, exit 2) naming the file, the line and the field.
    """
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError(
            f"no scenario file at {file}; `rgsync sandbox serve --scenario FILE` needs one", file=file
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read the scenario file {file}: {exc}", file=file) from None
    return parse_scenario(text, file, now=now)


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def parse_scenario(text: str, file: Path | None = None, *, now: datetime | None = None) -> Scenario:
    """Check a scenario given as TOML text; `file` is only used to name it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_POSITION.search(message)
        where = str(file) if file is not None else "scenario"
        if found:
            line = int(found.group(1))
            detail = f"{_TOML_POSITION.sub('', message)} (column {found.group(2)})"
            raise ScenarioError(
                f"{where} line {line}: not valid TOML: {detail}", file=file, line=line
            ) from None
        raise ScenarioError(f"{where}: not valid TOML: {message}", file=file) from None
    reader = Reader(file, Positions(text))
    return _Builder(data, reader, now or datetime.now(UTC)).build()


# --------------------------------------------------------------------------------------------


class _Builder:
    """Checks the parsed document section by section and converts it."""

    def __init__(self, data: dict[str, Any], reader: Reader, now: datetime) -> None:
        self.data = data
        self.r = reader
        self.now = now.astimezone(UTC)
        self.objects: dict[str, SObjectType] = standard_objects()
        self.keys: dict[str, str] = {}  # record key → object name (users included)
        self.references: list[tuple[PathKey, str]] = []
        self.clock = Clock(self.now, ZoneInfo("UTC"))

    def build(self) -> Scenario:
        r = self.r
        r.table(self.data, (), ("scenario", "user", "settings", "org", "mailbox"))
        head = r.section(self.data, (), "scenario")
        r.table(head, ("scenario",), ("name", "description"))
        user = self._user()
        settings = r.section(self.data, (), "settings")
        for reserved in ("mailbox", "salesforce"):
            if reserved in settings:
                raise r.fail(
                    ("settings", reserved),
                    f"the sandbox writes [{reserved}] itself; describe the user in [user] instead",
                )
        org_data = r.section(self.data, (), "org")
        org, users, custom_fields = self._org_head(org_data)
        if user.salesforce_user not in {u["key"] for u in users}:
            known = [u["key"] for u in users]
            raise r.fail(
                ("user", "salesforce-user"),
                f"no [[org.users]] entry has key '{user.salesforce_user}'{did_you_mean(user.salesforce_user, known) if known else ''}",
            )
        records = {obj: self._records(org_data, name, obj, user) for name, obj in ORG_OBJECTS.items()}
        list_views = self._list_views(org_data)
        rules = self._validation_rules(org_data)
        for path, target in self.references:
            if target not in self.keys:
                raise r.fail(
                    path, f"'@{target}' refers to no record or user{did_you_mean(target, self.keys)}"
                )
        mailbox = r.section(self.data, (), "mailbox")
        r.table(mailbox, ("mailbox",), ("emails", "calendar", "tasks", "contacts"))
        return Scenario(
            file=r.file,
            name=r.text(head, ("scenario",), "name", r.file.stem if r.file else "scenario"),
            description=r.text(head, ("scenario",), "description", ""),
            now=self.now,
            user=user,
            settings=settings,
            org=org,
            users=users,
            records={obj: rows for obj, rows in records.items() if rows},
            list_views=list_views,
            custom_fields=custom_fields,
            validation_rules=rules,
            emails=self._emails(mailbox, user),
            calendar=self._calendar(mailbox, user),
            tasks=self._tasks(mailbox),
            contacts=self._contacts(mailbox),
            reader=r,
        )

    # -- user --------------------------------------------------------------------------------
    def _user(self) -> ScenarioUser:
        r = self.r
        if "user" not in self.data:
            raise r.fail((), "the [user] table is missing (name, address, time-zone, salesforce-user)")
        data = r.section(self.data, (), "user")
        path: PathKey = ("user",)
        r.table(data, path, ("name", "address", "aliases", "time-zone", "salesforce-user"))
        zone_name = r.text(data, path, "time-zone", "UTC")
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise r.fail(
                (*path, "time-zone"), f"'{zone_name}' is not an IANA time zone (e.g. Europe/Berlin)"
            ) from None
        self.clock = Clock(self.now, zone)
        address = _address(r, data, path, "address")
        aliases = tuple(
            _address_text(r, (*path, "aliases", n), a) for n, a in enumerate(r.texts(data, path, "aliases"))
        )
        return ScenarioUser(
            name=r.text(data, path, "name"),
            address=address,
            aliases=aliases,
            time_zone=zone_name,
            salesforce_user=r.text(data, path, "salesforce-user"),
        )

    # -- org ---------------------------------------------------------------------------------
    def _org_head(
        self, data: dict[str, Any]
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        r = self.r
        path: PathKey = ("org",)
        r.table(
            data,
            path,
            (
                "name", "enhanced-email", "shared-activities", "api-limit", "users", *ORG_OBJECTS,
                "list-views", "custom-fields", "validation-rules",
            ),
        )  # fmt: skip
        org = {
            "name": r.text(data, path, "name", "Sandbox Org"),
            "enhanced_email": r.flag(data, path, "enhanced-email", True),
            "shared_activities": r.flag(data, path, "shared-activities", True),
            "api_limit": r.number(data, path, "api-limit", 15000),
        }
        custom_fields: list[dict[str, Any]] = []
        for n, entry in enumerate(r.entries(data, path, "custom-fields")):
            at: PathKey = (*path, "custom-fields", n)
            r.table(entry, at, ("object", "name", "external-id"))
            obj = self._object(entry, at)
            name = r.text(entry, at, "name")
            if not name.endswith("__c") or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*__c", name):
                raise r.fail(
                    (*at, "name"),
                    f"'{name}' is not a custom field name; custom fields end in __c (e.g. Rgsync_Key__c)",
                )
            custom_fields.append(
                {"object": obj, "name": name, "external_id": r.flag(entry, at, "external-id", True)}
            )
            # Known from here on, so records may set it.
            from rgsync.sandbox.salesforce.schema import custom_text_field

            self.objects[obj].add_field(custom_text_field(name))
        users: list[dict[str, Any]] = []
        for n, entry in enumerate(r.entries(data, path, "users")):
            at = (*path, "users", n)
            r.table(entry, at, USER_FIELDS)
            key = self._key(entry, at, "User")
            user = {"key": key}
            for name in USER_FIELDS[1:]:
                if name in entry:
                    user[name] = r.text(entry, at, name)
            if "Name" not in user and "LastName" not in user:
                raise r.fail(at, "a user needs a Name (or LastName)")
            if "Email" not in user:
                raise r.fail(at, "'Email' is missing")
            _address_text(r, (*at, "Email"), user["Email"])
            user.setdefault("Username", f"{user['Email']}.sandbox")
            users.append(user)
        return org, users, custom_fields

    def _object(self, entry: Mapping[str, Any], at: PathKey) -> str:
        name = self.r.text(entry, at, "object")
        for known in self.objects:
            if known.lower() == name.lower():
                return known
        raise self.r.fail(
            (*at, "object"), f"unknown Salesforce object '{name}'{did_you_mean(name, self.objects)}"
        )

    def _key(self, entry: Mapping[str, Any], at: PathKey, obj: str, *, required: bool = True) -> str:
        r = self.r
        if "key" not in entry and not required:
            return ""
        key = r.text(entry, at, "key")
        if not _SAFE_KEY.match(key):
            raise r.fail((*at, "key"), f"'{key}' is not a usable key; use letters, digits, '-', '_' or '.'")
        if key in self.keys:
            raise r.fail((*at, "key"), f"the key '{key}' is used twice (first by a {self.keys[key]})")
        self.keys[key] = obj
        return key

    def _records(
        self, data: dict[str, Any], list_name: str, obj: str, user: ScenarioUser
    ) -> list[dict[str, Any]]:
        r = self.r
        sobject = self.objects[obj]
        rows: list[dict[str, Any]] = []
        for n, entry in enumerate(r.entries(data, ("org",), list_name)):
            at: PathKey = ("org", list_name, n)
            record: dict[str, Any] = {}
            key = self._key(entry, at, obj, required=False)
            if key:
                record["key"] = key
            for name, value in entry.items():
                if name == "key":
                    continue
                known = sobject.field(name)
                if known is None:
                    raise r.fail(
                        (*at, name), f"{obj} has no field '{name}'{did_you_mean(name, sobject.fields)}"
                    )
                record[known.name] = self._field_value(known.name, known.type, value, (*at, name))
            if sobject.field("OwnerId") is not None and "OwnerId" not in record:
                record["OwnerId"] = f"@{user.salesforce_user}"
                self.references.append(((*at,), user.salesforce_user))
            _record_defaults(obj, record)
            for required in sobject.fields.values():
                if (
                    required.required
                    and required.createable
                    and required.default is None
                    and required.name not in record
                ):
                    raise r.fail(at, f"a {obj} needs '{required.name}'")
            rows.append(record)
        return rows

    def _field_value(self, name: str, kind: str, value: object, at: PathKey) -> object:
        r = self.r
        if isinstance(value, str) and value.startswith("@"):
            if kind not in ("reference", "junctionidlist"):
                raise r.fail(at, f"'{name}' is not a reference; '@key' only goes into Id fields")
            self.references.append((at, value[1:]))
            return value
        if kind == "junctionidlist":
            if not isinstance(value, list) or not all(
                isinstance(v, str) and v.startswith("@") for v in value
            ):
                raise r.fail(at, f'\'{name}\' takes a list of references like ["@bob", "@carol"]')
            for n, item in enumerate(value):
                self.references.append(((*at, n), item[1:]))
            return list(value)
        if kind in ("date", "datetime"):
            try:
                when = parse_when(value, self.clock)
            except ValueError as exc:
                raise r.fail(at, str(exc)) from None
            return _salesforce_time(when, kind, self.clock)
        if kind == "boolean":
            if not isinstance(value, bool):
                raise r.fail(at, f"expected true or false, found {value!r}")
            return value
        if kind in ("int", "double", "currency", "percent"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise r.fail(at, f"expected a number, found {value!r}")
            return value
        if not isinstance(value, str):
            raise r.fail(at, f"expected text in quotes, found {value!r}")
        return value

    def _list_views(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        r = self.r
        views: list[dict[str, Any]] = []
        for n, entry in enumerate(r.entries(data, ("org",), "list-views")):
            at: PathKey = ("org", "list-views", n)
            r.table(entry, at, ("object", "label", "developer-name", "where"))
            label = r.text(entry, at, "label")
            developer = r.text(entry, at, "developer-name", re.sub(r"\W+", "_", label).strip("_"))
            views.append(
                {
                    "object": self._object(entry, at),
                    "label": label,
                    "developer_name": developer,
                    "where": r.text(entry, at, "where", "") or None,
                }
            )
        return views

    def _validation_rules(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        r = self.r
        rules: list[dict[str, Any]] = []
        for n, entry in enumerate(r.entries(data, ("org",), "validation-rules")):
            at: PathKey = ("org", "validation-rules", n)
            r.table(entry, at, ("object", "field", "contains", "message"))
            obj = self._object(entry, at)
            name = r.text(entry, at, "field")
            known = self.objects[obj].field(name)
            if known is None:
                raise r.fail(
                    (*at, "field"),
                    f"{obj} has no field '{name}'{did_you_mean(name, self.objects[obj].fields)}",
                )
            rules.append(
                {
                    "object": obj,
                    "field": known.name,
                    "contains": r.text(entry, at, "contains"),
                    "message": r.text(entry, at, "message"),
                }
            )
        return rules

    # -- mailbox -----------------------------------------------------------------------------
    def _when(self, entry: Mapping[str, Any], at: PathKey, key: str) -> date | datetime:
        try:
            return parse_when(entry[key], self.clock)
        except ValueError as exc:
            raise self.r.fail((*at, key), str(exc)) from None

    def _emails(self, mailbox: dict[str, Any], user: ScenarioUser) -> list[EmailEntry]:
        r = self.r
        emails: list[EmailEntry] = []
        by_key: dict[str, EmailEntry] = {}
        last_in_thread: dict[str, EmailEntry] = {}
        mine = {user.address.lower(), *(a.lower() for a in user.aliases)}
        for n, entry in enumerate(r.entries(mailbox, ("mailbox",), "emails")):
            at: PathKey = ("mailbox", "emails", n)
            key = r.text(entry, at, "key", f"email-{n + 1}")
            if key in by_key:
                raise r.fail((*at, "key"), f"the key '{key}' is used by two emails")
            thread = r.text(entry, at, "thread", "") or None
            if "raw" in entry:
                email = self._raw_email(entry, at, key, thread)
            else:
                email = self._built_email(entry, at, key, n, thread, user, mine, by_key, last_in_thread)
            emails.append(email)
            by_key[key] = email
            if thread:
                last_in_thread[thread] = email
        return emails

    def _labels(self, entry: Mapping[str, Any], at: PathKey, default_folder: str) -> tuple[str, ...]:
        r = self.r
        folder = r.text(entry, at, "folder", default_folder).lower()
        if folder not in FOLDER_LABELS:
            raise r.fail((*at, "folder"), f"unknown folder '{folder}'{did_you_mean(folder, FOLDER_LABELS)}")
        return (*FOLDER_LABELS[folder], *r.texts(entry, at, "labels"))

    def _raw_email(self, entry: Mapping[str, Any], at: PathKey, key: str, thread: str | None) -> EmailEntry:
        r = self.r
        r.table(entry, at, RAW_EMAIL_FIELDS)
        raw = r.text(entry, at, "raw").lstrip("\r\n")
        head, separator, _ = raw.replace("\r\n", "\n").partition("\n\n")
        if not separator or not re.search(r"^[A-Za-z-]+:", head):
            raise r.fail((*at, "raw"), "not an RFC 822 message: headers, a blank line, then the body")
        parsed = _parse_headers(head)
        if "when" in entry:
            sent_at = self._as_datetime(self._when(entry, at, "when"))
            raw = _with_date(raw, sent_at.astimezone(self.clock.zone))
        else:
            try:
                from email.utils import parsedate_to_datetime

                sent_at = parsedate_to_datetime(parsed.get("date", "")).astimezone(UTC)
            except (TypeError, ValueError):
                raise r.fail(
                    (*at, "raw"), "the message has no usable Date header; add one or set 'when'"
                ) from None
        crlf = raw.replace("\r\n", "\n").replace("\n", "\r\n")
        return EmailEntry(
            key=key,
            raw=crlf,
            labels=self._labels(entry, at, "inbox"),
            thread=thread,
            message_id=parsed.get("message-id", ""),
            subject=parsed.get("subject", ""),
            sent_at=sent_at,
        )

    def _built_email(
        self,
        entry: Mapping[str, Any],
        at: PathKey,
        key: str,
        n: int,
        thread: str | None,
        user: ScenarioUser,
        mine: set[str],
        by_key: Mapping[str, EmailEntry],
        last_in_thread: Mapping[str, EmailEntry],
    ) -> EmailEntry:
        r = self.r
        r.table(entry, at, EMAIL_FIELDS)
        sender = _address_text(r, (*at, "from"), r.text(entry, at, "from"))
        sender_address = parseaddr(sender)[1].lower()
        message = EmailMessage(policy=SMTP)
        message["From"] = sender
        for header, name in (("To", "to"), ("Cc", "cc"), ("Bcc", "bcc")):
            values = [_address_text(r, (*at, name, i), v) for i, v in enumerate(r.texts(entry, at, name))]
            if values:
                message[header] = ", ".join(values)
        if "to" not in entry:
            raise r.fail(at, "'to' is missing")
        subject = r.text(entry, at, "subject", "")
        message["Subject"] = subject
        sent_at = self._as_datetime(self._when(entry, at, "when")) if "when" in entry else self.now
        message["Date"] = format_datetime(sent_at.astimezone(self.clock.zone))
        domain = sender_address.rpartition("@")[2] or "scenario.invalid"
        message_id = r.text(entry, at, "message-id", f"<scenario-{n + 1}-{key}@{domain}>")
        if not (message_id.startswith("<") and message_id.endswith(">") and "@" in message_id):
            raise r.fail((*at, "message-id"), f"'{message_id}' is not a Message-ID like <unique@example.com>")
        message["Message-ID"] = message_id
        parent: EmailEntry | None = None
        if "in-reply-to" in entry:
            parent_key = r.text(entry, at, "in-reply-to")
            parent = by_key.get(parent_key)
            if parent is None:
                raise r.fail(
                    (*at, "in-reply-to"),
                    f"no earlier email has key '{parent_key}'{did_you_mean(parent_key, by_key)}",
                )
            thread = thread or parent.thread
        elif thread and thread in last_in_thread:
            parent = last_in_thread[thread]
        if parent is not None and parent.message_id:
            message["In-Reply-To"] = parent.message_id
            message["References"] = parent.message_id
        headers = r.section(entry, at, "headers")
        for name, value in headers.items():
            if not isinstance(value, str) or not re.fullmatch(r"[!-9;-~]+", name):
                raise r.fail(
                    (*at, "headers", name),
                    'a header is a name and a text value, e.g. "Auto-Submitted" = "auto-replied"',
                )
            if name.lower() in ("from", "to", "cc", "bcc", "subject", "date", "message-id"):
                raise r.fail(
                    (*at, "headers", name), f"set '{name.lower()}' as a field of the email, not in headers"
                )
            message[name] = value
        message.set_content(r.text(entry, at, "body", ""))
        if "html" in entry:
            message.add_alternative(r.text(entry, at, "html"), subtype="html")
        default_folder = "sent" if sender_address in mine else "inbox"
        return EmailEntry(
            key=key,
            raw=message.as_string(),
            labels=self._labels(entry, at, default_folder),
            thread=thread,
            message_id=message_id,
            subject=subject,
            sent_at=sent_at,
        )

    def _as_datetime(self, when: date | datetime) -> datetime:
        # A date alone means noon of that day in the user's zone (mid-day keeps it on that date everywhere).
        return when if isinstance(when, datetime) else self.clock.at(when, time(12, 0))

    def _calendar(self, mailbox: dict[str, Any], user: ScenarioUser) -> list[dict[str, Any]]:
        r = self.r
        items: list[dict[str, Any]] = []
        uids: set[str] = set()
        for n, entry in enumerate(r.entries(mailbox, ("mailbox",), "calendar")):
            at: PathKey = ("mailbox", "calendar", n)
            r.table(entry, at, CALENDAR_FIELDS)
            key = r.text(entry, at, "key", f"item-{n + 1}")
            if "start" not in entry:
                raise r.fail(at, "'start' is missing")
            start = self._when(entry, at, "start")
            event: dict[str, Any] = {"summary": r.text(entry, at, "subject", "")}
            if isinstance(start, datetime):
                if "end" in entry:
                    end = self._when(entry, at, "end")
                    if not isinstance(end, datetime) or end <= start:
                        raise r.fail((*at, "end"), "the end must be a time after the start")
                else:
                    end = start + self._duration(entry, at, timedelta(hours=1))
                event["start"] = {"dateTime": _rfc3339(start, self.clock.zone), "timeZone": user.time_zone}
                event["end"] = {"dateTime": _rfc3339(end, self.clock.zone), "timeZone": user.time_zone}
            else:
                if "end" in entry:
                    last = self._when(entry, at, "end")
                    if isinstance(last, datetime) or last < start:
                        raise r.fail(
                            (*at, "end"),
                            "an all-day item ends on a date (its last day), not before its start",
                        )
                    days = (last - start).days + 1
                else:
                    days = max(1, self._duration(entry, at, timedelta(days=1)).days)
                event["start"] = {"date": start.isoformat()}
                event["end"] = {"date": (start + timedelta(days=days)).isoformat()}
            uid = r.text(entry, at, "uid", f"{key}@scenario.invalid")
            if uid in uids:
                raise r.fail((*at, "uid"), f"two calendar items share the uid '{uid}'")
            uids.add(uid)
            event["iCalUID"] = uid
            for name, target in (("location", "location"), ("description", "description")):
                if name in entry:
                    event[target] = r.text(entry, at, name)
            organizer = _address_text(
                r, (*at, "organizer"), r.text(entry, at, "organizer", f"{user.name} <{user.address}>")
            )
            organizer_address = parseaddr(organizer)[1].lower()
            mine = {user.address.lower(), *(a.lower() for a in user.aliases)}
            is_mine = organizer_address in mine
            event["organizer"] = _person(organizer, self_=is_mine)
            event["creator"] = dict(event["organizer"])
            attendees = self._attendees(entry, at)
            if not is_mine and "response" not in entry:
                raise r.fail(
                    at, "an invitation needs your 'response': accepted, tentative, declined or needs-action"
                )
            if is_mine and "response" in entry:
                raise r.fail((*at, "response"), "you organise this item, so there is no response to give")
            if attendees or not is_mine:
                response = RESPONSES[self._choice(entry, at, "response", RESPONSES, "accepted")]
                listed = {a["email"].lower() for a in attendees}
                head = [{**_person(organizer), "organizer": True, "responseStatus": "accepted"}]
                if is_mine:
                    head[0]["self"] = True
                elif user.address.lower() not in listed:
                    head.append(
                        {
                            "email": user.address,
                            "displayName": user.name,
                            "self": True,
                            "responseStatus": response,
                        }
                    )
                for attendee in attendees:
                    if attendee["email"].lower() in mine:
                        attendee["self"] = True
                        attendee["responseStatus"] = response
                event["attendees"] = head + [a for a in attendees if a["email"].lower() != organizer_address]
            if r.flag(entry, at, "private", False):
                event["visibility"] = "private"
            show_as = self._choice(entry, at, "show-as", {"busy": 1, "free": 1}, "busy")
            event["transparency"] = "transparent" if show_as == "free" else "opaque"
            recurrence = r.texts(entry, at, "recurrence")
            for i, rule in enumerate(recurrence):
                if not rule.startswith(("RRULE:", "EXDATE", "RDATE")):
                    raise r.fail(
                        (*at, "recurrence", i),
                        f"'{rule}' is not a recurrence rule like \"RRULE:FREQ=WEEKLY;COUNT=3\"",
                    )
            if recurrence:
                event["recurrence"] = recurrence
            event["status"] = "cancelled" if r.flag(entry, at, "cancelled", False) else "confirmed"
            event["key"] = key
            items.append(event)
        return items

    def _duration(self, entry: Mapping[str, Any], at: PathKey, default: timedelta) -> timedelta:
        if "duration" not in entry:
            return default
        try:
            return parse_duration(entry["duration"])
        except ValueError as exc:
            raise self.r.fail((*at, "duration"), str(exc)) from None

    def _choice(
        self, entry: Mapping[str, Any], at: PathKey, key: str, choices: Mapping[str, Any], default: str
    ) -> str:
        value = self.r.text(entry, at, key, default).lower()
        if value not in choices:
            raise self.r.fail((*at, key), f"'{value}' is not understood{did_you_mean(value, choices)}")
        return value

    def _attendees(self, entry: Mapping[str, Any], at: PathKey) -> list[dict[str, Any]]:
        r = self.r
        raw = entry.get("attendees", [])
        if not isinstance(raw, list):
            raise r.fail(
                (*at, "attendees"),
                'expected a list like ["bob@globex.com", {address = "carol@initech.com", response = "declined"}]',
            )
        attendees: list[dict[str, Any]] = []
        for i, item in enumerate(raw):
            where: PathKey = (*at, "attendees", i)
            if isinstance(item, str):
                attendees.append({**_person(_address_text(r, where, item)), "responseStatus": "accepted"})
            elif isinstance(item, dict):
                r.table(item, where, ("address", "name", "response"))
                address = _address_text(r, (*where, "address"), r.text(item, where, "address"))
                person = _person(address)
                if "name" in item:
                    person["displayName"] = r.text(item, where, "name")
                person["responseStatus"] = RESPONSES[
                    self._choice(item, where, "response", RESPONSES, "accepted")
                ]
                attendees.append(person)
            else:
                raise r.fail(where, "an attendee is an address or a table {address = …, response = …}")
        return attendees

    def _tasks(self, mailbox: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        r = self.r
        lists: dict[str, list[dict[str, Any]]] = {}
        for n, entry in enumerate(r.entries(mailbox, ("mailbox",), "tasks")):
            at: PathKey = ("mailbox", "tasks", n)
            r.table(entry, at, TASK_FIELDS)
            task: dict[str, Any] = {"title": r.text(entry, at, "title"), "status": "needsAction"}
            if "notes" in entry:
                task["notes"] = r.text(entry, at, "notes")
            if "due" in entry:
                due = self._when(entry, at, "due")
                day = due.astimezone(self.clock.zone).date() if isinstance(due, datetime) else due
                task["due"] = f"{day.isoformat()}T00:00:00.000Z"
            if "completed" in entry:
                done = entry["completed"]
                if done is True:
                    task["status"], task["completed"] = "completed", _rfc3339(self.now, UTC)
                elif done is not False:
                    task["status"], task["completed"] = (
                        "completed",
                        _rfc3339(self._as_datetime(self._when(entry, at, "completed")), UTC),
                    )
            task["key"] = r.text(entry, at, "key", f"task-{n + 1}")
            lists.setdefault(r.text(entry, at, "list", DEFAULT_TASK_LIST), []).append(task)
        return lists

    def _contacts(self, mailbox: dict[str, Any]) -> list[dict[str, Any]]:
        r = self.r
        people: list[dict[str, Any]] = []
        for n, entry in enumerate(r.entries(mailbox, ("mailbox",), "contacts")):
            at: PathKey = ("mailbox", "contacts", n)
            r.table(entry, at, CONTACT_FIELDS)
            if "last-name" not in entry and "first-name" not in entry:
                raise r.fail(at, "a contact needs a 'first-name' or 'last-name'")
            name = {
                "givenName": r.text(entry, at, "first-name", ""),
                "familyName": r.text(entry, at, "last-name", ""),
            }
            person: dict[str, Any] = {"names": [{k: v for k, v in name.items() if v}]}
            emails = [
                _address_text(r, (*at, "emails", i), e) for i, e in enumerate(r.texts(entry, at, "emails"))
            ]
            if emails:
                person["emailAddresses"] = [{"value": parseaddr(e)[1]} for e in emails]
            phones = r.texts(entry, at, "phones")
            if phones:
                person["phoneNumbers"] = [{"value": p} for p in phones]
            organization = {
                k: r.text(entry, at, f, "")
                for k, f in (("name", "company"), ("title", "title"), ("department", "department"))
            }
            if any(organization.values()):
                person["organizations"] = [{k: v for k, v in organization.items() if v}]
            if "notes" in entry:
                person["biographies"] = [{"value": r.text(entry, at, "notes"), "contentType": "TEXT_PLAIN"}]
            person["key"] = r.text(entry, at, "key", f"contact-{n + 1}")
            people.append(person)
        return people


# --------------------------------------------------------------------------------------------
# Small conversions


def _without_key(item: Mapping[str, Any]) -> dict[str, Any]:
    """A mailbox item as the Google APIs know it: the scenario's own `key` stays behind."""
    return {k: v for k, v in item.items() if k != "key"}


def _address_text(r: Reader, at: PathKey, value: str) -> str:
    """Check `Name <addr>` or `addr` and return it as written."""
    parsed = getaddresses([value])
    if len(parsed) != 1 or not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[A-Za-z0-9-]+", parsed[0][1]):
        raise r.fail(
            at, f"'{value}' is not an email address (write bob@globex.com or \"Bob Baker <bob@globex.com>\")"
        )
    return value


def _address(r: Reader, data: Mapping[str, Any], at: PathKey, key: str) -> str:
    return parseaddr(_address_text(r, (*at, key), r.text(data, at, key)))[1].lower()


def _person(text: str, *, self_: bool = False) -> dict[str, Any]:
    name, address = parseaddr(text)
    person: dict[str, Any] = {"email": address.lower()}
    if name:
        person["displayName"] = name
    if self_:
        person["self"] = True
    return person


def _rfc3339(when: datetime, zone: ZoneInfo | Any) -> str:
    return when.astimezone(zone).isoformat(timespec="seconds")


def _salesforce_time(when: date | datetime, kind: str, clock: Clock) -> str:
    """A scenario time in Salesforce's wire format for a date or datetime field."""
    if kind == "date":
        day = when.astimezone(clock.zone).date() if isinstance(when, datetime) else when
        return day.isoformat()
    moment = when if isinstance(when, datetime) else clock.at(when, time(0))
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _record_defaults(obj: str, record: dict[str, Any]) -> None:
    """Fill what a scenario author would otherwise repeat: an Event's end and duration."""
    if (
        obj == "Event"
        and "StartDateTime" in record
        and "EndDateTime" not in record
        and "DurationInMinutes" not in record
    ):
        start = datetime.strptime(record["StartDateTime"], "%Y-%m-%dT%H:%M:%S.000+0000").replace(tzinfo=UTC)
        record["EndDateTime"] = (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _parse_headers(head: str) -> dict[str, str]:
    """The first value of each header of a raw message's header block (lower-case names)."""
    headers: dict[str, str] = {}
    name = ""
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and name:
            headers[name] += " " + line.strip()
            continue
        found = re.match(r"^([A-Za-z0-9-]+):\s*(.*)$", line)
        if found:
            name = found.group(1).lower()
            headers.setdefault(name, found.group(2).strip())
    return headers


def _with_date(raw: str, sent_at: datetime) -> str:
    """`raw` with its Date header replaced (or added) so it says `sent_at`."""
    text = raw.replace("\r\n", "\n")
    head, _, body = text.partition("\n\n")
    kept: list[str] = []
    skipping = False
    for line in head.split("\n"):
        if skipping and line[:1] in (" ", "\t"):
            continue
        skipping = line.lower().startswith("date:")
        if not skipping:
            kept.append(line)
    kept.append(f"Date: {format_datetime(sent_at)}")
    return "\n".join(kept) + "\n\n" + body
