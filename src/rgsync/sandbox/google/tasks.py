"""The Google Tasks API v1 emulator: task lists and their tasks.

What matters to a sync client is reproduced: there is no sync token, so incremental reads are
`updatedMin` + `showDeleted` + `showHidden`; `due` keeps the date only (the time portion is
discarded, read back as T00:00:00.000Z); completing sets `completed`, reopening clears it; deleting
keeps the task with `deleted: true` (seen with showDeleted); clearing a list hides its completed
tasks (`hidden: true`, seen with showHidden).
"""

from __future__ import annotations

import base64
import copy
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rgsync.sandbox.google.common import (
    Call,
    GoogleApiError,
    Route,
    bad_request,
    encode_token,
    merge_patch,
    no_content,
    page_offset,
    parse_rfc3339,
    rfc3339,
    route,
)

DEFAULT_LIST_TITLE = "My Tasks"
MAX_TASK_RESULTS = 100
DEFAULT_TASK_RESULTS = 20
MAX_LIST_RESULTS = 1000
MAX_TITLE = 1024
MAX_NOTES = 8192
# Fields a client may write; everything else in a task is the server's.
WRITABLE = ("title", "notes", "status", "due", "completed", "deleted")


class TasksStore:
    """The task lists behind the Tasks emulator. Public methods are the Python setup helpers tests use."""

    def __init__(self, address: str, clock: Callable[[], datetime], lock: threading.RLock) -> None:
        self.address = address
        self.clock = clock
        self.lock = lock
        self.lists: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, dict[str, Any]]] = {}
        self._counter = 0
        self.add_task_list(DEFAULT_LIST_TITLE)

    # --- setup helpers ---------------------------------------------------------------------------

    def add_task_list(self, title: str) -> str:
        """Create a task list and return its id."""
        with self.lock:
            list_id = self._new_id("list")
            self.lists[list_id] = {
                "kind": "tasks#taskList",
                "id": list_id,
                "etag": self._etag(),
                "title": title,
                "updated": rfc3339(self.clock()),
                "selfLink": f"https://www.googleapis.com/tasks/v1/users/@me/lists/{list_id}",
            }
            self.tasks[list_id] = {}
            return list_id

    def list_id(self, title: str, *, create: bool = False) -> str:
        """The id of the task list with this title (or id); created when asked and missing."""
        with self.lock:
            if title in self.lists:
                return title
            for list_id, resource in self.lists.items():
                if resource["title"] == title:
                    return list_id
            if create:
                return self.add_task_list(title)
            raise KeyError(title)

    def add_task(self, list_title: str, task: dict[str, Any]) -> str:
        """Store a task (Tasks API JSON) in the list with this title (created if missing) and return its
        id. Unlike the API, `hidden`, `deleted` and `updated` may be set here to stage a scenario."""
        with self.lock:
            list_id = self.list_id(list_title, create=True)
            resource = self._insert(list_id, task, parent=None, previous=None)
            for key in ("hidden", "deleted"):
                if task.get(key):
                    resource[key] = True
            if task.get("updated"):
                resource["updated"] = rfc3339(parse_rfc3339(str(task["updated"]), what="updated"))
            return str(resource["id"])

    def update_task(self, list_title: str, task_id: str, changes: dict[str, Any]) -> None:
        """Patch a task as if edited in another client."""
        with self.lock:
            list_id = self.list_id(list_title)
            self._change(list_id, task_id, changes, replace=False)

    def get_task(self, list_title: str, task_id: str) -> dict[str, Any]:
        """A copy of a stored task (KeyError when unknown)."""
        with self.lock:
            return copy.deepcopy(self.tasks[self.list_id(list_title)][task_id])

    # --- internals -------------------------------------------------------------------------------

    def _new_id(self, kind: str) -> str:
        self._counter += 1
        raw = f"{kind}:{self.address}:{self._counter:012d}".encode()
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    def _etag(self) -> str:
        self._counter += 1
        return '"' + base64.b64encode(f"{self._counter:010d}".encode()).decode("ascii").rstrip("=") + '"'

    def _resolve_list(self, list_id: str) -> str:
        if list_id == "@default":
            return next(iter(self.lists))
        if list_id not in self.lists:
            raise GoogleApiError(404, "notFound", "Task list not found.")
        return list_id

    def _task(self, list_id: str, task_id: str) -> dict[str, Any]:
        task = self.tasks[list_id].get(task_id)
        if task is None:
            raise GoogleApiError(404, "notFound", "Task not found.")
        return task

    def _clean(self, body: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
        """Validate writable fields and apply the server's rules (date-only due, completed stamp)."""
        task: dict[str, Any] = {
            key: copy.deepcopy(body[key]) for key in WRITABLE if body.get(key) is not None
        }
        title = str(task.get("title", ""))
        if len(title) > MAX_TITLE:
            raise bad_request("Invalid value for: title exceeds the maximum length of 1024", location="title")
        if len(str(task.get("notes", ""))) > MAX_NOTES:
            raise bad_request("Invalid value for: notes exceeds the maximum length of 8192", location="notes")
        status = task.get("status", "needsAction")
        if status not in ("needsAction", "completed"):
            raise bad_request(f"Invalid value for: status ({status})", location="status")
        task["status"] = status
        if "due" in task:
            due_text = str(task["due"])
            parse_rfc3339(due_text, what="due")
            # Only the date is kept, as written: the time portion (and its offset) is discarded.
            task["due"] = due_text[:10] + "T00:00:00.000Z"
        if status == "completed":
            stamp = task.get("completed") or (previous or {}).get("completed")
            task["completed"] = (
                rfc3339(parse_rfc3339(str(stamp), what="completed")) if stamp else rfc3339(self.clock())
            )
        else:
            task.pop("completed", None)
        if "deleted" in task:
            task["deleted"] = bool(task["deleted"])
            if not task["deleted"]:
                task.pop("deleted")
        return task

    def _resource(
        self, list_id: str, task_id: str, fields: dict[str, Any], base: dict[str, Any]
    ) -> dict[str, Any]:
        resource: dict[str, Any] = {"kind": "tasks#task", "id": task_id, "etag": self._etag()}
        resource["title"] = fields.get("title", "")
        resource["updated"] = rfc3339(self.clock())
        resource["selfLink"] = f"https://www.googleapis.com/tasks/v1/lists/{list_id}/tasks/{task_id}"
        for key in ("parent", "position"):
            if key in base:
                resource[key] = base[key]
        for key in ("notes", "status", "due", "completed", "deleted"):
            if key in fields:
                resource[key] = fields[key]
        if base.get("hidden") and resource.get("status") == "completed":
            resource["hidden"] = True
        resource["links"] = []
        resource["webViewLink"] = f"https://tasks.google.com/task/{task_id}?sa=6"
        return resource

    def _siblings(self, list_id: str, parent: str | None) -> list[dict[str, Any]]:
        return sorted(
            (t for t in self.tasks[list_id].values() if t.get("parent") == parent and not t.get("deleted")),
            key=lambda t: str(t.get("position", "")),
        )

    def _place(self, list_id: str, task: dict[str, Any], parent: str | None, previous: str | None) -> None:
        """Put `task` first under `parent`, or right after `previous`, renumbering the siblings."""
        siblings = [t for t in self._siblings(list_id, parent) if t["id"] != task["id"]]
        index = 0
        if previous:
            positions = [t["id"] for t in siblings]
            if previous not in positions:
                raise bad_request("Invalid value for: previous", location="previous")
            index = positions.index(previous) + 1
        siblings.insert(index, task)
        if parent is None:
            task.pop("parent", None)
        else:
            task["parent"] = parent
        for number, sibling in enumerate(siblings):
            sibling["position"] = f"{number:020d}"

    def _insert(
        self, list_id: str, body: dict[str, Any], *, parent: str | None, previous: str | None
    ) -> dict[str, Any]:
        if parent is not None:
            self._task(list_id, parent)
        task_id = self._new_id("task")
        resource = self._resource(list_id, task_id, self._clean(body, None), {})
        self.tasks[list_id][task_id] = resource
        self._place(list_id, resource, parent, previous)
        return resource

    def _change(self, list_id: str, task_id: str, body: dict[str, Any], *, replace: bool) -> dict[str, Any]:
        previous = self._task(list_id, task_id)
        merged = body if replace else merge_patch({k: previous[k] for k in WRITABLE if k in previous}, body)
        if not replace and body.get("status") == "needsAction":
            merged.pop("completed", None)
        resource = self._resource(list_id, task_id, self._clean(merged, previous), previous)
        self.tasks[list_id][task_id] = resource
        return resource


# --- routes -------------------------------------------------------------------------------------


def routes(store: TasksStore) -> list[Route]:
    """The Tasks methods the emulator answers, counted as 'tasks.<resource>.<method>'."""

    def list_lists(call: Call) -> Any:
        items = list(store.lists.values())
        size = call.integer("maxResults", MAX_LIST_RESULTS, maximum=MAX_LIST_RESULTS, minimum=1)
        offset, _ = page_offset(call, "tl.")
        result: dict[str, Any] = {"kind": "tasks#taskLists", "etag": store._etag()}
        if offset + size < len(items):
            result["nextPageToken"] = encode_token("tl.", {"o": offset + size})
        page = items[offset : offset + size]
        if page:
            result["items"] = copy.deepcopy(page)
        return result

    def insert_list(call: Call) -> Any:
        title = str(call.body().get("title") or "").strip()
        if not title:
            raise bad_request("Missing title.", reason="required")
        return copy.deepcopy(store.lists[store.add_task_list(title)])

    def get_list(call: Call) -> Any:
        return copy.deepcopy(store.lists[store._resolve_list(call["tasklist"])])

    def change_list(call: Call) -> Any:
        list_id = store._resolve_list(call["tasklist"])
        title = call.body().get("title")
        if call.method == "PUT" and not title:
            raise bad_request("Missing title.", reason="required")
        resource = store.lists[list_id]
        if title:
            resource["title"] = str(title)
        resource["updated"] = rfc3339(store.clock())
        resource["etag"] = store._etag()
        return copy.deepcopy(resource)

    def delete_list(call: Call) -> Any:
        list_id = store._resolve_list(call["tasklist"])
        del store.lists[list_id]
        del store.tasks[list_id]
        return no_content()

    def list_tasks(call: Call) -> Any:
        list_id = store._resolve_list(call["tasklist"])
        show_completed = call.flag("showCompleted", True)
        show_deleted = call.flag("showDeleted")
        show_hidden = call.flag("showHidden")
        bounds = {
            name: parse_rfc3339(call.param(name) or "", what=name)
            for name in ("updatedMin", "completedMin", "completedMax", "dueMin", "dueMax")
            if call.param(name)
        }

        def within(task: dict[str, Any], key: str, low: str, high: str) -> bool:
            if low not in bounds and high not in bounds:
                return True
            if key not in task:
                return False
            stamp = parse_rfc3339(str(task[key]), what=key)
            return (low not in bounds or stamp >= bounds[low]) and (
                high not in bounds or stamp < bounds[high]
            )

        items = []
        for task in sorted(
            store.tasks[list_id].values(), key=lambda t: (t.get("parent") or "", str(t["position"]))
        ):
            if task.get("deleted") and not show_deleted:
                continue
            if task.get("hidden") and not show_hidden:
                continue
            if task.get("status") == "completed" and not show_completed:
                continue
            if (
                "updatedMin" in bounds
                and parse_rfc3339(str(task["updated"]), what="updated") < bounds["updatedMin"]
            ):
                continue
            if not within(task, "completed", "completedMin", "completedMax") or not within(
                task, "due", "dueMin", "dueMax"
            ):
                continue
            items.append(task)
        size = call.integer("maxResults", DEFAULT_TASK_RESULTS, maximum=MAX_TASK_RESULTS, minimum=1)
        offset, _ = page_offset(call, "tt.")
        result: dict[str, Any] = {"kind": "tasks#tasks", "etag": store._etag()}
        if offset + size < len(items):
            result["nextPageToken"] = encode_token("tt.", {"o": offset + size})
        page = items[offset : offset + size]
        if page:
            result["items"] = copy.deepcopy(page)
        return result

    def get_task(call: Call) -> Any:
        return copy.deepcopy(store._task(store._resolve_list(call["tasklist"]), call["task"]))

    def insert_task(call: Call) -> Any:
        list_id = store._resolve_list(call["tasklist"])
        resource = store._insert(
            list_id, call.body(), parent=call.param("parent"), previous=call.param("previous")
        )
        return copy.deepcopy(resource)

    def change_task(call: Call, *, replace: bool) -> Any:
        list_id = store._resolve_list(call["tasklist"])
        return copy.deepcopy(store._change(list_id, call["task"], call.body(), replace=replace))

    def delete_task(call: Call) -> Any:
        list_id = store._resolve_list(call["tasklist"])
        store._change(list_id, call["task"], {"deleted": True}, replace=False)
        return no_content()

    def move_task(call: Call) -> Any:
        list_id = store._resolve_list(call["tasklist"])
        task = store._task(list_id, call["task"])
        destination = call.param("destinationTasklist")
        if destination:
            target = store._resolve_list(destination)
            if target != list_id:
                del store.tasks[list_id][task["id"]]
                store.tasks[target][task["id"]] = task
                task["selfLink"] = f"https://www.googleapis.com/tasks/v1/lists/{target}/tasks/{task['id']}"
                list_id = target
        parent = call.param("parent")
        if parent is not None:
            store._task(list_id, parent)
        store._place(list_id, task, parent, call.param("previous"))
        task["updated"] = rfc3339(store.clock())
        task["etag"] = store._etag()
        return copy.deepcopy(task)

    def clear_list(call: Call) -> Any:
        list_id = store._resolve_list(call["tasklist"])
        for task in store.tasks[list_id].values():
            if task.get("status") == "completed" and not task.get("hidden"):
                task["hidden"] = True
                task["updated"] = rfc3339(store.clock())
                task["etag"] = store._etag()
        return no_content()

    lists = "/tasks/v1/users/@me/lists"
    tasks = "/tasks/v1/lists/{tasklist}"
    return [
        route("GET", lists, "tasks.tasklists.list", list_lists),
        route("POST", lists, "tasks.tasklists.insert", insert_list),
        route("GET", f"{lists}/{{tasklist}}", "tasks.tasklists.get", get_list),
        route("PATCH", f"{lists}/{{tasklist}}", "tasks.tasklists.patch", change_list),
        route("PUT", f"{lists}/{{tasklist}}", "tasks.tasklists.update", change_list),
        route("DELETE", f"{lists}/{{tasklist}}", "tasks.tasklists.delete", delete_list),
        route("GET", f"{tasks}/tasks", "tasks.tasks.list", list_tasks),
        route("POST", f"{tasks}/tasks", "tasks.tasks.insert", insert_task),
        route("POST", f"{tasks}/clear", "tasks.tasks.clear", clear_list),
        route("POST", f"{tasks}/tasks/{{task}}/move", "tasks.tasks.move", move_task),
        route("GET", f"{tasks}/tasks/{{task}}", "tasks.tasks.get", get_task),
        route(
            "PATCH", f"{tasks}/tasks/{{task}}", "tasks.tasks.patch", lambda c: change_task(c, replace=False)
        ),
        route("PUT", f"{tasks}/tasks/{{task}}", "tasks.tasks.update", lambda c: change_task(c, replace=True)),
        route("DELETE", f"{tasks}/tasks/{{task}}", "tasks.tasks.delete", delete_task),
    ]
