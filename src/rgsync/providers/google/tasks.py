"""The tasks stream over Google Tasks v1: the task list `Salesforce Tasks` (SPEC §5).

The list is found by title (tasklists.list) and created when missing; its id rides in the cursor,
so an idle session costs one call. Google Tasks has no sync token: changes are read with
`updatedMin` = the highest `updated` seen so far (the high-water mark, kept in the cursor) plus
showDeleted/showHidden/showCompleted, so completed, cleared and deleted tasks all come back.
`updatedMin` is inclusive, so the tasks exactly at the mark are remembered in the cursor (id and
etag) and not reported again unless they change. The etag, not the stamp, says whether one
changed: `updated` counts milliseconds, so two changes within one keep the same stamp. A first
listing (no cursor) reads the whole list.

Google Tasks has neither extended properties nor a priority. rgsync keeps both in one trailer line
at the end of the task's notes, which it writes and strips on read:

    Call back before Friday
    [salesforce:00T5g00000AbCdEAAX priority:High]

`salesforce:` is the origin tag (what `find_tagged` looks for after a crash) and `priority:` the
Salesforce priority when it is not Normal. A user who edits the notes in Google sees the line and
may leave it alone; if they delete it, the task simply counts as theirs from then on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from rgsync.model import Create, Delete, Page, Priority, TaskItem, Update, Write, WriteResult
from rgsync.providers.base import ItemError
from rgsync.providers.google.api import GoogleApi

LIST_PAGE = 100  # tasks.list maximum
NOTES_LIMIT = 8192  # Google Tasks refuses longer notes
_TRAILER = re.compile(r"\n*\[((?:salesforce|priority):[^\s\]]+(?: (?:salesforce|priority):[^\s\]]+)*)\]\s*\Z")


def split_notes(notes: str) -> tuple[str, str | None, Priority]:
    """(the user's notes, the Salesforce id tag, the priority) from a task's notes field."""
    found = _TRAILER.search(notes or "")
    if found is None:
        return notes or "", None, Priority.NORMAL
    salesforce_id: str | None = None
    priority = Priority.NORMAL
    for token in found.group(1).split(" "):
        key, _, value = token.partition(":")
        if key == "salesforce" and value:
            salesforce_id = value
        elif key == "priority":
            try:
                priority = Priority(value)
            except ValueError:
                priority = Priority.NORMAL
    return (notes or "")[: found.start()], salesforce_id, priority


def join_notes(notes: str, salesforce_id: str | None, priority: Priority) -> str:
    """The notes field holding the user's notes and, when needed, the trailer line."""
    tokens = []
    if salesforce_id:
        tokens.append(f"salesforce:{salesforce_id}")
    if priority is not Priority.NORMAL:
        tokens.append(f"priority:{priority.value}")
    notes = (notes or "").rstrip()
    if not tokens:
        return notes[:NOTES_LIMIT]
    trailer = f"[{' '.join(tokens)}]"
    room = NOTES_LIMIT - len(trailer) - 2
    return f"{notes[:room]}\n\n{trailer}" if notes else trailer


def _due(value: date | None) -> str | None:
    # Google keeps the date only ("the time portion is discarded"); midnight UTC is the convention.
    return f"{value.isoformat()}T00:00:00.000Z" if value else None


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class GoogleTasks:
    """The `Salesforce Tasks` list (see the module docstring)."""

    def __init__(self, api: GoogleApi, *, list_name: str) -> None:
        self.api = api
        self.list_name = list_name
        self._list_id: str | None = None

    @property
    def _tasks(self) -> Any:
        return self.api.resource("tasks", "tasks")

    # -- the list -------------------------------------------------------------------------------
    def list_id(self) -> str:
        """The id of the `Salesforce Tasks` list, created when missing (tasklists.list, then insert)."""
        if self._list_id is None:
            lists = self.api.resource("tasks", "tasklists")
            token: str | None = None
            found: str | None = None
            while found is None:
                response = self.api.execute(lists.list(maxResults=100, pageToken=token), "the task lists")
                for entry in response.get("items", []):
                    if str(entry.get("title", "")).strip().lower() == self.list_name.strip().lower():
                        found = str(entry["id"])
                        break
                token = response.get("nextPageToken")
                if not token:
                    break
            if found is None:
                created = self.api.execute(
                    lists.insert(body={"title": self.list_name}), f"creating the task list '{self.list_name}'"
                )
                found = str(created["id"])
            self._list_id = found
        return self._list_id

    # -- reading --------------------------------------------------------------------------------
    def _list(
        self, list_id: str, since: str | None, token: str | None, *, deleted: bool = True
    ) -> dict[str, Any]:
        request = self._tasks.list(
            tasklist=list_id,
            updatedMin=since,
            showDeleted=deleted,
            showHidden=True,
            showCompleted=True,
            maxResults=LIST_PAGE,
            pageToken=token,
        )
        return dict(self.api.execute(request, f"the tasks of '{self.list_name}'"))

    def changes(self, cursor: str | None) -> Iterator[Page]:
        """Pages of changed tasks since `cursor`, or a full listing of the list."""
        state = _read_cursor(cursor)
        if state is not None:
            list_id, since, seen = state
            try:
                first = self._list(list_id, since, None)
            except ItemError as exc:
                if exc.code not in ("MAIL-NOT-FOUND", "MAIL-GONE"):
                    raise
                self._list_id = None  # the list was deleted: find or create it again, list it all
            else:
                self._list_id = list_id
                yield from self._pages(first, list_id, since, seen, full=False, reset=False)
                return
        list_id = self.list_id()
        yield from self._pages(
            self._list(list_id, None, None), list_id, None, frozenset(), full=True, reset=cursor is not None
        )

    def _pages(
        self,
        response: dict[str, Any],
        list_id: str,
        since: str | None,
        seen: frozenset[str],
        *,
        full: bool,
        reset: bool,
    ) -> Iterator[Page]:
        mark, at_mark = since, set(seen) if since else set()
        mark_time = since_time = _parse_time(since) if since else None
        while True:
            items: list[TaskItem] = []
            deleted: list[str] = []
            for task in response.get("items", []):
                task_id = str(task["id"])
                updated = str(task.get("updated") or "")
                if updated:
                    moment = _parse_time(updated)
                    version = _at_mark_key(task)
                    if since_time is not None and moment == since_time and version in seen:
                        continue  # reported at the previous mark and unchanged since (updatedMin is inclusive)
                    if mark_time is None or moment > mark_time:
                        mark, mark_time, at_mark = updated, moment, {version}
                    elif moment == mark_time:
                        at_mark.add(version)
                if task.get("deleted"):
                    if not full:
                        deleted.append(task_id)
                    continue
                items.append(self.to_item(task))
            token = response.get("nextPageToken")
            last = not token
            cursor = _write_cursor(list_id, mark, at_mark) if last else None
            yield Page(
                items=tuple(items), deleted=tuple(deleted), cursor=cursor, full=full, last=last, reset=reset
            )
            if last:
                return
            response = self._list(list_id, since, token)

    @staticmethod
    def to_item(task: Mapping[str, Any]) -> TaskItem:
        """A Google task as a `TaskItem` (the trailer line read and stripped from the notes)."""
        notes, salesforce_id, priority = split_notes(str(task.get("notes") or ""))
        due = str(task.get("due") or "")
        updated = task.get("updated")
        return TaskItem(
            id=str(task["id"]),
            subject=str(task.get("title") or ""),
            due=date.fromisoformat(due[:10]) if len(due) >= 10 else None,
            completed=task.get("status") == "completed",
            priority=priority,
            notes=notes,
            salesforce_id=salesforce_id,
            last_modified=_parse_time(str(updated)) if updated else None,
        )

    # -- writing --------------------------------------------------------------------------------
    def apply(self, writes: Sequence[Write], results: list[WriteResult | None]) -> None:
        """Carry out `writes`, filling `results` as each completes (see `CalendarEvents.apply`)."""
        for n, write in enumerate(writes):
            if results[n] is not None:
                continue
            try:
                if isinstance(write, Create):
                    results[n] = self._create(write)
                elif isinstance(write, Update):
                    results[n] = self._update(write)
                elif isinstance(write, Delete):
                    results[n] = self._delete(write.id)
            except ItemError as exc:
                results[n] = WriteResult(ok=False, error_code=exc.code or "MAIL-REFUSED", message=exc.message)

    def _create(self, write: Create) -> WriteResult:
        task = write.record
        if not isinstance(task, TaskItem):
            return WriteResult(
                ok=False, error_code="MAIL-REFUSED", message=f"cannot create {type(task).__name__} as a task"
            )
        body: dict[str, Any] = {
            "title": task.subject,
            "notes": join_notes(task.notes, task.salesforce_id, task.priority),
            "status": "completed" if task.completed else "needsAction",
        }
        if task.due:
            body["due"] = _due(task.due)
        created = self.api.execute(
            self._tasks.insert(tasklist=self.list_id(), body=body), f"creating the task '{task.subject}'"
        )
        return WriteResult(ok=True, id=str(created["id"]))

    def _update(self, write: Update) -> WriteResult:
        changes = dict(write.changes)
        body: dict[str, Any] = {}
        if "subject" in changes:
            body["title"] = str(changes["subject"] or "")
        if "due" in changes:
            due = changes["due"]
            body["due"] = _due(due) if isinstance(due, date) else None
        if "completed" in changes:
            body["status"] = "completed" if changes["completed"] else "needsAction"
            if not changes["completed"]:
                body["completed"] = None  # re-opened: Google keeps the completion time otherwise
        if any(k in changes for k in ("notes", "priority", "salesforce_id")):
            current = self.api.execute(
                self._tasks.get(tasklist=self.list_id(), task=write.id), "the task to change"
            )
            notes, salesforce_id, priority = split_notes(str(current.get("notes") or ""))
            notes = str(changes.get("notes", notes) or "")
            new_priority = changes.get("priority", priority)
            salesforce_id = changes.get("salesforce_id", salesforce_id)  # type: ignore[assignment]
            body["notes"] = join_notes(
                notes,
                str(salesforce_id) if salesforce_id else None,
                new_priority if isinstance(new_priority, Priority) else Priority(str(new_priority)),
            )
        if body:
            patch = self._tasks.patch(tasklist=self.list_id(), task=write.id, body=body)
            self.api.execute(patch, "changing a task")
        return WriteResult(ok=True, id=write.id)

    def _delete(self, task_id: str) -> WriteResult:
        try:
            self.api.execute(self._tasks.delete(tasklist=self.list_id(), task=task_id), "deleting a task")
        except ItemError as exc:
            if exc.code not in ("MAIL-NOT-FOUND", "MAIL-GONE"):
                raise
        return WriteResult(ok=True, id=task_id)

    # -- crash recovery ---------------------------------------------------------------------------
    def find_tagged(self, salesforce_ids: Collection[str]) -> dict[str, str]:
        """Task ids of tasks whose trailer carries these Salesforce ids (reads the whole list)."""
        wanted = set(salesforce_ids)
        found: dict[str, str] = {}
        list_id = self.list_id()
        token: str | None = None
        while True:
            response = self._list(list_id, None, token, deleted=False)
            for task in response.get("items", []):
                _notes, salesforce_id, _priority = split_notes(str(task.get("notes") or ""))
                if salesforce_id in wanted and not task.get("deleted"):
                    found[salesforce_id] = str(task["id"])
            token = response.get("nextPageToken")
            if not token:
                return found


def _at_mark_key(task: dict[str, Any]) -> str:
    """How a task at the mark is remembered: its id and etag (a cursor written before etags were
    kept holds bare ids, which match nothing: those tasks are reported once more, harmlessly)."""
    return f"{task['id']} {task.get('etag') or ''}"


def _read_cursor(cursor: str | None) -> tuple[str, str | None, frozenset[str]] | None:
    """(list id, high-water mark, tasks at the mark) from a cursor; None when missing or foreign."""
    if not cursor:
        return None
    try:
        state = json.loads(cursor)
        list_id = str(state["list"])
        since = state.get("since")
        seen = frozenset(str(i) for i in state.get("seen", ()))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return list_id, (str(since) if since else None), seen


def _write_cursor(list_id: str, mark: str | None, at_mark: Collection[str]) -> str:
    return json.dumps({"list": list_id, "since": mark, "seen": sorted(at_mark)}, separators=(",", ":"))
