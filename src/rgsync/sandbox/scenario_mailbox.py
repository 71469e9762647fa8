"""The mailbox part of a scenario: emails, calendar items, tasks and contacts in the Google APIs' shapes.

`MailboxBuilder` checks the `[[mailbox.*]]` tables of a scenario file and converts them: emails
into raw RFC 822 messages (built from fields, or given whole) with their labels and thread,
calendar items into Calendar API events, tasks into Tasks API tasks per list, contacts into
People API persons. Every problem is raised as a located `ScenarioError` through the `Reader`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr, parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

from rgsync.sandbox.scenario_toml import (
    Clock,
    PathKey,
    Reader,
    check_address,
    did_you_mean,
    parse_duration,
    parse_when,
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


class MailboxBuilder:
    """Checks and converts the `[mailbox]` table of a scenario for one user, at one "now"."""

    def __init__(self, reader: Reader, clock: Clock, user: ScenarioUser) -> None:
        self.r = reader
        self.clock = clock
        self.now = clock.now
        self.user = user

    def build(
        self, mailbox: dict[str, Any]
    ) -> tuple[list[EmailEntry], list[dict[str, Any]], dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
        """The emails, calendar events, tasks per list and contacts of `mailbox`."""
        self.r.table(mailbox, ("mailbox",), ("emails", "calendar", "tasks", "contacts"))
        return (
            self._emails(mailbox, self.user),
            self._calendar(mailbox, self.user),
            self._tasks(mailbox),
            self._contacts(mailbox),
        )

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
        sender = check_address(r, (*at, "from"), r.text(entry, at, "from"))
        sender_address = parseaddr(sender)[1].lower()
        message = EmailMessage(policy=SMTP)
        message["From"] = sender
        for header, name in (("To", "to"), ("Cc", "cc"), ("Bcc", "bcc")):
            values = [check_address(r, (*at, name, i), v) for i, v in enumerate(r.texts(entry, at, name))]
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
            organizer = check_address(
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
                attendees.append({**_person(check_address(r, where, item)), "responseStatus": "accepted"})
            elif isinstance(item, dict):
                r.table(item, where, ("address", "name", "response"))
                address = check_address(r, (*where, "address"), r.text(item, where, "address"))
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
                check_address(r, (*at, "emails", i), e) for i, e in enumerate(r.texts(entry, at, "emails"))
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
