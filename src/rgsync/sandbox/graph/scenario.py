"""Scenario data for the Graph emulator.

The sandbox's scenario files are turned into the Google emulator's shapes by
`Scenario.google_scenario()`; the Graph emulator loads that same dict, so one scenario file drives
either mailbox. Each list may also hold items already in Graph's own shapes:

    {"user": {"address", "name", "time_zone"},
     "messages": [{"raw", "labels": ["INBOX"], "thread"} | {"raw" | Graph message fields, "folder", "categories"}],
     "events": [Google Calendar event | Graph event],
     "tasks": {"List name": [Google task | todoTask]},
     "contacts": [People person | Graph contact (optional "folder")],
     "contactGroups": ["folder name", …]}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from rgsync.sandbox.graph.common import parse_offset_datetime, zone


class GraphTarget(Protocol):
    """What loading a scenario needs of the emulated tenant (`GraphState` is one); declared here so
    the state may import its loader without the loader importing the state back."""

    address: str
    time_zone: str

    def add_message(
        self,
        message: bytes | str | Mapping[str, Any],
        folder: str = "inbox",
        categories: Iterable[str] = (),
        *,
        thread: str | None = None,
        received: datetime | None = None,
    ) -> str: ...

    def add_event(self, event: Mapping[str, Any]) -> str: ...

    def task_list(self, name: str, *, create: bool = True) -> str: ...

    def add_task(self, list_name: str, task: Mapping[str, Any]) -> str: ...

    def contact_folder(self, name: str, *, create: bool = True) -> str: ...

    def add_contact(self, contact: Mapping[str, Any], folder: str | None = None) -> str: ...


_FOLDER_OF_LABEL = (
    ("INBOX", "inbox"),
    ("SENT", "sentitems"),
    ("SPAM", "junkemail"),
    ("DRAFT", "drafts"),
    ("TRASH", "deleteditems"),
)
_SYSTEM_LABELS = {"INBOX", "SENT", "SPAM", "DRAFT", "TRASH", "UNREAD", "STARRED", "IMPORTANT", "CHAT"}
_RESPONSE = {
    "accepted": "accepted",
    "tentative": "tentativelyAccepted",
    "declined": "declined",
    "needsAction": "none",
}
_WEEKDAYS = {
    "MO": "monday",
    "TU": "tuesday",
    "WE": "wednesday",
    "TH": "thursday",
    "FR": "friday",
    "SA": "saturday",
    "SU": "sunday",
}
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}


def load_scenario(state: GraphTarget, scenario: Mapping[str, Any]) -> None:
    """Put the scenario's messages, events, tasks and contacts into `state` (lock held by caller)."""
    user_zone = state.time_zone
    for name in scenario.get("contactGroups") or []:
        state.contact_folder(str(name))
    for message in scenario.get("messages") or []:
        _load_message(state, message)
    for event in scenario.get("events") or []:
        state.add_event(
            event
            if "subject" in event or "summary" not in event
            else google_event(event, state.address, user_zone)
        )
    tasks = scenario.get("tasks") or {}
    for list_name, items in tasks.items():
        state.task_list(str(list_name))
        for task in items:
            state.add_task(str(list_name), task if _is_graph_task(task) else google_task(task))
    for person in scenario.get("contacts") or []:
        folder = person.get("folder")
        body = {k: v for k, v in person.items() if k != "folder"}
        state.add_contact(google_contact(body) if "names" in body else body, str(folder) if folder else None)


def _load_message(state: GraphTarget, message: Mapping[str, Any]) -> None:
    received = _moment(message.get("internalDate"))
    if "raw" in message and "labels" in message:
        labels = [str(label) for label in message.get("labels") or []]
        folder = next((f for label, f in _FOLDER_OF_LABEL if label in labels), "archive")
        categories = [
            label for label in labels if label not in _SYSTEM_LABELS and not label.startswith("CATEGORY_")
        ]
        state.add_message(message["raw"], folder, categories, thread=message.get("thread"), received=received)
        return
    fields = {k: v for k, v in message.items() if k not in ("folder", "categories", "thread", "internalDate")}
    content = fields.pop("raw") if "raw" in fields else fields
    state.add_message(
        content,
        str(message.get("folder") or "inbox"),
        message.get("categories") or (),
        thread=message.get("thread"),
        received=received,
    )


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    return parse_offset_datetime(str(value))


