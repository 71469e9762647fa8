"""Both sides at one moment as a person would look at them: what was saved to Salesforce (with the
people and the opportunity or account it was linked to, by name) and what came down into the
mailbox, read from the emulated org and through the mailbox's own APIs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rgsync.demo.sandbox import Sandbox
from rgsync.model import Side, Stream


@dataclass
class Snapshot:
    """What both sides show at one moment, as lines a person reads, per category."""

    saved_emails: list[str] = field(default_factory=list)
    saved_meetings: list[str] = field(default_factory=list)
    mailbox_events: list[str] = field(default_factory=list)
    mailbox_tasks: list[str] = field(default_factory=list)
    mailbox_contacts: list[str] = field(default_factory=list)
    salesforce_tasks: list[str] = field(default_factory=list)

    def categories(self) -> list[tuple[str, list[str]]]:
        return [
            ("Emails saved to Salesforce", self.saved_emails),
            ("Meetings saved to Salesforce", self.saved_meetings),
            ("Salesforce Events in the mailbox calendar", self.mailbox_events),
            ("Salesforce Tasks in the mailbox", self.mailbox_tasks),
            ("Salesforce Contacts in the mailbox", self.mailbox_contacts),
            ("Mailbox tasks created in Salesforce", self.salesforce_tasks),
        ]


def snapshot(sandbox: Sandbox) -> Snapshot:
    """Both sides as a person would look at them, with names instead of Ids."""
    from rgsync.state import StateStore

    org = sandbox.salesforce.org
    zone = ZoneInfo(sandbox.scenario.user.time_zone)
    store = StateStore.open(sandbox.paths.state_db)
    try:
        links = {stream: store.links(stream) for stream in Stream}
    finally:
        store.close()
    view = Snapshot()
    for link in links[Stream.EMAILS].values():
        row = org.get(link.salesforce_id)
        if row is not None:
            view.saved_emails.append(_activity_line(org, row, zone, timed=False))
    meetings = [
        org.get(link.salesforce_id) for link in links[Stream.EVENTS].values() if link.origin is Side.MAILBOX
    ]
    for row in sorted(
        (r for r in meetings if r), key=lambda r: str(r.get("StartDateTime") or r.get("ActivityDate"))
    ):
        view.saved_meetings.append(_activity_line(org, row, zone, timed=True))
    mailbox = sandbox.kind.side().reader(sandbox)
    down_events = {
        link.mailbox_id for link in links[Stream.EVENTS].values() if link.origin is Side.SALESFORCE
    }
    for event in mailbox.events():
        if event.get("id") in down_events:
            view.mailbox_events.append(f"“{event.get('summary', '')}” {_google_when(event, zone)}")
    view.mailbox_tasks = [
        f"“{task.get('title', '')}”"
        + (
            " (completed)"
            if task.get("status") == "completed"
            else f" due {task['due'][:10]}"
            if task.get("due")
            else ""
        )
        for task in mailbox.tasks("Salesforce Tasks")
    ]
    view.mailbox_contacts = [_person_line(person) for person in mailbox.contacts("Salesforce Contacts")]
    for link in links[Stream.TASKS].values():
        if link.origin is Side.MAILBOX:
            row = org.get(link.salesforce_id)
            if row is not None:
                view.salesforce_tasks.append(
                    f"“{row.get('Subject', '')}” (Task, owner {_name(org, row.get('OwnerId'))})"
                )
    for category in (view.saved_emails, view.mailbox_tasks, view.mailbox_contacts, view.salesforce_tasks):
        category.sort()
    return view


def _name(org: Any, record_id: str | None) -> str:
    row = org.get(record_id) if record_id else None
    if row is None:
        return "?"
    return str(
        row.get("Name") or " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p) or record_id
    )


def _activity_line(org: Any, row: dict[str, Any], zone: ZoneInfo, *, timed: bool) -> str:
    """“Subject” → people · Opportunity/Account, for a saved email (EmailMessage or Task) or Event."""
    subject = str(row.get("Subject") or "")
    people = _people_of(org, row)
    what = row.get("WhatId") or row.get("RelatedToId")
    parts = [", ".join(_name(org, p) for p in people) if people else "no people"]
    if what:
        parts.append(f"{_name(org, what)} ({org.type_of(what)})")
    when = " " + _salesforce_when(row, zone) if timed else ""
    return f"“{subject}”{when} → {' · '.join(parts)}"


def _people_of(org: Any, row: dict[str, Any]) -> list[str]:
    """The Contacts and Leads an activity is related to, primary first."""
    kind = org.type_of(row["Id"])
    if kind == "EmailMessage":
        relations = [
            (r["RelationId"], r)
            for r in org.records("EmailMessageRelation")
            if r.get("EmailMessageId") == row["Id"]
        ]
    else:
        relation_type, parent = (
            ("EventRelation", "EventId") if kind == "Event" else ("TaskRelation", "TaskId")
        )
        relations = [
            (r["RelationId"], r)
            for r in org.records(relation_type)
            if r.get(parent) == row["Id"] and not r.get("IsWhat") and (kind != "Event" or r.get("IsParent"))
        ]
    people = [row["WhoId"]] if row.get("WhoId") else []
    for relation_id, _ in relations:
        if relation_id and org.type_of(relation_id) in ("Contact", "Lead") and relation_id not in people:
            people.append(relation_id)
    return people


def _salesforce_when(row: dict[str, Any], zone: ZoneInfo) -> str:
    if row.get("IsAllDayEvent"):
        day = row.get("ActivityDate")
        return f"{day:%a %d %b} (all day)" if day else "(all day)"
    start = row.get("StartDateTime")
    if isinstance(start, datetime):
        return start.astimezone(zone).strftime("%a %d %b %H:%M")
    return ""


def _google_when(event: dict[str, Any], zone: ZoneInfo) -> str:
    start = event.get("start") or {}
    if "date" in start:
        return f"{datetime.fromisoformat(start['date']):%a %d %b} (all day)"
    if "dateTime" in start:
        return (
            datetime.fromisoformat(str(start["dateTime"]).replace("Z", "+00:00"))
            .astimezone(zone)
            .strftime("%a %d %b %H:%M")
        )
    return ""


def _person_line(person: dict[str, Any]) -> str:
    names = person.get("names") or [{}]
    name = names[0].get("displayName") or " ".join(
        p for p in (names[0].get("givenName"), names[0].get("familyName")) if p
    )
    emails = [e.get("value") for e in person.get("emailAddresses") or [] if e.get("value")]
    return f"{name} <{emails[0]}>" if emails else str(name)
