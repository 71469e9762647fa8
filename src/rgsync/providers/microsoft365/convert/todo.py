"""To Do tasks: todoTasks as TaskItems (due dates in the user's zone), and down-synced tasks' bodies."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from rgsync.model import Priority, TaskItem
from rgsync.providers.microsoft365.convert.values import (
    body_text,
    find_zone,
    local_date,
    parse_date_time_zone,
    parse_instant,
)

TASK_APPLICATION = "Salesforce"
_PRIORITY_IN = {"high": Priority.HIGH, "low": Priority.LOW}
_PRIORITY_OUT = {Priority.HIGH: "high", Priority.LOW: "low", Priority.NORMAL: "normal"}


def task_from_todo(task: Mapping[str, Any], zone_name: str = "UTC") -> TaskItem:
    """A To Do task as a TaskItem; the due date is the date the user sees (in `zone_name`)."""
    salesforce_id = None
    for link in task.get("linkedResources") or []:
        if str(link.get("applicationName") or "") == TASK_APPLICATION and link.get("externalId"):
            salesforce_id = str(link["externalId"])
    return TaskItem(
        id=str(task["id"]),
        subject=str(task.get("title") or ""),
        due=due_date(task.get("dueDateTime"), zone_name),
        completed=str(task.get("status") or "") == "completed",
        priority=_PRIORITY_IN.get(str(task.get("importance") or ""), Priority.NORMAL),
        notes=body_text(task.get("body")),
        salesforce_id=salesforce_id,
        last_modified=parse_instant(task.get("lastModifiedDateTime")),
    )


def due_date(value: Mapping[str, Any] | None, zone_name: str) -> date | None:
    """To Do keeps a due date as midnight in some zone; the date is read in the user's zone."""
    moment, unmapped = parse_date_time_zone(value)
    if moment is None:
        return None
    if unmapped:
        return local_date(value)
    zone = find_zone(zone_name) or ZoneInfo("UTC")
    return moment.astimezone(zone).date()


def _due(value: date | None, zone_name: str) -> dict[str, str] | None:
    return None if value is None else {"dateTime": f"{value.isoformat()}T00:00:00", "timeZone": zone_name}


def todo_body(item: TaskItem, zone_name: str) -> dict[str, Any]:
    """The POST body of a down-synced task, linked to its Salesforce Task."""
    body: dict[str, Any] = {
        "title": item.subject,
        "body": {"contentType": "text", "content": item.notes},
        "importance": _PRIORITY_OUT.get(item.priority, "normal"),
        "status": "completed" if item.completed else "notStarted",
    }
    if item.due is not None:
        body["dueDateTime"] = _due(item.due, zone_name)
    if item.salesforce_id:
        body["linkedResources"] = [
            {
                "applicationName": TASK_APPLICATION,
                "externalId": item.salesforce_id,
                "displayName": item.subject or item.salesforce_id,
            }
        ]
    return body


def todo_changes(changes: Mapping[str, object], zone_name: str) -> dict[str, Any]:
    """A PATCH body for changed TaskItem fields."""
    body: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "subject":
            body["title"] = str(value)
        elif name == "due":
            body["dueDateTime"] = _due(value if isinstance(value, date) else None, zone_name)
        elif name == "completed":
            body["status"] = "completed" if value else "notStarted"
        elif name == "priority":
            body["importance"] = _PRIORITY_OUT.get(Priority(str(value)), "normal")
        elif name == "notes":
            body["body"] = {"contentType": "text", "content": str(value)}
    return body
