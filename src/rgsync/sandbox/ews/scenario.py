"""Scenario data for the EWS emulator.

The sandbox's scenario files are turned into the Google emulator's shapes by
`Scenario.google_scenario()`; the EWS emulator loads that same dict, so one scenario file drives
every mailbox kind. Each list may also hold items in the emulator's own shapes (see
`MailboxState.load`):

    {"user": {"address", "name", "timeZone"},
     "messages": [{"raw", "labels": ["INBOX"], "internalDate"} | {"raw", "folder", "categories", "item_class"}],
     "events": [Google Calendar event], "calendar": [EWS calendar spec],
     "tasks": {"List name": [Google task]} | [EWS task spec],
     "contacts": [People person | EWS contact spec], "contactGroups": ["folder name", …]}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any, Protocol

from .mime import item_class_of
from .recurrence import WEEKDAYS, windows_id


class MailboxTarget(Protocol):
    """What loading a scenario needs of the mailbox (`MailboxState` is one); declared here so the
    mailbox may import its loader without the loader importing the mailbox back."""

    address: str

    def resolve_folder(self, name: str, *, create: bool = True) -> object: ...

    def add_message(
        self,
        raw: bytes,
        folder: str = "inbox",
        categories: Iterable[str] = (),
        item_class: str = "IPM.Note",
        *,
        received: datetime | None = None,
        is_read: bool = False,
    ) -> str: ...

    def add_calendar_item(self, spec: Mapping[str, Any], folder: str = "calendar") -> str: ...

    def add_task(self, spec: Mapping[str, Any], folder: str = "tasks") -> str: ...

    def add_contact(self, spec: Mapping[str, Any], folder: str = "contacts") -> str: ...


FOLDER_OF_LABEL = (
    ("INBOX", "inbox"),
    ("SENT", "sentitems"),
    ("SPAM", "junkemail"),
    ("DRAFT", "drafts"),
    ("TRASH", "deleteditems"),
)
SYSTEM_LABELS = {"INBOX", "SENT", "SPAM", "DRAFT", "TRASH", "UNREAD", "STARRED", "IMPORTANT", "CHAT"}
ARCHIVE = "msgfolderroot/Archive"
DEFAULT_TASK_LIST = "My Tasks"
RESPONSES = {"accepted": "accepted", "tentative": "tentative", "declined": "declined", "needsAction": "none"}
RRULE_DAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
FREQUENCIES = {"DAILY": "daily", "WEEKLY": "weekly", "MONTHLY": "monthly", "YEARLY": "yearly"}


def is_google_shaped(scenario: Mapping[str, Any]) -> bool:
    """Whether a scenario dict is in the Google emulator's shapes (from `google_scenario()`)."""
    return "events" in scenario or isinstance(scenario.get("tasks"), Mapping) or "contactGroups" in scenario


def load_google_scenario(state: MailboxTarget, scenario: Mapping[str, Any]) -> None:
    """Put a Google-shaped scenario's messages, events, tasks and contacts into the mailbox."""
    user_zone = str((scenario.get("user") or {}).get("timeZone") or "UTC")
    for name in scenario.get("contactGroups") or []:
        state.resolve_folder(f"contacts/{name}")
    for message in scenario.get("messages") or []:
        raw = message["raw"]
        raw_bytes = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
        labels = [str(label) for label in message.get("labels") or []]
        folder = next((f for label, f in FOLDER_OF_LABEL if label in labels), ARCHIVE)
        categories = [
            label for label in labels if label not in SYSTEM_LABELS and not label.startswith("CATEGORY_")
        ]
        state.add_message(
            raw_bytes,
            str(message.get("folder") or folder),
            categories,
            str(message.get("item_class") or item_class_of(raw_bytes)),
            received=_moment(message.get("internalDate")),
            is_read="UNREAD" not in labels,
        )
    for event in scenario.get("events") or []:
        state.add_calendar_item(calendar_spec(event, state.address, user_zone))
    tasks = scenario.get("tasks") or {}
    for list_name, items in tasks.items():
        folder = "tasks" if list_name == DEFAULT_TASK_LIST else f"tasks/{list_name}"
        state.resolve_folder(folder)
        for task in items:
            state.add_task(task_spec(task), folder)
    for person in scenario.get("contacts") or []:
        folder = str(person.get("folder") or "contacts")
        state.add_contact(contact_spec(person) if "names" in person else dict(person), folder)