def _is_graph_task(task: Mapping[str, Any]) -> bool:
    return (
        "dueDateTime" in task
        or "body" in task
        or task.get("status") in ("notStarted", "inProgress", "waitingOnOthers", "deferred")
    )


def google_event(event: Mapping[str, Any], owner: str, user_zone: str) -> dict[str, Any]:
    """A Google Calendar event as the Graph event the same user would see in Outlook."""
    tz = str((event.get("start") or {}).get("timeZone") or user_zone or "UTC")
    out: dict[str, Any] = {"subject": str(event.get("summary", ""))}
    start, end = event.get("start") or {}, event.get("end") or {}
    if "date" in start:
        out["isAllDay"] = True
        out["start"] = {"dateTime": f"{start['date']}T00:00:00", "timeZone": tz}
        out["end"] = {"dateTime": f"{(end.get('date') or _next_day(start['date']))}T00:00:00", "timeZone": tz}
    else:
        out["start"] = _local(str(start.get("dateTime")), tz)
        out["end"] = _local(str(end.get("dateTime") or start.get("dateTime")), tz)
    if event.get("description"):
        out["body"] = {"contentType": "text", "content": str(event["description"])}
    if event.get("location"):
        out["location"] = {"displayName": str(event["location"])}
    if event.get("iCalUID"):
        out["iCalUId"] = str(event["iCalUID"])
    organizer = event.get("organizer") or {}
    mine = bool(organizer.get("self")) or str(organizer.get("email", "")).lower() == owner.lower()
    if organizer.get("email"):
        out["organizer"] = {
            "emailAddress": {
                "name": organizer.get("displayName") or organizer["email"],
                "address": organizer["email"],
            }
        }
    response = "organizer"
    attendees = []
    for attendee in event.get("attendees") or []:
        address = str(attendee.get("email", ""))
        if attendee.get("self") and not mine:
            response = _RESPONSE.get(str(attendee.get("responseStatus", "needsAction")), "none")
        if attendee.get("organizer") or not address:
            continue
        attendees.append(
            {
                "type": "optional" if attendee.get("optional") else "required",
                "status": {
                    "response": _RESPONSE.get(str(attendee.get("responseStatus", "needsAction")), "none")
                },
                "emailAddress": {"name": attendee.get("displayName") or address, "address": address},
            }
        )
    out["attendees"] = attendees
    out["responseStatus"] = {"response": response}
    if event.get("visibility") in ("private", "confidential"):
        out["sensitivity"] = "private"
    out["showAs"] = "free" if event.get("transparency") == "transparent" else "busy"
    if event.get("status") == "cancelled":
        out["isCancelled"] = True
    rules = [r for r in event.get("recurrence") or [] if str(r).startswith("RRULE:")]
    if rules:
        first_day = datetime.fromisoformat(out["start"]["dateTime"]).date()
        out["recurrence"] = rrule_to_recurrence(str(rules[0]), first_day, tz)
    return out


