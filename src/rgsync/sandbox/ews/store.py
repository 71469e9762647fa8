"""The mailbox behind the EWS emulator: folders, items, a change journal per folder, sync states.

Items are kept as the XML properties clients send (one element per property, by local name, plus
extended properties by their identity), so whatever exchangelib writes it can read back. Every
change is appended to the journal of the item's folder; a sync state is a journal position, so
SyncFolderItems reports exactly what changed since the state it is given. A folder's states can
be invalidated on demand (its epoch moves on), which makes old states fail with
ErrorInvalidSyncStateData, as Exchange does after a mailbox move or a corrupt state.
"""

from __future__ import annotations

import base64
import bisect
import itertools
import json
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from .soap import format_datetime, parse_datetime, t

DISTINGUISHED: dict[str, tuple[str, str, str]] = {
    # distinguished id -> (display name, folder class, parent distinguished id)
    "root": ("Root", "", ""),
    "msgfolderroot": ("Top of Information Store", "IPF.Note", "root"),
    "inbox": ("Inbox", "IPF.Note", "msgfolderroot"),
    "sentitems": ("Sent Items", "IPF.Note", "msgfolderroot"),
    "drafts": ("Drafts", "IPF.Note", "msgfolderroot"),
    "deleteditems": ("Deleted Items", "IPF.Note", "msgfolderroot"),
    "junkemail": ("Junk Email", "IPF.Note", "msgfolderroot"),
    "outbox": ("Outbox", "IPF.Note", "msgfolderroot"),
    "calendar": ("Calendar", "IPF.Appointment", "msgfolderroot"),
    "tasks": ("Tasks", "IPF.Task", "msgfolderroot"),
    "contacts": ("Contacts", "IPF.Contact", "msgfolderroot"),
}
FOLDER_TAGS = {
    "IPF.Appointment": "CalendarFolder",
    "IPF.Task": "TasksFolder",
    "IPF.Contact": "ContactsFolder",
}
DEFAULT_ITEM_CLASS = {
    "Message": "IPM.Note",
    "CalendarItem": "IPM.Appointment",
    "Task": "IPM.Task",
    "Contact": "IPM.Contact",
    "MeetingRequest": "IPM.Schedule.Meeting.Request",
    "MeetingResponse": "IPM.Schedule.Meeting.Resp.Pos",
    "MeetingCancellation": "IPM.Schedule.Meeting.Canceled",
}


class EwsError(Exception):
    """An EWS response code for one item or folder (e.g. ErrorItemNotFound) with its message text."""

    def __init__(self, code: str, text: str = "") -> None:
        super().__init__(text or code)
        self.code = code
        self.text = text or code


@dataclass
class StoredFolder:
    """One mailbox folder."""

    id: str
    parent_id: str
    name: str
    folder_class: str
    distinguished: str = ""
    version: int = 1

    @property
    def tag(self) -> str:
        """The element name EWS uses for this kind of folder."""
        return FOLDER_TAGS.get(self.folder_class, "Folder")

    @property
    def changekey(self) -> str:
        """The ChangeKey of the current version."""
        return _changekey(self.id, self.version)


@dataclass
class StoredItem:
    """One item: its element name, its properties (local name -> element) and extended properties."""

    id: str
    folder_id: str
    tag: str
    props: dict[str, Any] = field(default_factory=dict)
    extended: dict[tuple[str, str], Any] = field(default_factory=dict)
    version: int = 1
    # Recurring masters only: original start (UTC ISO) -> overriding properties, and deleted ones.
    exceptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted_occurrences: set[str] = field(default_factory=set)

    @property
    def changekey(self) -> str:
        """The ChangeKey of the current version."""
        return _changekey(self.id, self.version)

    def text(self, name: str, default: str = "") -> str:
        """The text of a simple property ('' when absent)."""
        elem = self.props.get(name)
        return (elem.text or "") if elem is not None else default

    def set_text(self, name: str, value: str) -> None:
        """Set a simple property."""
        elem = etree.Element(t(name))
        elem.text = value
        self.props[name] = elem

    def datetime_of(self, name: str) -> datetime | None:
        """A dateTime property as an aware datetime (None when absent)."""
        value = self.text(name)
        return parse_datetime(value) if value else None

    @property
    def is_recurring_master(self) -> bool:
        """Whether this calendar item is the master of a recurring series."""
        return self.tag == "CalendarItem" and "Recurrence" in self.props