def _moment(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    return datetime.fromisoformat(str(value))


def _when(value: Mapping[str, Any]) -> datetime | date:
    if "dateTime" in value:
        return datetime.fromisoformat(str(value["dateTime"]).replace("Z", "+00:00"))
    return date.fromisoformat(str(value["date"]))


def calendar_spec(event: Mapping[str, Any], owner: str, user_zone: str) -> dict[str, Any]:
    """An EWS calendar spec from a Google Calendar event."""
    start, end = _when(event["start"]), _when(event["end"])
    zone_name = str(event["start"].get("timeZone") or user_zone)
    spec: dict[str, Any] = {
        "subject": event.get("summary", ""),
        "start": start,
        "end": end,
        "all_day": not isinstance(start, datetime),
        "timezone": windows_id(zone_name),
        "uid": event.get("iCalUID") or None,
        "sensitivity": "Private" if event.get("visibility") in ("private", "confidential") else "Normal",
        "free_busy": "Free" if event.get("transparency") == "transparent" else "Busy",
        "cancelled": event.get("status") == "cancelled",
    }
    if not spec["uid"]:
        spec.pop("uid")
    for key, target in (("location", "location"), ("description", "body")):
        if event.get(key):
            spec[target] = event[key]
    organizer = event.get("organizer") or {"email": owner, "self": True}
    spec["organizer"] = {"email": organizer.get("email", owner), "name": organizer.get("displayName", "")}
    attendees = [a for a in event.get("attendees") or [] if not a.get("organizer")]
    if attendees:
        spec["required"] = [
            {
                "email": a.get("email", ""),
                "name": a.get("displayName", ""),
                "response": RESPONSES.get(str(a.get("responseStatus")), "none"),
            }
            for a in attendees
        ]
    mine = next((a for a in event.get("attendees") or [] if a.get("self")), None)
    if organizer.get("self") or str(organizer.get("email", "")).lower() == owner:
        spec["my_response"] = "organizer"
    else:
        spec["my_response"] = RESPONSES.get(str((mine or {}).get("responseStatus")), "none")
    for rule in event.get("recurrence") or []:
        if str(rule).startswith("RRULE:"):
            spec["recurrence"] = recurrence_spec(str(rule), start)
    return spec


def recurrence_spec(rule: str, start: datetime | date) -> dict[str, Any]:
    """An EWS recurrence spec from an RRULE (FREQ, INTERVAL, COUNT, UNTIL, BYDAY of weekly rules)."""
    parts = dict(p.split("=", 1) for p in rule.removeprefix("RRULE:").split(";") if "=" in p)
    frequency = FREQUENCIES.get(parts.get("FREQ", ""))
    if frequency is None:
        raise ValueError(f"the Exchange sandbox cannot expand the recurrence {rule!r}")
    spec: dict[str, Any] = {"pattern": frequency, "interval": int(parts.get("INTERVAL", "1"))}
    if "BYDAY" in parts and frequency == "weekly":
        days = [re.sub(r"^[+-]?\d+", "", d) for d in parts["BYDAY"].split(",")]
        spec["days"] = [WEEKDAYS[RRULE_DAYS[d]] for d in days if d in RRULE_DAYS]
    if "COUNT" in parts:
        spec["count"] = int(parts["COUNT"])
    elif "UNTIL" in parts:
        until = parts["UNTIL"]
        spec["until"] = date(int(until[:4]), int(until[4:6]), int(until[6:8]))
    return spec


def task_spec(task: Mapping[str, Any]) -> dict[str, Any]:
    """An EWS task spec from a Google task."""
    spec: dict[str, Any] = {"subject": task.get("title", ""), "completed": task.get("status") == "completed"}
    if task.get("notes"):
        spec["body"] = task["notes"]
    if task.get("due"):
        spec["due"] = date.fromisoformat(str(task["due"])[:10])
    return spec


def contact_spec(person: Mapping[str, Any]) -> dict[str, Any]:
    """An EWS contact spec from a People API person."""
    names = (person.get("names") or [{}])[0]
    spec: dict[str, Any] = {"given_name": names.get("givenName"), "surname": names.get("familyName")}
    emails = [e.get("value") for e in person.get("emailAddresses") or [] if e.get("value")]
    if emails:
        spec["emails"] = emails
    phones = [p.get("value") for p in person.get("phoneNumbers") or [] if p.get("value")]
    if phones:
        spec["phones"] = dict(zip(("BusinessPhone", "MobilePhone", "HomePhone"), phones, strict=False))
    organization = (person.get("organizations") or [{}])[0]
    for key, target in (("name", "company"), ("title", "job_title"), ("department", "department")):
        if organization.get(key):
            spec[target] = organization[key]
    biographies = person.get("biographies") or []
    if biographies and biographies[0].get("value"):
        spec["body"] = biographies[0]["value"]
    return spec
