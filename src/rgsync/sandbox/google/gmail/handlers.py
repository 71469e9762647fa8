"""The Gmail methods the emulator answers: users.getProfile, messages.* (search, insert and import,
labels, trash, batch forms, attachments), labels.* and history.list."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from email.message import Message
from typing import Any

from rgsync.sandbox.google import mime
from rgsync.sandbox.google.common import (
    Call,
    GoogleApiError,
    Route,
    b64url,
    bad_request,
    encode_token,
    from_b64url,
    no_content,
    page_offset,
    route,
)
from rgsync.sandbox.google.gmail.records import (
    DEFAULT_LIST_RESULTS,
    HISTORY_TYPES,
    MAX_BATCH_MODIFY_IDS,
    MAX_LIST_RESULTS,
    NOT_FOUND_MESSAGE,
    SYSTEM_LABELS,
    HistoryRecord,
    StoredMessage,
)
from rgsync.sandbox.google.gmail.store import GmailStore
from rgsync.sandbox.google.gmail_search import compile_query, tokenize, wants_spam_or_trash

_HISTORY_FIELD = {
    "messageAdded": "messagesAdded",
    "messageDeleted": "messagesDeleted",
    "labelAdded": "labelsAdded",
    "labelRemoved": "labelsRemoved",
}


def _minimal(message: StoredMessage) -> dict[str, Any]:
    return {"id": message.id, "threadId": message.thread_id, "labelIds": list(message.label_ids)}


# --- routes -------------------------------------------------------------------------------------


def routes(store: GmailStore) -> list[Route]:
    """The Gmail methods the emulator answers, counted as 'gmail.<resource>.<method>'."""

    def check_user(call: Call) -> None:
        user = call["user"]
        if user != "me" and user.lower() != store.address.lower():
            raise GoogleApiError(403, "forbidden", f"Delegation denied for {store.address}")

    def get_profile(call: Call) -> Any:
        check_user(call)
        return {
            "emailAddress": store.address,
            "messagesTotal": len(store.messages),
            "threadsTotal": len({m.thread_id for m in store.messages.values()}),
            "historyId": str(store.history_id),
        }

    def list_messages(call: Call) -> Any:
        check_user(call)
        label_ids = call.params("labelIds")
        query = call.param("q") or ""
        terms = tokenize(query)
        include_spam_trash = (
            call.flag("includeSpamTrash")
            or any(label in ("SPAM", "TRASH") for label in label_ids)
            or wants_spam_or_trash(terms)
        )
        found = store.listing(
            label_ids, query, include_spam_trash, lambda: compile_query(query, store.clock())
        )
        size = call.integer("maxResults", DEFAULT_LIST_RESULTS, maximum=MAX_LIST_RESULTS, minimum=1)
        offset, _ = page_offset(call, "gm.")
        page = found[offset : offset + size]
        result: dict[str, Any] = {}
        if page:
            result["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
        if offset + size < len(found):
            result["nextPageToken"] = encode_token("gm.", {"o": offset + size})
        result["resultSizeEstimate"] = len(found)
        return result

    def get_message(call: Call) -> Any:
        check_user(call)
        fmt = (call.param("format") or "full").lower()
        if fmt not in ("minimal", "full", "raw", "metadata"):
            raise bad_request(
                f"Invalid value at 'format' ({fmt})", reason="invalidArgument", location="format"
            )
        message = store._message(call["id"])
        return store.message_resource(message, fmt, call.params("metadataHeaders"))

    def insert_or_import(call: Call, *, importing: bool) -> Any:
        check_user(call)
        body = call.body()
        if not body.get("raw"):
            raise bad_request(
                "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
                reason="invalidArgument",
            )
        raw = from_b64url(str(body["raw"]), what="raw")
        labels = [str(label) for label in body.get("labelIds") or []]
        for label in labels:
            if label not in SYSTEM_LABELS and label not in store.user_labels:
                raise bad_request(f"Invalid label: {label}", reason="invalidArgument")
        source = call.param("internalDateSource") or ("dateHeader" if importing else "receivedTime")
        thread = body.get("threadId")
        message = store._insert(
            raw, labels, str(thread) if thread else None, None, date_from_header=source == "dateHeader"
        )
        return _minimal(message)

    def modify_message(call: Call) -> Any:
        check_user(call)
        message = store._message(call["id"])
        body = call.body()
        add = store._check_assignable([str(x) for x in body.get("addLabelIds") or []], adding=True)
        remove = store._check_assignable([str(x) for x in body.get("removeLabelIds") or []], adding=False)
        store._apply_labels(message, add, remove)
        return _minimal(message)

    def batch_modify(call: Call) -> Any:
        check_user(call)
        body = call.body()
        ids = [str(x) for x in body.get("ids") or []]
        if len(ids) > MAX_BATCH_MODIFY_IDS:
            raise bad_request(
                f"Too many messages ids: {len(ids)}, the limit is {MAX_BATCH_MODIFY_IDS}",
                reason="invalidArgument",
            )
        add = store._check_assignable([str(x) for x in body.get("addLabelIds") or []], adding=True)
        remove = store._check_assignable([str(x) for x in body.get("removeLabelIds") or []], adding=False)
        for message_id in ids:
            message = store.messages.get(message_id)
            if message is not None:  # ids of messages gone meanwhile are skipped, not an error
                store._apply_labels(message, add, remove)
        return no_content()

    def trash(call: Call) -> Any:
        check_user(call)
        message = store._message(call["id"])
        store._apply_labels(message, ["TRASH"], [])
        return _minimal(message)

    def untrash(call: Call) -> Any:
        check_user(call)
        message = store._message(call["id"])
        store._apply_labels(message, [], ["TRASH"])
        return _minimal(message)

    def delete_message(call: Call) -> Any:
        check_user(call)
        store.delete_message(call["id"])
        return no_content()

    def batch_delete(call: Call) -> Any:
        check_user(call)
        ids = [str(x) for x in call.body().get("ids") or []]
        if len(ids) > MAX_BATCH_MODIFY_IDS:
            raise bad_request(
                f"Too many messages ids: {len(ids)}, the limit is {MAX_BATCH_MODIFY_IDS}",
                reason="invalidArgument",
            )
        for message_id in ids:
            if message_id in store.messages:
                store.delete_message(message_id)
        return no_content()

    def get_attachment(call: Call) -> Any:
        check_user(call)
        message = store._message(call["messageId"])
        for part_id in _part_ids(message.parsed):
            if mime.attachment_id(message.id, part_id) == call["id"]:
                part = mime.find_part(message.parsed, part_id)
                data = mime.leaf_bytes(part) if part is not None else b""
                return {"attachmentId": call["id"], "size": len(data), "data": b64url(data)}
        raise bad_request("Invalid attachment token", reason="invalidArgument")

    def list_labels(call: Call) -> Any:
        check_user(call)
        ids = list(SYSTEM_LABELS) + list(store.user_labels)
        return {"labels": [store._label_resource(label_id, counts=False) for label_id in ids]}

    def get_label(call: Call) -> Any:
        check_user(call)
        return store._label_resource(call["id"], counts=True)

    def create_label(call: Call) -> Any:
        check_user(call)
        return store._create_label(call.body())

    def change_label(call: Call) -> Any:
        check_user(call)
        label_id = call["id"]
        if label_id in SYSTEM_LABELS:
            raise bad_request("Invalid update request", reason="invalidArgument")
        if label_id not in store.user_labels:
            raise GoogleApiError(404, "notFound", NOT_FOUND_MESSAGE)
        body = call.body()
        label = store.user_labels[label_id]
        name = body.get("name")
        if call.method == "PUT" and not name:
            raise bad_request("Invalid label name", reason="invalidArgument")
        renamed = bool(name) and str(name).lower() != str(label["name"]).lower()
        if renamed and any(
            str(other["name"]).lower() == str(name).lower() for other in store.user_labels.values()
        ):
            raise GoogleApiError(409, "aborted", "Label name exists or conflicts", status="ABORTED")
        for key in ("name", "messageListVisibility", "labelListVisibility", "color"):
            if key in body and body[key] is not None:
                label[key] = body[key]
        return dict(label)

    def delete_label(call: Call) -> Any:
        check_user(call)
        label_id = call["id"]
        if label_id in SYSTEM_LABELS:
            raise bad_request("Invalid delete request", reason="invalidArgument")
        if label_id not in store.user_labels:
            raise GoogleApiError(404, "notFound", NOT_FOUND_MESSAGE)
        for message in store.messages.values():
            if label_id in message.label_ids:
                store._apply_labels(message, [], [label_id])
        del store.user_labels[label_id]
        return no_content()

    def list_history(call: Call) -> Any:
        check_user(call)
        start_text = call.param("startHistoryId")
        if not start_text:
            raise bad_request(
                "Missing required parameter: startHistoryId", reason="required", location="startHistoryId"
            )
        try:
            start = int(start_text)
        except ValueError:
            raise bad_request(
                "Invalid startHistoryId", reason="invalidArgument", location="startHistoryId"
            ) from None
        if start < store.history_floor:
            raise GoogleApiError(404, "notFound", NOT_FOUND_MESSAGE)
        types = call.params("historyTypes")
        for kind in types:
            if kind not in HISTORY_TYPES:
                raise bad_request(
                    f"Invalid value at 'history_types' ({kind})",
                    reason="invalidArgument",
                    location="historyTypes",
                )
        label = call.param("labelId")
        size = call.integer("maxResults", DEFAULT_LIST_RESULTS, maximum=MAX_LIST_RESULTS, minimum=1)
        offset, payload = page_offset(call, "gh.")
        after = payload.get("a", start)
        if not isinstance(after, int):
            raise bad_request("Invalid pageToken.", location="pageToken")
        # The journal only grows, in id order: a page starts right after the last record the page
        # before it served (found by bisection) and stops one match past its size, instead of
        # filtering the whole journal again for every page.
        history = store.history
        index = bisect.bisect_right(history, max(start, after), key=lambda r: r.id)
        page: list[HistoryRecord] = []
        more = False
        while index < len(history):
            record = history[index]
            index += 1
            if (not types or record.kind in types) and (
                label is None or label in record.label_ids or label in record.changed_labels
            ):
                if len(page) == size:
                    more = True
                    break
                page.append(record)
        result: dict[str, Any] = {}
        if page:
            result["history"] = [_history_json(record) for record in page]
        if more:
            result["nextPageToken"] = encode_token("gh.", {"o": offset + size, "a": page[-1].id})
        result["historyId"] = str(store.history_id)
        return result

    base = "/gmail/v1/users/{user}"
    return [
        route("GET", f"{base}/profile", "gmail.getProfile", get_profile),
        route("GET", f"{base}/messages", "gmail.messages.list", list_messages),
        route(
            "POST",
            f"{base}/messages",
            "gmail.messages.insert",
            lambda c: insert_or_import(c, importing=False),
        ),
        route(
            "POST",
            f"{base}/messages/import",
            "gmail.messages.import",
            lambda c: insert_or_import(c, importing=True),
        ),
        route("POST", f"{base}/messages/batchModify", "gmail.messages.batchModify", batch_modify),
        route("POST", f"{base}/messages/batchDelete", "gmail.messages.batchDelete", batch_delete),
        route(
            "GET",
            f"{base}/messages/{{messageId}}/attachments/{{id}}",
            "gmail.messages.attachments.get",
            get_attachment,
        ),
        route("GET", f"{base}/messages/{{id}}", "gmail.messages.get", get_message),
        route("DELETE", f"{base}/messages/{{id}}", "gmail.messages.delete", delete_message),
        route("POST", f"{base}/messages/{{id}}/modify", "gmail.messages.modify", modify_message),
        route("POST", f"{base}/messages/{{id}}/trash", "gmail.messages.trash", trash),
        route("POST", f"{base}/messages/{{id}}/untrash", "gmail.messages.untrash", untrash),
        route("GET", f"{base}/labels", "gmail.labels.list", list_labels),
        route("POST", f"{base}/labels", "gmail.labels.create", create_label),
        route("GET", f"{base}/labels/{{id}}", "gmail.labels.get", get_label),
        route("PATCH", f"{base}/labels/{{id}}", "gmail.labels.patch", change_label),
        route("PUT", f"{base}/labels/{{id}}", "gmail.labels.update", change_label),
        route("DELETE", f"{base}/labels/{{id}}", "gmail.labels.delete", delete_label),
        route("GET", f"{base}/history", "gmail.history.list", list_history),
    ]


def _part_ids(message: Message, part_id: str = "") -> Iterable[str]:
    yield part_id
    children = message.get_payload()
    if (
        message.is_multipart()
        and message.get_content_type() != "message/rfc822"
        and isinstance(children, list)
    ):
        for index, child in enumerate(children):
            yield from _part_ids(child, f"{part_id}.{index}" if part_id else str(index))


def _history_json(record: HistoryRecord) -> dict[str, Any]:
    reference = {"id": record.message_id, "threadId": record.thread_id}
    full = dict(reference, labelIds=list(record.label_ids))
    entry: dict[str, Any] = {"id": str(record.id), "messages": [reference]}
    field_name = _HISTORY_FIELD[record.kind]
    if record.kind in ("labelAdded", "labelRemoved"):
        entry[field_name] = [{"message": full, "labelIds": list(record.changed_labels)}]
    else:
        entry[field_name] = [{"message": full}]
    return entry
