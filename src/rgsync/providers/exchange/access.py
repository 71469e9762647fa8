"""What reading and writing share: the mailbox's folders, the sync-state page, GetItem in batches,
cursor encoding, and the constants of the EWS limits rgsync works within.
"""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from exchangelib import CalendarItem as EwsCalendarItem
from exchangelib import Contact as EwsContact
from exchangelib import Message
from exchangelib import Task as EwsTask
from exchangelib.folders import (
    Calendar,
    Contacts,
    DeletedItems,
    Drafts,
    Folder,
    Inbox,
    JunkEmail,
    SentItems,
    Tasks,
)
from exchangelib.items import (
    ID_ONLY,
    SHALLOW,
)
from exchangelib.restriction import Q, Restriction
from exchangelib.services import CreateFolder, FindFolder, GetFolder, GetItem, SyncFolderItems

from rgsync.model import (
    CONTACT_FOLDER_NAME,
    TASK_LIST_NAME,
    Stream,
)
from rgsync.model import Folder as MailFolder
from rgsync.providers.base import FatalError, ItemError, ProviderError
from rgsync.providers.own_marks import OwnMarks, RecentlyRead

from . import convert
from .connection import EwsConnection, chunked, provider_error
from .light import LISTED_FIELDS, GetEmails, ListEmails, message_field

SYNC_PAGE = 512  # the most changes EWS returns per SyncFolderItems call
BATCH = 100  # items per GetItem / CreateItem / UpdateItem / DeleteItem call
VIEW_LIMIT = 1000  # CalendarView has no paging: a fuller range is split in two
TAG_QUERY = 50  # Salesforce Ids per FindItem restriction
INVALID_STATE = "MAIL-SYNC-STATE-INVALID"
FOLDER_GONE = "MAIL-FOLDER-NOT-FOUND"
CURSOR_PREFIX = "ews1."

EMAIL_FOLDERS: tuple[tuple[str, type[Folder], MailFolder], ...] = (
    ("inbox", Inbox, MailFolder.INBOX),
    ("sentitems", SentItems, MailFolder.SENT),
)
OTHER_MAIL_FOLDERS: tuple[tuple[str, type[Folder], MailFolder], ...] = (
    ("junkemail", JunkEmail, MailFolder.JUNK),
    ("deleteditems", DeletedItems, MailFolder.TRASH),
    ("drafts", Drafts, MailFolder.DRAFTS),
)
SUBFOLDERS: dict[Stream, tuple[str, type[Folder], str, str]] = {
    # stream -> (parent distinguished id, parent class, subfolder name, folder class)
    Stream.TASKS: ("tasks", Tasks, TASK_LIST_NAME, "IPF.Task"),
    Stream.CONTACTS: ("contacts", Contacts, CONTACT_FOLDER_NAME, "IPF.Contact"),
}
ITEM_CLASSES: dict[Stream, type] = {
    Stream.EVENTS: EwsCalendarItem,
    Stream.TASKS: EwsTask,
    Stream.CONTACTS: EwsContact,
}


def encode_cursor(stream: Stream, data: dict[str, Any]) -> str:
    """A cursor string: the stream, the sync states and what else resumption needs, as JSON."""
    raw = json.dumps({"k": stream.value, **data}, separators=(",", ":"), sort_keys=True).encode()
    return CURSOR_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii")


def decode_cursor(stream: Stream, cursor: str | None) -> dict[str, Any] | None:
    """The data of a cursor of this stream, or None when there is none or it is not one of ours."""
    if not cursor or not cursor.startswith(CURSOR_PREFIX):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor[len(CURSOR_PREFIX) :]))
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("k") != stream.value:
        return None
    return data


def _code(exc: ProviderError) -> str:
    return exc.code if isinstance(exc, ItemError) else ""


