"""The EWS operations the emulator answers, one function each (folder operations in `folder_ops`).

Each takes the mailbox state and the operation element of the request and returns the response
messages (one per requested folder or item, in request order). A problem with one item becomes an
Error response message for that item, as Exchange does; the other items go on.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

from lxml import etree

from . import mime
from .folder_ops import create_folder, find_folder, folder_of, get_folder, single_folder
from .items import Shape, apply_updates, matches, normalise, render, working_copy
from .recurrence import split_occurrence_id
from .soap import SchemaError, format_bool, local, m, message, parse_datetime, sub, t
from .store import DISTINGUISHED, EwsError, EwsState, StoredItem, extended_key
from .views import calendar_view, occurrence, resolve_item

ITEM_TAGS = {
    "Message",
    "CalendarItem",
    "Task",
    "Contact",
    "MeetingRequest",
    "MeetingResponse",
    "MeetingCancellation",
}
SENDING_MODES = {"SendOnlyToAll", "SendToAllAndSaveCopy", "SendOnlyToChanged", "SendToChangedAndSaveCopy"}
MAX_SYNC_CHANGES = 512


Handler = Callable[[EwsState, Any], list[Any]]


# --- reading items ----------------------------------------------------------------------------------------


def sync_folder_items(state: EwsState, op: Any) -> list[Any]:
    """SyncFolderItems: the net changes since a SyncState, at most MaxChangesReturned (1-512) per call."""
    shape = Shape.parse(op.find(m("ItemShape")))
    try:
        limit = int((op.findtext(m("MaxChangesReturned")) or "").strip())
    except ValueError:
        raise SchemaError("MaxChangesReturned is required") from None
    if not 1 <= limit <= MAX_SYNC_CHANGES:
        raise SchemaError(f"The value '{limit}' of MaxChangesReturned is out of range (1-512).")
    ignore = {i.get("Id", "") for i in op.find(m("Ignore"))} if op.find(m("Ignore")) is not None else set()
    try:
        folder = single_folder(state, op.find(m("SyncFolderId")))
        with state.lock:
            position = state.position_of(folder.id, op.findtext(m("SyncState")))
            changes, new_position, last = state.changes_since(folder.id, position, limit, ignore)
            reply = message("SyncFolderItems")
            sub(reply, m("SyncState"), state.sync_state(folder.id, new_position))
            sub(reply, m("IncludesLastItemInRange"), format_bool(last))
            container = sub(reply, m("Changes"))
            for kind, item_id in changes:
                if kind == "delete":
                    sub(sub(container, t("Delete")), t("ItemId"), Id=item_id)
                    continue
                item = state.items[item_id]
                if kind == "read":
                    change = sub(container, t("ReadFlagChange"))
                    sub(change, t("ItemId"), Id=item.id, ChangeKey=item.changekey)
                    sub(change, t("IsRead"), item.text("IsRead", "false"))
                    continue
                sub(container, t("Create" if kind == "create" else "Update")).append(
                    render(item, shape, state)
                )
    except EwsError as exc:
        # Exchange keeps the (empty) sync elements in an error answer; clients read them first.
        failed = message("SyncFolderItems", exc.code, exc.text)
        sub(failed, m("SyncState"))
        sub(failed, m("IncludesLastItemInRange"), "true")
        return [failed]
    return [reply]


def get_item(state: EwsState, op: Any) -> list[Any]:
    """GetItem: items and occurrences by id, shaped by ItemShape; ErrorItemNotFound per missing id."""
    shape = Shape.parse(op.find(m("ItemShape")))
    out = []
    for ref in op.find(m("ItemIds")):
        try:
            item = resolve_item(state, ref.get("Id", ""))
        except EwsError as exc:
            out.append(message("GetItem", exc.code, exc.text))
            continue
        reply = message("GetItem")
        sub(reply, m("Items")).append(render(item, shape, state))
        out.append(reply)
    return out


def _sort_key(order: Any) -> tuple[str, bool] | None:
    if order is None or len(order) == 0:
        return None
    field_order = order[0]
    uri = field_order.find(t("FieldURI"))
    if uri is None:
        return None
    return uri.get("FieldURI", "").partition(":")[2], field_order.get("Order") == "Descending"


def find_item(state: EwsState, op: Any) -> list[Any]:
    """FindItem: a CalendarView (occurrences expanded) or an IndexedPageItemView with an optional Restriction."""
    shape = Shape.parse(op.find(m("ItemShape")))
    restriction = op.find(m("Restriction"))
    view = op.find(m("CalendarView"))
    paging = op.find(m("IndexedPageItemView"))
    out = []
    for ref in op.find(m("ParentFolderIds")):
        try:
            folder = folder_of(state, ref)
            if view is not None:
                if folder.folder_class != "IPF.Appointment":
                    raise EwsError(
                        "ErrorCalendarFolderIsInvalidForCalendarView",
                        "The folder is not a calendar folder.",
                    )
                found = calendar_view(
                    state,
                    folder.id,
                    parse_datetime(view.get("StartDate", "")),
                    parse_datetime(view.get("EndDate", "")),
                )
            else:
                found = [
                    i
                    for i in state.folder_items(folder.id)
                    if restriction is None or all(matches(i, e) for e in restriction)
                ]
        except EwsError as exc:
            out.append(message("FindItem", exc.code, exc.text))
            continue
        sort = _sort_key(op.find(m("SortOrder")))
        if sort is not None:
            found.sort(key=lambda i: i.text(sort[0]), reverse=sort[1])
        reply = message("FindItem")
        if view is not None:
            limit = int(view.get("MaxEntriesReturned", str(len(found) or 1)))
            page = found[:limit]
            root = sub(
                reply,
                m("RootFolder"),
                TotalItemsInView=str(len(found)),
                IncludesLastItemInRange=format_bool(len(page) == len(found)),
            )
        else:
            offset = int(paging.get("Offset", "0")) if paging is not None else 0
            limit = int(paging.get("MaxEntriesReturned", "1000")) if paging is not None else 1000
            page = found[offset : offset + limit]
            root = sub(
                reply,
                m("RootFolder"),
                IndexedPagingOffset=str(offset + len(page)),
                TotalItemsInView=str(len(found)),
                IncludesLastItemInRange=format_bool(offset + len(page) >= len(found)),
            )
        items = sub(root, t("Items"))
        for item in page:
            items.append(render(item, shape, state))
        out.append(reply)
    return out


# --- writing items -----------------------------------------------------------------------------------------


def _attendee_count(item: StoredItem) -> int:
    return sum(len(item.props.get(name, [])) for name in ("RequiredAttendees", "OptionalAttendees"))


def _record_invitations(state: EwsState, operation: str, mode: str, items: list[StoredItem]) -> None:
    calendar = [i for i in items if i.tag == "CalendarItem"]
    if not calendar:
        return
    sent = sum(_attendee_count(i) for i in calendar) if mode in SENDING_MODES else 0
    state.invitation_calls.append((operation, mode, sent))
    if sent:
        for item in calendar:
            if _attendee_count(item):
                item.set_text("MeetingRequestWasSent", "true")


def create_item(state: EwsState, op: Any) -> list[Any]:
    """CreateItem: new items (calendar items need SendMeetingInvitations, which is recorded)."""
    disposition = op.get("MessageDisposition", "")
    invitations = op.get("SendMeetingInvitations", "")
    target = op.find(m("SavedItemFolderId"))
    out: list[Any] = []
    created: list[StoredItem] = []
    for spec in op.find(m("Items")):
        tag = local(spec.tag)
        try:
            if tag == "CalendarItem" and not invitations:
                raise EwsError(
                    "ErrorSendMeetingInvitationsRequired",
                    "The SendMeetingInvitations attribute is required for calendar items.",
                )
            if tag not in ITEM_TAGS:
                raise EwsError("ErrorInvalidItemForOperation", f"{tag} items cannot be created here.")
            if target is not None:
                folder = single_folder(state, target)
            else:
                default = {"CalendarItem": "calendar", "Task": "tasks", "Contact": "contacts"}.get(
                    tag, "drafts"
                )
                if tag == "Message" and disposition in ("SendAndSaveCopy", "SendOnly"):
                    default = "sentitems"
                folder = state.folder(state.folder_id(default))
            props: dict[str, Any] = {}
            extended: dict[tuple[str, str], Any] = {}
            for child in spec:
                name = local(child.tag)
                if name == "ExtendedProperty":
                    extended[extended_key(child[0])] = copy.deepcopy(child)
                elif name in ("ItemId", "ParentFolderId"):
                    raise EwsError("ErrorInvalidPropertySet", f"{name} cannot be set on a new item.")
                else:
                    props[name] = copy.deepcopy(child)
            if tag == "Message" and "MimeContent" in props:
                # Exchange imports a message given as MIME: its headers and body become properties.
                raw = base64.b64decode(props["MimeContent"].text or "")
                imported = mime.message_props(
                    raw, item_class="IPM.Note", categories=(), received=None, now=state.now()
                )
                props = {**imported, **{k: v for k, v in props.items() if k != "MimeContent"}}
                props["MimeContent"] = imported["MimeContent"]
            probe = StoredItem("new", folder.id, tag, props, extended)
            normalise(probe, state.address, state.name)
            item = state.insert(folder.id, tag, probe.props, probe.extended)
        except EwsError as exc:
            out.append(message("CreateItem", exc.code, exc.text))
            continue
        created.append(item)
        reply = message("CreateItem")
        sub(sub(sub(reply, m("Items")), t(tag)), t("ItemId"), Id=item.id, ChangeKey=item.changekey)
        out.append(reply)
    _record_invitations(state, "CreateItem", invitations, created)
    return out


def update_item(state: EwsState, op: Any) -> list[Any]:
    """UpdateItem: Set/Append/DeleteItemField per ItemChange; an occurrence becomes an exception."""
    conflict = op.get("ConflictResolution", "AutoResolve")
    mode = op.get("SendMeetingInvitationsOrCancellations", "")
    out: list[Any] = []
    touched: list[StoredItem] = []
    for change in op.find(m("ItemChanges")):
        ref = change[0]
        try:
            item_id = ref.get("Id", "")
            split = split_occurrence_id(item_id)
            target = state.item(split[0]) if split else state.item(item_id)
            if target.tag == "CalendarItem" and not mode:
                raise EwsError(
                    "ErrorSendMeetingInvitationsOrCancellationsRequired",
                    "SendMeetingInvitationsOrCancellations is required for calendar items.",
                )
            changekey = ref.get("ChangeKey")
            if changekey and changekey != target.changekey and conflict == "NeverOverwrite":
                raise EwsError(
                    "ErrorIrresolvableConflict",
                    "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.",
                )
            updates = change.find(t("Updates"))
            with state.lock:
                if split:
                    _update_occurrence(state, target, split[1], updates)
                    result_id, result_key = item_id, target.changekey
                else:
                    work = working_copy(target)
                    apply_updates(work, updates)
                    normalise(work, state.address, state.name)
                    only_read = {local(u[1][0].tag) for u in updates if len(u) > 1 and len(u[1])} == {
                        "IsRead"
                    }
                    target.props, target.extended = work.props, work.extended
                    state.touch(target, "read" if only_read else "update")
                    result_id, result_key = target.id, target.changekey
        except EwsError as exc:
            out.append(message("UpdateItem", exc.code, exc.text))
            continue
        touched.append(target)
        reply = message("UpdateItem")
        sub(sub(sub(reply, m("Items")), t(target.tag)), t("ItemId"), Id=result_id, ChangeKey=result_key)
        sub(sub(reply, m("ConflictResults")), t("Count"), "0")
        out.append(reply)
    _record_invitations(state, "UpdateItem", mode, touched)
    return out


def _update_occurrence(state: EwsState, master: StoredItem, original_start: Any, updates: Any) -> None:
    """Changing one occurrence turns it into an exception stored on the master."""
    current = occurrence(master, original_start)
    if current is None:
        raise EwsError("ErrorCalendarOccurrenceIsDeletedFromRecurrence", "The occurrence was deleted.")
    before = {name: etree.tostring(value) for name, value in current.props.items()}
    apply_updates(current, updates)
    normalise(current, state.address, state.name)
    key = current.text("OriginalStart")
    overrides = master.exceptions.setdefault(key, {})
    for name, value in current.props.items():
        if before.get(name) != etree.tostring(value):
            overrides[name] = value
    state.touch(master)


def delete_item(state: EwsState, op: Any) -> list[Any]:
    """DeleteItem: hard/soft delete or move to Deleted Items; an occurrence is removed from its series."""
    delete_type = op.get("DeleteType", "")
    cancellations = op.get("SendMeetingCancellations", "")
    out: list[Any] = []
    removed: list[StoredItem] = []
    for ref in op.find(m("ItemIds")):
        try:
            item_id = ref.get("Id", "")
            split = split_occurrence_id(item_id)
            with state.lock:
                if split:
                    master = state.item(split[0])
                    master.deleted_occurrences.add(resolve_item(state, item_id).text("OriginalStart"))
                    state.touch(master)
                    removed.append(master)
                else:
                    item = state.item(item_id)
                    if item.tag == "CalendarItem" and not cancellations:
                        raise EwsError(
                            "ErrorSendMeetingCancellationsRequired",
                            "SendMeetingCancellations is required for calendar items.",
                        )
                    if delete_type == "MoveToDeletedItems":
                        state.move(item.id, state.folder_id("deleteditems"))
                    else:
                        state.remove(item.id)
                    removed.append(item)
        except EwsError as exc:
            out.append(message("DeleteItem", exc.code, exc.text))
            continue
        out.append(message("DeleteItem"))
    _record_invitations(state, "DeleteItem", cancellations, removed)
    return out


OPERATIONS: dict[str, Handler] = {
    "GetFolder": get_folder,
    "FindFolder": find_folder,
    "CreateFolder": create_folder,
    "SyncFolderItems": sync_folder_items,
    "FindItem": find_item,
    "GetItem": get_item,
    "CreateItem": create_item,
    "UpdateItem": update_item,
    "DeleteItem": delete_item,
}

__all__ = ["DISTINGUISHED", "OPERATIONS", "SchemaError"]