def _changekey(item_id: str, version: int) -> str:
    raw = f"{item_id[-12:]}:{version}".encode()
    return "CQAAABYAAA" + base64.b64encode(raw).decode("ascii")


def extended_key(uri: Any) -> tuple[str, str]:
    """The identity of an extended property from its `t:ExtendedFieldURI` element: (set, name)."""
    property_set = uri.get("DistinguishedPropertySetId") or (uri.get("PropertySetId") or "").lower() or "tag"
    name = uri.get("PropertyName") or uri.get("PropertyId") or uri.get("PropertyTag") or ""
    return property_set, name.lower() if property_set == "tag" else name


@dataclass
class JournalEntry:
    """One change of one item in a folder's journal, at a position shared by all folders."""

    position: int
    item_id: str
    kind: str  # create / update / delete / read
    known_before: bool = True


class EwsState:
    """One user's mailbox as the emulator serves it. All methods are thread-safe (one lock)."""

    def __init__(
        self,
        address: str,
        *,
        username: str = "",
        password: str = "",
        name: str = "",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.address = address.lower()
        self.name = name or address.split("@")[0].title()
        self.username = username or self.address
        self.password = password or "sandbox-password"
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.lock = threading.RLock()
        self.folders: dict[str, StoredFolder] = {}
        self.items: dict[str, StoredItem] = {}
        self.journal: dict[str, list[JournalEntry]] = {}
        # Per folder, each item's own journal entries (oldest first): a sync page then reads only
        # the entries it reports instead of every entry since the sync state (see `changes_since`).
        self._item_journal: dict[str, dict[str, list[JournalEntry]]] = {}
        self.epochs: dict[str, int] = {}
        # Every CreateItem/UpdateItem/DeleteItem call that touched calendar items:
        # (operation, SendMeetingInvitations… value, number of invitations actually sent).
        self.invitation_calls: list[tuple[str, str, int]] = []
        self._positions = itertools.count(1)
        self._ids = itertools.count(1)
        self._salt = secrets.token_hex(3)
        self._by_distinguished: dict[str, str] = {}
        for distinguished, (display, folder_class, parent) in DISTINGUISHED.items():
            folder_id = self._new_id("AQMk")
            self.folders[folder_id] = StoredFolder(
                folder_id, self._by_distinguished.get(parent, ""), display, folder_class, distinguished
            )
            self._by_distinguished[distinguished] = folder_id
            self.journal[folder_id] = []
            self._item_journal[folder_id] = {}
            self.epochs[folder_id] = 0

    def now(self) -> datetime:
        """The emulator's clock, in UTC."""
        return self.clock().astimezone(UTC)

    def _new_id(self, prefix: str = "AAMkAD") -> str:
        raw = f"{self._salt}-{next(self._ids):08d}".encode()
        return prefix + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    # --- folders -------------------------------------------------------------------------------------

    def folder_id(self, distinguished: str) -> str:
        """The id of a distinguished folder ('inbox', 'calendar', …)."""
        try:
            return self._by_distinguished[distinguished]
        except KeyError:
            raise EwsError("ErrorFolderNotFound", f"no distinguished folder {distinguished!r}") from None

    def folder(self, folder_id: str) -> StoredFolder:
        """A folder by id; ErrorFolderNotFound otherwise."""
        found = self.folders.get(folder_id)
        if found is None:
            raise EwsError("ErrorFolderNotFound", "The specified folder could not be found in the store.")
        return found

    def resolve_folder(self, name: str, *, create: bool = True) -> StoredFolder:
        """A folder by distinguished id, folder id, or 'parent/Child Name' path (created if missing)."""
        with self.lock:
            if name in self.folders:
                return self.folders[name]
            head, _, rest = name.partition("/")
            folder = self.folder(self.folder_id(head))
            for part in [p for p in rest.split("/") if p]:
                child = self.child_folder(folder.id, part)
                if child is None:
                    if not create:
                        raise EwsError("ErrorFolderNotFound", f"no folder {name!r}")
                    child = self.create_folder(folder.id, part, folder.folder_class)
                folder = child
            return folder

    def child_folder(self, parent_id: str, name: str) -> StoredFolder | None:
        """The subfolder of a folder with this display name (case-insensitive), if any."""
        for folder in self.folders.values():
            if folder.parent_id == parent_id and folder.name.lower() == name.lower():
                return folder
        return None

    def children(self, parent_id: str, deep: bool = False) -> list[StoredFolder]:
        """Subfolders of a folder (all levels below with `deep`)."""
        found = [f for f in self.folders.values() if f.parent_id == parent_id]
        if deep:
            for child in list(found):
                found += self.children(child.id, deep=True)
        return found

    def create_folder(self, parent_id: str, name: str, folder_class: str) -> StoredFolder:
        """A new subfolder; ErrorFolderExists when the parent already has one by that name."""
        with self.lock:
            parent = self.folder(parent_id)
            if not name.strip():
                raise EwsError("ErrorInvalidFolderId", "A folder needs a display name.")
            if self.child_folder(parent.id, name) is not None:
                raise EwsError("ErrorFolderExists", "A folder with the specified name already exists.")
            folder = StoredFolder(self._new_id("AQMk"), parent.id, name, folder_class or parent.folder_class)
            self.folders[folder.id] = folder
            self.journal[folder.id] = []
            self._item_journal[folder.id] = {}
            self.epochs[folder.id] = 0
            parent.version += 1
            return folder

    def delete_folder(self, folder_id: str) -> None:
        """Remove a folder with its items and subfolders (as the user emptying and deleting it)."""
        with self.lock:
            folder = self.folder(folder_id)
            if folder.distinguished:
                raise EwsError("ErrorDeleteDistinguishedFolder", "Distinguished folders cannot be deleted.")
            for child in self.children(folder.id):
                self.delete_folder(child.id)
            for item_id in [i.id for i in self.items.values() if i.folder_id == folder.id]:
                del self.items[item_id]
            del self.folders[folder.id]
            del self.journal[folder.id]
            del self._item_journal[folder.id]

    def item_count(self, folder_id: str) -> int:
        """How many items a folder holds."""
        return sum(1 for i in self.items.values() if i.folder_id == folder_id)

    # --- items ------------------------------------------------------------------------------------------

    def item(self, item_id: str) -> StoredItem:
        """An item by id; ErrorItemNotFound otherwise."""
        found = self.items.get(item_id)
        if found is None:
            raise EwsError("ErrorItemNotFound", "The specified object was not found in the store.")
        return found

    def folder_items(self, folder_id: str) -> list[StoredItem]:
        """The items of a folder, oldest first."""
        return [i for i in self.items.values() if i.folder_id == folder_id]

    def insert(
        self, folder_id: str, tag: str, props: dict[str, Any], extended: dict[tuple[str, str], Any]
    ) -> StoredItem:
        """Store a new item with server-set properties filled in; journals a create."""
        with self.lock:
            self.folder(folder_id)
            item = StoredItem(self._new_id(), folder_id, tag, dict(props), dict(extended))
            now = format_datetime(self.now())
            item.props.setdefault(
                "ItemClass", _text_elem("ItemClass", DEFAULT_ITEM_CLASS.get(tag, "IPM.Note"))
            )
            for name in ("DateTimeCreated", "LastModifiedTime"):
                item.props[name] = _text_elem(name, now)
            item.props.setdefault("DateTimeReceived", _text_elem("DateTimeReceived", now))
            self.items[item.id] = item
            self._journal(folder_id, item.id, "create")
            return item

    def touch(self, item: StoredItem, kind: str = "update") -> None:
        """Record a change to `item` (new change key, LastModifiedTime, journal entry)."""
        with self.lock:
            item.version += 1
            if kind != "read":
                item.props["LastModifiedTime"] = _text_elem("LastModifiedTime", format_datetime(self.now()))
            self._journal(item.folder_id, item.id, kind)

    def remove(self, item_id: str) -> StoredItem:
        """Delete an item for good; journals a delete."""
        with self.lock:
            item = self.item(item_id)
            del self.items[item_id]
            self._journal(item.folder_id, item.id, "delete")
            return item

    def move(self, item_id: str, folder_id: str) -> StoredItem:
        """Move an item (a delete in the old folder's journal, a create in the new one's)."""
        with self.lock:
            item = self.item(item_id)
            self.folder(folder_id)
            self._journal(item.folder_id, item.id, "delete")
            item.folder_id = folder_id
            item.version += 1
            self._journal(folder_id, item.id, "create")
            return item

    def _journal(self, folder_id: str, item_id: str, kind: str) -> None:
        if folder_id in self.journal:
            entry = JournalEntry(next(self._positions), item_id, kind)
            self.journal[folder_id].append(entry)
            self._item_journal[folder_id].setdefault(item_id, []).append(entry)

    # --- sync states -------------------------------------------------------------------------------------

    def sync_state(self, folder_id: str, position: int) -> str:
        """The opaque SyncState text for a journal position of a folder."""
        raw = json.dumps({"f": folder_id, "e": self.epochs[folder_id], "p": position}).encode()
        return "H4sIAAAAAAAEA" + base64.b64encode(raw).decode("ascii")

    def position_of(self, folder_id: str, state: str | None) -> int:
        """The journal position a SyncState stands for (0 for none); ErrorInvalidSyncStateData otherwise."""
        if not state:
            return 0
        invalid = EwsError(
            "ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid."
        )
        if not state.startswith("H4sIAAAAAAAEA"):
            raise invalid
        try:
            decoded = json.loads(base64.b64decode(state[len("H4sIAAAAAAAEA") :]))
            same = decoded["f"] == folder_id and decoded["e"] == self.epochs.get(folder_id)
            position = int(decoded["p"])
        except (ValueError, KeyError, TypeError):
            raise invalid from None
        if not same:
            raise invalid
        return position

    def invalidate_sync_states(self, folder_ids: Iterable[str] | None = None) -> None:
        """Every sync state handed out so far for these folders (default: all) becomes invalid."""
        with self.lock:
            for folder_id in folder_ids if folder_ids is not None else list(self.epochs):
                self.epochs[folder_id] = self.epochs.get(folder_id, 0) + 1

    def changes_since(
        self, folder_id: str, position: int, limit: int, ignore: set[str]
    ) -> tuple[list[tuple[str, str]], int, bool]:
        """Net changes after `position`: ([(kind, item id)], new position, includes last).

        Changes are ordered by their latest journal entry; an item created and deleted in between
        nets out; deletions are reported only for items the client could have seen.
        """
        with self.lock:
            journal = self.journal[folder_id]
            per_item = self._item_journal[folder_id]
            end = journal[-1].position if journal else position
            # Positions only grow, so the entries after `position` start where bisect says. An
            # item's change sorts by its latest entry: walking the journal in order and taking each
            # entry that is its item's latest lists the changes already sorted, and a page stops
            # reading once it has one change more than it returns.
            start = bisect.bisect_right(journal, position, key=lambda e: e.position)
            changes: list[tuple[str, str, int]] = []
            for index in range(start, len(journal)):
                last = journal[index]
                item_id = last.item_id
                own = per_item[item_id]
                if own[-1] is not last or item_id in ignore:
                    continue
                since = own[bisect.bisect_right(own, position, key=lambda e: e.position) :]
                created_here = since[0].kind == "create"
                exists = item_id in self.items and self.items[item_id].folder_id == folder_id
                if not exists:
                    if created_here:
                        continue  # created and removed since the state: the client never saw it
                    changes.append(("delete", item_id, last.position))
                elif created_here:
                    changes.append(("create", item_id, last.position))
                elif all(entry.kind == "read" for entry in since):
                    changes.append(("read", item_id, last.position))
                else:
                    changes.append(("update", item_id, last.position))
                if len(changes) > limit:
                    break
            page = changes[:limit]
            more = len(changes) > limit
            new_position = page[-1][2] if more else max(end, position)
            return [(kind, item_id) for kind, item_id, _ in page], new_position, not more


def _text_elem(name: str, text: str) -> Any:
    elem = etree.Element(t(name))
    elem.text = text
    return elem