class MailboxAccess:
    """The Exchange mailbox's plumbing: identity, folders, SyncFolderItems pages and GetItem batches."""

    def __init__(
        self,
        connection: EwsConnection,
        *,
        address: str,
        aliases: Collection[str] = (),
        time_zone: str | None = None,
        clock: Callable[[], datetime] | None = None,
        sync_page: int = SYNC_PAGE,
    ) -> None:
        self.connection = connection
        self.address = address.strip().lower()
        self.aliases = frozenset(a.strip().lower() for a in aliases)
        try:
            self.tz = ZoneInfo(time_zone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            self.tz = ZoneInfo("UTC")
        self.sync_page = max(1, min(sync_page, SYNC_PAGE))
        self._now = clock or (lambda: datetime.now(UTC))
        self._subfolders: dict[Stream, str] = {}
        self._mail_folders: dict[str, MailFolder] | None = None
        # (Email id, the ChangeKey our category update produced), see Reads.past_own_marks.
        self._marked = OwnMarks()
        # Email id -> (ChangeKey, categories) as this run last read or wrote them (see `Writes.mark`).
        self._seen: RecentlyRead[tuple[str, tuple[str, ...]]] = RecentlyRead()

    # --- protocol basics ---------------------------------------------------------------------------

    @property
    def api_calls(self) -> int:
        """SOAP requests sent so far (retries included)."""
        return self.connection.requests_sent

    def close(self) -> None:
        """Close the HTTP sessions (see `EwsConnection.close`)."""
        self.connection.close()

    @property
    def _account(self) -> Any:
        return self.connection.account

    @property
    def _owner(self) -> set[str]:
        return {self.address, *self.aliases}

    # --- folders ---------------------------------------------------------------------------------------

    def _subfolder_id(self, stream: Stream, *, create: bool = True) -> str | None:
        """The id of `Salesforce Tasks` / `Salesforce Contacts`, found (FindFolder) or created once."""
        if stream in self._subfolders:
            return self._subfolders[stream]
        parent_name, parent_cls, name, folder_class = SUBFOLDERS[stream]
        parent = self.connection.distinguished(parent_cls, parent_name)
        found = self._find_folder(parent, name)
        if found is None and create:
            try:
                created = self.connection.call(
                    "CreateFolder",
                    lambda: list(
                        CreateFolder(account=self._account).call(
                            parent_folder=parent,
                            folders=[
                                Folder(root=self.connection.root(), name=name, folder_class=folder_class)
                            ],
                        )
                    ),
                )
            except ItemError:
                created = []  # created meanwhile by another client (ErrorFolderExists): look again
            found = (
                created[0].id
                if created and not isinstance(created[0], Exception)
                else self._find_folder(parent, name)
            )
            if found is None:
                raise FatalError(f"cannot create the folder '{name}' in Exchange", code="MAIL-FOLDER")
        if found is not None:
            self._subfolders[stream] = found
        return found

    def _find_folder(self, parent: Folder, name: str) -> str | None:
        restriction = Restriction(Q(name=name), folders=[parent], applies_to=Restriction.FOLDERS)
        found = self.connection.call(
            "FindFolder",
            lambda: list(
                FindFolder(account=self._account).call(
                    folders=[parent],
                    additional_fields=[],
                    restriction=restriction,
                    shape=ID_ONLY,
                    depth=SHALLOW,
                    max_items=10,
                    offset=0,
                )
            ),
        )
        ids = [f.id for f in found if not isinstance(f, Exception)]
        return ids[0] if ids else None

    def _folder(self, stream: Stream, folder_id: str | None = None) -> Folder:
        if stream is Stream.EVENTS:
            return self.connection.distinguished(Calendar, "calendar")
        folder_id = folder_id or self._subfolder_id(stream)
        assert folder_id is not None
        return self.connection.folder(SUBFOLDERS[stream][1], folder_id)

    def _mail_folder_kinds(self) -> dict[str, MailFolder]:
        """Folder id → which mail folder it is (one GetFolder, once)."""
        if self._mail_folders is None:
            known = EMAIL_FOLDERS + OTHER_MAIL_FOLDERS
            folders = [self.connection.distinguished(cls, name) for name, cls, _ in known]
            found = self.connection.call(
                "GetFolder",
                lambda: list(
                    GetFolder(account=self._account).call(
                        folders=folders, additional_fields=[], shape=ID_ONLY
                    )
                ),
            )
            self._mail_folders = {
                f.id: kind
                for f, (_n, _c, kind) in zip(found, known, strict=False)
                if not isinstance(f, Exception)
            }
        return self._mail_folders

    def _remember(self, item_id: str, changekey: str | None, categories: Any) -> None:
        """Keep an email's ChangeKey and categories for `mark` (for the newest emails only)."""
        if item_id and changekey:
            self._seen.remember(item_id, (str(changekey), tuple(str(c) for c in categories or ())))

    # --- low-level reads ---------------------------------------------------------------------------------

    def _sync_page(
        self, folder: Folder, state: str | None, cls: type, fields: Sequence[str]
    ) -> tuple[list[tuple[str, Any]], str, bool]:
        """One SyncFolderItems page: ([(change type, item or id)], new state, last page?)."""

        light = cls is Message and set(fields) <= LISTED_FIELDS

        def send() -> tuple[list[tuple[str, Any]], str, bool]:
            service = (ListEmails if light else SyncFolderItems)(account=self._account)
            changes = list(
                service.call(
                    folder=folder,
                    shape=ID_ONLY,
                    additional_fields=convert.field_paths(cls, fields),
                    sync_state=state,
                    ignore=None,
                    max_changes_returned=self.sync_page,
                    sync_scope=None,
                )
            )
            return changes, service.sync_state, bool(service.includes_last_item_in_range)

        return self.connection.call("SyncFolderItems", send)

    @staticmethod
    def _split(changes: list[tuple[str, Any]]) -> tuple[list[Any], list[str]]:
        """(created or changed items, deleted ids) of a sync page; read-flag changes are ignored."""
        changed = [item for kind, item in changes if kind in ("create", "update")]
        deleted = [item.id for kind, item in changes if kind == "delete"]
        return changed, deleted

    def _fetch(self, cls: type, ids: Sequence[str], fields: Sequence[str]) -> list[tuple[Any, list[str]]]:
        """GetItem in batches: [(item, warnings raised while parsing it)]; missing ids left out."""
        out: list[tuple[Any, list[str]]] = []
        paths = convert.field_paths(cls, fields)
        light = [message_field(name) for name in fields] if cls is Message else []
        for chunk in chunked(dict.fromkeys(ids), BATCH):

            def send(chunk: list[str] = chunk) -> list[tuple[Any, list[str]]]:
                parsed: list[tuple[Any, list[str]]] = []
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    service = (
                        GetEmails(account=self._account, chunk_size=len(chunk), fields=light)
                        if light
                        else GetItem(account=self._account, chunk_size=len(chunk))
                    )
                    for item in service.call(
                        items=[(i, None) for i in chunk], additional_fields=paths, shape=ID_ONLY
                    ):
                        parsed.append((item, [str(w.message) for w in caught]))
                        caught.clear()
                return parsed

            for item, noted in self.connection.call("GetItem", send):
                if isinstance(item, Exception):
                    mapped = provider_error(item, "GetItem")
                    if _code(mapped) == "MAIL-NOT-FOUND":
                        continue  # deleted since it was listed: the next sync reports the deletion
                    raise mapped
                out.append((item, noted))
        return out
