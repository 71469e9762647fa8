"""The folder operations of the EWS emulator: GetFolder, FindFolder, CreateFolder, and how a
request names a folder (FolderId or DistinguishedFolderId)."""

from __future__ import annotations

from typing import Any

from lxml import etree

from .items import matches
from .soap import SchemaError, format_bool, local, m, message, sub, t
from .store import EwsError, EwsState, StoredFolder, StoredItem


def folder_of(state: EwsState, elem: Any) -> StoredFolder:
    """The folder a `t:FolderId` / `t:DistinguishedFolderId` element names."""
    kind = local(elem.tag)
    if kind == "DistinguishedFolderId":
        box = elem.find(f"{t('Mailbox')}/{t('EmailAddress')}")
        if box is not None and (box.text or "").strip().lower() != state.address:
            raise EwsError("ErrorNonExistentMailbox", f"No mailbox with such guid or address: {box.text}")
        return state.folder(state.folder_id(elem.get("Id", "")))
    if kind == "FolderId":
        return state.folder(elem.get("Id", ""))
    raise SchemaError(f"unexpected folder id element {kind}")


def single_folder(state: EwsState, container: Any) -> StoredFolder:
    if container is None or len(container) == 0:
        raise SchemaError("a folder id is required")
    return folder_of(state, container[0])


def render_folder(state: EwsState, folder: StoredFolder, fields: set[str] | None) -> Any:
    """A folder element (`t:Folder`, `t:CalendarFolder`, …); `fields` None means every property."""
    elem = etree.Element(t(folder.tag))
    sub(elem, t("FolderId"), Id=folder.id, ChangeKey=folder.changekey)

    def wanted(name: str) -> bool:
        return fields is None or name in fields

    parent = state.folders.get(folder.parent_id)
    if parent is not None and wanted("ParentFolderId"):
        sub(elem, t("ParentFolderId"), Id=parent.id, ChangeKey=parent.changekey)
    if wanted("FolderClass") and folder.folder_class:
        sub(elem, t("FolderClass"), folder.folder_class)
    if wanted("DisplayName"):
        sub(elem, t("DisplayName"), folder.name)
    if wanted("TotalCount"):
        sub(elem, t("TotalCount"), str(state.item_count(folder.id)))
    if wanted("ChildFolderCount"):
        sub(elem, t("ChildFolderCount"), str(len(state.children(folder.id))))
    if wanted("DistinguishedFolderId") and folder.distinguished:
        sub(elem, t("DistinguishedFolderId"), folder.distinguished)
    if wanted("UnreadCount") and folder.tag == "Folder":
        unread = sum(
            1 for i in state.folder_items(folder.id) if i.tag == "Message" and i.text("IsRead") != "true"
        )
        sub(elem, t("UnreadCount"), str(unread))
    return elem


def _folder_fields(shape: Any) -> set[str] | None:
    if shape is None:
        return set()
    base = (shape.findtext(t("BaseShape")) or "IdOnly").strip()
    if base in ("Default", "AllProperties"):
        return None
    return {(uri.get("FieldURI") or "").partition(":")[2] for uri in shape.iter(t("FieldURI"))}


def get_folder(state: EwsState, op: Any) -> list[Any]:
    """GetFolder: one response message per FolderId/DistinguishedFolderId, in order."""
    fields = _folder_fields(op.find(m("FolderShape")))
    out = []
    for ref in op.find(m("FolderIds")):
        reply = message("GetFolder")
        try:
            folder = folder_of(state, ref)
        except EwsError as exc:
            out.append(message("GetFolder", exc.code, exc.text))
            continue
        sub(reply, m("Folders")).append(render_folder(state, folder, fields))
        out.append(reply)
    return out


def _folder_matches(folder: StoredFolder, restriction: Any) -> bool:
    if restriction is None:
        return True
    pseudo = StoredItem(folder.id, folder.parent_id, "Folder")
    pseudo.set_text("DisplayName", folder.name)
    pseudo.set_text("FolderClass", folder.folder_class)
    return all(matches(pseudo, expression) for expression in restriction)


def find_folder(state: EwsState, op: Any) -> list[Any]:
    """FindFolder: subfolders (Shallow or Deep) matching the restriction, paged by IndexedPageFolderView."""
    fields = _folder_fields(op.find(m("FolderShape")))
    deep = op.get("Traversal", "Shallow") == "Deep"
    view = op.find(m("IndexedPageFolderView"))
    offset = int(view.get("Offset", "0")) if view is not None else 0
    limit = int(view.get("MaxEntriesReturned", "1000")) if view is not None else 1000
    out = []
    for ref in op.find(m("ParentFolderIds")):
        try:
            parent = folder_of(state, ref)
        except EwsError as exc:
            out.append(message("FindFolder", exc.code, exc.text))
            continue
        found = [f for f in state.children(parent.id, deep) if _folder_matches(f, op.find(m("Restriction")))]
        page = found[offset : offset + limit]
        reply = message("FindFolder")
        root = sub(
            reply,
            m("RootFolder"),
            IndexedPagingOffset=str(offset + len(page)),
            TotalItemsInView=str(len(found)),
            IncludesLastItemInRange=format_bool(offset + len(page) >= len(found)),
        )
        folders = sub(root, t("Folders"))
        for folder in page:
            folders.append(render_folder(state, folder, fields))
        out.append(reply)
    return out


def create_folder(state: EwsState, op: Any) -> list[Any]:
    """CreateFolder: new subfolders; ErrorFolderExists for a name already taken under the parent."""
    parent = single_folder(state, op.find(m("ParentFolderId")))
    out = []
    for spec in op.find(m("Folders")):
        name = (spec.findtext(t("DisplayName")) or "").strip()
        folder_class = (spec.findtext(t("FolderClass")) or "").strip()
        if not folder_class:
            folder_class = {
                v: k
                for k, v in {
                    "IPF.Appointment": "CalendarFolder",
                    "IPF.Task": "TasksFolder",
                    "IPF.Contact": "ContactsFolder",
                }.items()
            }.get(local(spec.tag), "IPF.Note")
        try:
            folder = state.create_folder(parent.id, name, folder_class)
        except EwsError as exc:
            out.append(message("CreateFolder", exc.code, exc.text))
            continue
        reply = message("CreateFolder")
        created = sub(sub(reply, m("Folders")), t(local(spec.tag)))
        sub(created, t("FolderId"), Id=folder.id, ChangeKey=folder.changekey)
        out.append(reply)
    return out
