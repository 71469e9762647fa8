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
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rgsync.sandbox.salesforce.schema import SObjectType, custom_text_field, standard_objects
from rgsync.sandbox.scenario_mailbox import EmailEntry, MailboxBuilder, ScenarioUser
from rgsync.sandbox.scenario_toml import (
    Clock,
    PathKey,
    Positions,
    Reader,
    ScenarioError,
    check_address,
    did_you_mean,
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
_SAFE_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")


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
            "user": {"address": self.user.address, "name": self.user.name, "timeZone": self.user.time_zone},
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


def load_scenario(path: str | Path, *, now: datetime | None = None) -> Scenario:
    """Read and check the scenario file at `path`; relative times are resolved against `now`.

    Raises `ScenarioError` naming the file, the line and the field.
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
        emails, calendar, tasks, contacts = MailboxBuilder(r, self.clock, user).build(mailbox)
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
            emails=emails,
            calendar=calendar,
            tasks=tasks,
            contacts=contacts,
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
        address = parseaddr(check_address(r, (*path, "address"), r.text(data, path, "address")))[1].lower()
        aliases = tuple(
            check_address(r, (*path, "aliases", n), a) for n, a in enumerate(r.texts(data, path, "aliases"))
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
            check_address(r, (*at, "Email"), user["Email"])
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


# --------------------------------------------------------------------------------------------
# Small conversions


def _without_key(item: Mapping[str, Any]) -> dict[str, Any]:
    """A mailbox item as the Google APIs know it: the scenario's own `key` stays behind."""
    return {k: v for k, v in item.items() if k != "key"}


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
