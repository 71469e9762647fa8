"""Microsoft To Do: task lists and their tasks, with linked resources, and a change log per list.

A mailbox starts with the default list ('Tasks', wellknownListName `defaultList`) and 'Flagged
Emails'. A task can carry `linkedResources` (an application name, an external id, a link): how a
client records where a task came from. Task properties the todoTask type does not define are
refused, as Graph does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rgsync.sandbox.graph.common import (
    GraphError,
    Json,
    deep_copy,
    iso_utc,
    new_id,
    parse_date_time_zone,
)
from rgsync.sandbox.graph.delta import ChangeLog

TASK_FIELDS = frozenset(
    {
        "title",
        "body",
        "importance",
        "status",
        "dueDateTime",
        "startDateTime",
        "completedDateTime",
        "reminderDateTime",
        "isReminderOn",
        "categories",
        "recurrence",
        "linkedResources",
        "checklistItems",
        "hasAttachments",
    }
)
STATUSES = ("notStarted", "inProgress", "completed", "waitingOnOthers", "deferred")
IMPORTANCE = ("low", "normal", "high")


@dataclass
class StoredTask:
    """One task of a list, with its linked resources."""

    id: str
    list_id: str
    resource: Json
    linked: list[Json] = field(default_factory=list)


class TodoStore:
    """Task lists and tasks."""

    def __init__(self, clock: Callable[[], datetime], log: ChangeLog) -> None:
        self.clock = clock
        self.log = log
        self.lists: dict[str, Json] = {}
        self.tasks: dict[str, StoredTask] = {}
        self._add_list("Tasks", "defaultList")
        self._add_list("Flagged Emails", "flaggedEmails")

    def _add_list(self, name: str, well_known: str = "none") -> Json:
        entry: Json = {
            "@odata.etag": 'W/"' + new_id("", 16) + '"',
            "id": new_id("AAMkAGT", 40),
            "displayName": name,
            "isOwner": True,
            "isShared": False,
            "wellknownListName": well_known,
        }
        self.lists[entry["id"]] = entry
        return entry

    # -- lists -----------------------------------------------------------------------------------
    def create_list(self, body: Mapping[str, Any]) -> Json:
        """Create a task list (To Do allows two lists with one name; so does the emulator)."""
        name = str(body.get("displayName") or "").strip()
        if not name:
            raise GraphError(400, "invalidRequest", "The property 'displayName' is required.")
        return deep_copy(self._add_list(name))

    def list_id(self, list_id: str) -> str:
        """Check a list id; Graph's 404 when there is no such list."""
        if list_id not in self.lists:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return list_id

    def find_list(self, name: str) -> str | None:
        """The id of the first list with this display name, if any."""
        return next(
            (i for i, entry in self.lists.items() if entry["displayName"].lower() == name.lower()), None
        )

    # -- tasks -----------------------------------------------------------------------------------
    def resolve(self, list_id: str, task_id: str) -> StoredTask:
        """A task of a list; Graph's 404 otherwise."""
        self.list_id(list_id)
        stored = self.tasks.get(task_id)
        if stored is None or stored.list_id != list_id:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return stored

    def create(self, list_id: str, body: Mapping[str, Any]) -> StoredTask:
        """Create a task (with inline linkedResources, as Graph allows)."""
        self.list_id(list_id)
        if not str(body.get("title") or "").strip():
            raise GraphError(400, "invalidRequest", "The property 'title' is required.")
        stored = StoredTask(new_id("AAMkAGT", 64), list_id, {"createdDateTime": iso_utc(self.clock())})
        self._apply(stored, body)
        self.tasks[stored.id] = stored
        self.log.record(self.collection(list_id), stored.id, None)
        return stored

    def update(self, list_id: str, task_id: str, changes: Mapping[str, Any]) -> StoredTask:
        """PATCH a task."""
        stored = self.resolve(list_id, task_id)
        before = deep_copy(stored)
        self._apply(stored, changes)
        self.log.record(self.collection(list_id), stored.id, before)
        return stored

    def delete(self, list_id: str, task_id: str) -> None:
        """Delete a task."""
        stored = self.resolve(list_id, task_id)
        del self.tasks[stored.id]
        self.log.record(self.collection(list_id), stored.id, stored)

    def collection(self, list_id: str) -> str:
        """The change-log collection of a list."""
        return f"todo:{list_id}"

    def in_list(self, list_id: str) -> list[StoredTask]:
        """The tasks of a list in creation order."""
        return [t for t in self.tasks.values() if t.list_id == list_id]

    def render(self, stored: StoredTask, *, expand_links: bool = False) -> Json:
        """The task as Graph's todoTask resource (linkedResources only when expanded)."""
        body = deep_copy(stored.resource)
        body["id"] = stored.id
        if expand_links:
            body["linkedResources"] = deep_copy(stored.linked)
        return body

    def _apply(self, stored: StoredTask, body: Mapping[str, Any]) -> None:
        resource = stored.resource
        for name, value in body.items():
            if name.startswith("@odata") or name in ("id", "createdDateTime", "lastModifiedDateTime"):
                continue
            if name not in TASK_FIELDS:
                raise GraphError(
                    400,
                    "invalidRequest",
                    f"Invalid request body: the property '{name}' does not exist on type 'microsoft.graph.todoTask'.",
                )
            if name == "status":
                if value not in STATUSES:
                    raise GraphError(
                        400,
                        "invalidRequest",
                        f"The status '{value}' is not valid; use one of: {', '.join(STATUSES)}.",
                    )
                resource["status"] = value
                if value == "completed" and "completedDateTime" not in body:
                    resource["completedDateTime"] = {
                        "dateTime": iso_utc(self.clock())[:-1] + ".0000000",
                        "timeZone": "UTC",
                    }
                elif value != "completed":
                    resource.pop("completedDateTime", None)
            elif name == "importance":
                if value not in IMPORTANCE:
                    raise GraphError(
                        400,
                        "invalidRequest",
                        f"The importance '{value}' is not valid; use low, normal or high.",
                    )
                resource["importance"] = value
            elif name in ("dueDateTime", "startDateTime", "completedDateTime", "reminderDateTime"):
                if value is None:
                    resource.pop(name, None)
                else:
                    parse_date_time_zone(value, name)
                    resource[name] = {
                        "dateTime": str(value["dateTime"]),
                        "timeZone": str(value.get("timeZone") or "UTC"),
                    }
            elif name == "body":
                value = value or {}
                resource["body"] = {
                    "content": str(value.get("content", "")),
                    "contentType": str(value.get("contentType", "text")).lower(),
                }
            elif name == "linkedResources":
                stored.linked = [_linked(v) for v in value or []]
            else:
                resource[name] = deep_copy(value)
        resource.setdefault("importance", "normal")
        resource.setdefault("status", "notStarted")
        resource.setdefault("isReminderOn", False)
        resource.setdefault("body", {"content": "", "contentType": "text"})
        resource.setdefault("categories", [])
        resource["lastModifiedDateTime"] = iso_utc(self.clock())
        resource["bodyLastModifiedDateTime"] = resource["lastModifiedDateTime"]
        resource["@odata.etag"] = 'W/"' + new_id("", 22) + '"'


def _linked(value: Any) -> Json:
    if not isinstance(value, Mapping) or not (value.get("applicationName") or value.get("webUrl")):
        raise GraphError(400, "invalidRequest", "A linked resource needs an 'applicationName' or a 'webUrl'.")
    return {
        "id": new_id("", 32),
        "webUrl": value.get("webUrl"),
        "applicationName": value.get("applicationName"),
        "displayName": value.get("displayName"),
        "externalId": value.get("externalId"),
    }
