"""Both sides of a sandbox and the links table, reduced to their natural content.

A snapshot is a multiset of lines per category ("Salesforce EmailMessageRelation", "mailbox
calendar", "links events", …). A line is one record, JSON with sorted keys, without what differs
from one run to the next although nothing went wrong: record Ids, etags, change keys, timestamps of
creation and modification, list positions. Where a record refers to another one (WhoId, a Task's
`[salesforce:Id]` note, a link's mailbox id, a Gmail label id), the Id is replaced by the other
record's natural description, so a relation to the wrong record still shows, and so does a dangling
one (its Id stays as it is and matches nothing).

Two snapshots are compared line by line: a line the interrupted run has more of is a duplicate, a
line it has fewer of is a loss. A record that exists once but with different content counts as one
of each.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from datetime import date, datetime
from typing import Any
from xml.etree import ElementTree

from rgsync.demo.sandbox import Sandbox
from rgsync.model import Stream
from rgsync.state import StateStore

# Keys whose values are the service's bookkeeping rather than content.
VOLATILE = frozenset(
    {
        "Id",
        "CreatedDate",
        "LastModifiedDate",
        "SystemModstamp",
        "CompletedDateTime",
        "LastReferencedDate",
        "LastViewedDate",
        "id",
        "etag",
        "@odata.etag",
        "updated",
        "created",
        "modified",
        "createdDateTime",
        "lastModifiedDateTime",
        "changeKey",
        "change_key",
        "iCalUID",
        "ical_uid",
        "htmlLink",
        "selfLink",
        "webViewLink",
        "position",
        "sequence",
        "metadata",
        "changed",
        "order",
        "history_id",
        "immutable_id",
        "rest_id",
        "conversationId",
        "version",
        "DateTimeCreated",
        "LastModifiedTime",
        "DateTimeReceived",
        "DateTimeSent",
        "ChangeKey",
        "ConversationId",
        "ConversationIndex",
        "folder_id",
        "raw",
        "completed",
        "completedDateTime",
        "bodyLastModifiedDateTime",
        "CompleteDate",
        "transaction_id",
        "_parsed",
    }
)

# Salesforce fields that describe a record to a person, in the order they are used.
_NATURAL_FIELDS = ("MessageIdentifier", "Email", "Name", "Subject", "StartDateTime", "ActivityDate", "Title")

Snapshot = dict[str, Counter[str]]


def _plain(value: Any) -> Any:
    """Any stored value as JSON-able data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in VOLATILE
        }
    if isinstance(value, dict):
        return {str(_plain(k)): _plain(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    if isinstance(value, ElementTree.Element) or hasattr(value, "itertext"):
        return "".join(value.itertext())
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "__dict__"):
        return _plain({k: v for k, v in vars(value).items() if not k.startswith("_")})
    return str(value)


class _Ids:
    """Id → natural description, for every record both sides hold, and a substitution over text."""

    # Ids are runs of letters, digits and a few marks; a longer run may join an Id to a prefix
    # ("people/c73…", "[salesforce:00T…]"), so its parts are looked up too.
    _TOKEN = re.compile(r"[A-Za-z0-9_=]+(?:[-/][A-Za-z0-9_=]+)*")

    def __init__(self) -> None:
        self.labels: dict[str, str] = {}

    def add(self, record_id: str | None, label: str) -> None:
        if record_id:
            self.labels[str(record_id)] = label

    def _token(self, match: re.Match[str]) -> str:
        token = match.group(0)
        label = self.labels.get(token)
        if label is not None:
            return "⟨" + label + "⟩"
        if "-" in token or "/" in token:
            return re.sub(r"[^-/]+", lambda part: self._part(part.group(0)), token)
        return token

    def _part(self, part: str) -> str:
        label = self.labels.get(part)
        return part if label is None else "⟨" + label + "⟩"

    def substitute(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._TOKEN.sub(self._token, value) if len(value) >= 8 else value
        if isinstance(value, dict):
            return {self.substitute(k): self.substitute(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.substitute(v) for v in value]
        return value


def _line(ids: _Ids, value: Any) -> str:
    return json.dumps(ids.substitute(_plain(value)), sort_keys=True, ensure_ascii=False)


def _salesforce_label(object_name: str, row: dict[str, Any]) -> str:
    parts = [str(row[f]) for f in _NATURAL_FIELDS if row.get(f)]
    return f"{object_name}:{'|'.join(parts)}"


def take_snapshot(sandbox: Sandbox) -> Snapshot:
    """Every record on both sides and every link, as natural content (see the module docstring)."""
    ids = _Ids()
    org = sandbox.salesforce.org
    salesforce: dict[str, list[dict[str, Any]]] = {}
    for object_name in sorted(org.objects):
        rows = org.records(object_name)
        if rows:
            salesforce[object_name] = rows
            for row in rows:
                ids.add(row.get("Id"), _salesforce_label(object_name, row))
                if isinstance(row.get("Id"), str) and len(row["Id"]) == 18:
                    ids.add(row["Id"][:15], _salesforce_label(object_name, row))
    mailbox = _MAILBOX_READERS[sandbox.mailbox_kind](sandbox.mailbox, ids)
    snapshot: Snapshot = {}
    for object_name, rows in salesforce.items():
        snapshot[f"Salesforce {object_name}"] = Counter(_line(ids, row) for row in rows)
    for category, rows in mailbox.items():
        snapshot[f"mailbox {category}"] = Counter(_line(ids, row) for row in rows)
    store = StateStore.open(sandbox.paths.state_db)
    try:
        links = {stream: list(store.links(stream).values()) for stream in Stream}
    finally:
        store.close()
    for stream_links in links.values():
        for link in stream_links:
            _name_occurrence(ids, link.mailbox_id)
    for stream, stream_links in links.items():
        snapshot[f"links {stream.value}"] = Counter(_line(ids, link) for link in stream_links)
    return snapshot


def _name_occurrence(ids: _Ids, mailbox_id: str) -> None:
    """An occurrence's id is made of its series' id and its start (Exchange encodes both, Microsoft
    365 joins them with `_occ_`): name it after both."""
    from rgsync.sandbox.ews.recurrence import split_occurrence_id

    if mailbox_id in ids.labels:
        return
    master, marker, stamp = mailbox_id.rpartition("_occ_")
    if marker and master in ids.labels:
        ids.add(mailbox_id, f"occurrence:{ids.labels[master]}|{stamp}")
        return
    parts = split_occurrence_id(mailbox_id)
    if parts is not None and parts[0] in ids.labels:
        ids.add(mailbox_id, f"occurrence:{ids.labels[parts[0]]}|{parts[1].isoformat()}")


# --- the three mailboxes -----------------------------------------------------------------------


def _google(running: Any, ids: _Ids) -> dict[str, list[Any]]:
    state = running.state
    with state.lock:
        gmail = state.gmail
        labels = {key: value.get("name", key) for key, value in gmail.user_labels.items()}
        for key, name in labels.items():
            ids.add(key, f"label:{name}")
        messages = []
        for message in gmail.messages.values():
            ids.add(message.id, f"message:{message.parsed.get('Message-ID', '')}")
            messages.append(
                {
                    "message_id": str(message.parsed.get("Message-ID", "")),
                    "labels": sorted(labels.get(label, label) for label in message.label_ids),
                }
            )
        events = []
        for event in state.calendar.events.values():
            resource = event.resource
            ids.add(resource.get("id"), f"event:{resource.get('summary', '')}|{resource.get('start')}")
            events.append(resource)
        for task_list in state.tasks.lists.values():
            ids.add(task_list["id"], f"tasklist:{task_list.get('title', '')}")
        tasks = []
        for list_id, items in state.tasks.tasks.items():
            for task in items.values():
                ids.add(task.get("id"), f"task:{task.get('title', '')}")
                tasks.append({"list": list_id, **task})
        for group in state.people.groups.values():
            ids.add(group["resourceName"], f"group:{group.get('name', '')}")
            ids.add(group["resourceName"].rpartition("/")[2], f"group:{group.get('name', '')}")
        contacts = []
        for person in state.people.people.values():
            if getattr(person, "deleted", False):
                continue
            resource = person.resource
            emails = [e.get("value", "") for e in resource.get("emailAddresses") or []]
            ids.add(resource.get("resourceName"), f"contact:{','.join(emails)}")
            contacts.append({k: v for k, v in resource.items() if k != "resourceName"})
        label_rows = [{"label": name} for name in labels.values()]
    return {
        "messages": messages,
        "labels": label_rows,
        "calendar": events,
        "tasks": tasks,
        "contacts": contacts,
    }


def _graph(running: Any, ids: _Ids) -> dict[str, list[Any]]:
    state = running.state
    with state.lock:
        messages = []
        for key, message in state.mail.messages.items():
            mid = message.resource.get("internetMessageId", "")
            for value in (key, message.immutable_id, message.rest_id):
                ids.add(value, f"message:{mid}")
            conversation = message.resource.get("conversationId")
            if conversation and conversation not in ids.labels:
                ids.add(conversation, f"conversation:{mid}")
            messages.append({"message_id": mid, "folder": message.folder, "categories": message.categories})
        events = []
        for key, event in state.calendar.events.items():
            ids.add(key, f"event:{event.subject}|{event.start.isoformat()}")
            ids.add(event.id, f"event:{event.subject}|{event.start.isoformat()}")
            events.append(event)
        for key, task_list in state.todo.lists.items():
            plain = _plain(task_list)
            ids.add(key, f"tasklist:{(plain.get('resource') or plain).get('displayName')}")
        tasks = []
        for key, task in state.todo.tasks.items():
            plain = _plain(task)
            ids.add(key, f"task:{(plain.get('resource') or plain).get('title')}")
            tasks.append(plain)
        for key, folder in state.people.folders.items():
            ids.add(key, f"folder:{_plain(folder)}")
        contacts = []
        for key, contact in state.people.contacts.items():
            plain = _plain(contact)
            addresses = (plain.get("resource") or plain).get("emailAddresses") or []
            ids.add(key, f"contact:{json.dumps(addresses, sort_keys=True)}")
            contacts.append(plain)
    return {"messages": messages, "calendar": events, "tasks": tasks, "contacts": contacts}


def _ews(running: Any, ids: _Ids) -> dict[str, list[Any]]:
    state = running.state
    with state.lock:
        folders = {key: folder.name for key, folder in state.folders.items()}
        for key, name in folders.items():
            ids.add(key, f"folder:{name}")
        rows: dict[str, list[Any]] = {}
        for key, item in state.items.items():
            plain = _plain(item)
            props = plain.get("props") or {}
            natural = (
                props.get("InternetMessageId")
                or props.get("DisplayName")
                or f"{props.get('Subject', '')}|{props.get('Start', '')}"
            )
            ids.add(key, f"item:{item.tag}:{natural}")
            plain["folder"] = folders.get(item.folder_id, item.folder_id)
            rows.setdefault(str(item.tag), []).append(plain)
    return rows


_MAILBOX_READERS = {"gmail": _google, "microsoft365": _graph, "exchange": _ews}


def compare(reference: Snapshot, trial: Snapshot) -> tuple[Counter[str], Counter[str]]:
    """(duplicates, losses): lines the trial has more of, and fewer of, than the reference."""
    extra: Counter[str] = Counter()
    missing: Counter[str] = Counter()
    for category in sorted(set(reference) | set(trial)):
        ours, theirs = trial.get(category, Counter()), reference.get(category, Counter())
        for line, n in (ours - theirs).items():
            extra[f"{category}: {line}"] += n
        for line, n in (theirs - ours).items():
            missing[f"{category}: {line}"] += n
    return extra, missing
