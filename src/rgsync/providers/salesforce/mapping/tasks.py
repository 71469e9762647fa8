"""Writing Tasks: the mailbox's `Salesforce Tasks` list as Salesforce Tasks (SPEC §5)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from rgsync.model import Priority, TaskItem
from rgsync.providers.salesforce.mapping.values import (
    TASK_DESCRIPTION_MAX,
    TASK_SUBJECT_MAX,
    OrgShape,
    fit,
    key_value,
)


def task_create(task: TaskItem, shape: OrgShape, natural_key: str) -> dict[str, Any]:
    """A Task from the mailbox's `Salesforce Tasks` list (SPEC §5)."""
    record: dict[str, Any] = {
        "attributes": {"type": "Task"},
        "Subject": task.subject[:TASK_SUBJECT_MAX],
        "ActivityDate": task.due.isoformat() if task.due else None,
        "Status": "Completed" if task.completed else "Not Started",
        "Priority": task.priority.value,
        "Description": fit(task.notes, TASK_DESCRIPTION_MAX) or None,
    }
    if task.owner_id:
        record["OwnerId"] = task.owner_id
    key_field = shape.key_field("Task")
    if key_field:
        record[key_field] = key_value(natural_key)
    return record


def task_update(changes: Mapping[str, object]) -> tuple[dict[str, Any], list[str]]:
    """Task fields for `Update.changes` (TaskItem names), and the names it cannot map."""
    out: dict[str, Any] = {}
    unknown: list[str] = []
    for name, value in changes.items():
        if name == "subject":
            out["Subject"] = str(value)[:TASK_SUBJECT_MAX]
        elif name == "due":
            out["ActivityDate"] = value.isoformat() if isinstance(value, date) else None
        elif name == "completed":
            out["Status"] = "Completed" if value else "Not Started"
        elif name == "priority":
            out["Priority"] = value.value if isinstance(value, Priority) else str(value)
        elif name == "notes":
            out["Description"] = fit(str(value), TASK_DESCRIPTION_MAX) or None
        elif name == "owner_id":
            out["OwnerId"] = value
        else:
            unknown.append(name)
    return out, unknown