def _next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def _local(rfc3339: str, tz: str) -> dict[str, str]:
    moment = parse_offset_datetime(rfc3339).astimezone(zone(tz) if tz else ZoneInfo("UTC"))
    return {"dateTime": moment.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": tz}


def rrule_to_recurrence(rule: str, first_day: date, tz: str) -> dict[str, Any]:
    """An iCalendar RRULE as Graph's patternedRecurrence; ValueError for what Outlook cannot express."""
    parts = dict(p.split("=", 1) for p in rule.removeprefix("RRULE:").split(";") if "=" in p)
    freq = parts.get("FREQ", "")
    interval = int(parts.get("INTERVAL", "1"))
    days = [d for d in parts.get("BYDAY", "").split(",") if d]
    pattern: dict[str, Any] = {"interval": interval, "firstDayOfWeek": "sunday"}
    if freq == "DAILY":
        pattern["type"] = "daily"
    elif freq == "WEEKLY":
        pattern["type"] = "weekly"
        pattern["daysOfWeek"] = [_WEEKDAYS[d[-2:]] for d in days] or [
            list(_WEEKDAYS.values())[first_day.weekday()]
        ]
    elif freq == "MONTHLY" and days:
        ordinal = days[0][:-2] or "1"
        if int(ordinal) not in _ORDINALS:
            raise ValueError(f"the recurrence rule '{rule}' cannot be expressed in Microsoft 365")
        pattern.update(
            type="relativeMonthly", daysOfWeek=[_WEEKDAYS[days[0][-2:]]], index=_ORDINALS[int(ordinal)]
        )
    elif freq == "MONTHLY":
        pattern.update(type="absoluteMonthly", dayOfMonth=int(parts.get("BYMONTHDAY", first_day.day)))
    elif freq == "YEARLY":
        pattern.update(
            type="absoluteYearly",
            month=int(parts.get("BYMONTH", first_day.month)),
            dayOfMonth=int(parts.get("BYMONTHDAY", first_day.day)),
        )
    else:
        raise ValueError(f"the recurrence rule '{rule}' cannot be expressed in Microsoft 365")
    span: dict[str, Any] = {"type": "noEnd", "startDate": first_day.isoformat(), "recurrenceTimeZone": tz}
    if "COUNT" in parts:
        span.update(type="numbered", numberOfOccurrences=int(parts["COUNT"]))
    elif "UNTIL" in parts:
        until = parts["UNTIL"]
        span.update(type="endDate", endDate=f"{until[0:4]}-{until[4:6]}-{until[6:8]}")
    return {"pattern": pattern, "range": span}


def google_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """A Google Tasks task as a To Do task."""
    out: dict[str, Any] = {"title": str(task.get("title", ""))}
    if task.get("notes"):
        out["body"] = {"contentType": "text", "content": str(task["notes"])}
    if task.get("due"):
        out["dueDateTime"] = {"dateTime": str(task["due"])[:10] + "T00:00:00.0000000", "timeZone": "UTC"}
    if task.get("status") == "completed":
        out["status"] = "completed"
        if task.get("completed"):
            done = parse_offset_datetime(str(task["completed"]))
            out["completedDateTime"] = {
                "dateTime": done.strftime("%Y-%m-%dT%H:%M:%S") + ".0000000",
                "timeZone": "UTC",
            }
    return out


def google_contact(person: Mapping[str, Any]) -> dict[str, Any]:
    """A People API person as an Outlook contact."""
    names = (person.get("names") or [{}])[0]
    out: dict[str, Any] = {"givenName": names.get("givenName", ""), "surname": names.get("familyName", "")}
    emails = [e.get("value") for e in person.get("emailAddresses") or [] if e.get("value")]
    out["emailAddresses"] = [{"address": e, "name": e} for e in emails]
    phones = person.get("phoneNumbers") or []
    mobile = [p.get("value") for p in phones if str(p.get("type", "")).lower() == "mobile"]
    other = [p.get("value") for p in phones if str(p.get("type", "")).lower() != "mobile"]
    if mobile:
        out["mobilePhone"] = mobile[0]
    out["businessPhones"] = other
    organization = (person.get("organizations") or [{}])[0]
    for source, target in (("name", "companyName"), ("title", "jobTitle"), ("department", "department")):
        if organization.get(source):
            out[target] = organization[source]
    notes = (person.get("biographies") or [{}])[0].get("value")
    if notes:
        out["personalNotes"] = notes
    address = (person.get("addresses") or [None])[0]
    if address:
        out["businessAddress"] = {
            "street": address.get("streetAddress", ""),
            "city": address.get("city", ""),
            "state": address.get("region", ""),
            "postalCode": address.get("postalCode", ""),
            "countryOrRegion": address.get("country", "") or address.get("countryCode", ""),
        }
    return out
