"""The emails stream over the Gmail API: Inbox and Sent, history-based changes, labels.

First listing (no cursor, or an expired one): the profile's historyId is read FIRST, so a message
arriving during the listing is seen again by the next history read rather than missed; then
messages.list for INBOX and for SENT inside the history window (`after:`), then the messages
themselves in batches (format=raw, parsed by `mime.parse_email`). The cursor is the historyId.

Later sessions: users.history.list from the stored historyId for messageAdded and labelAdded
records — one call when nothing changed (SPEC §10: Gmail history covers Inbox and Sent in one). A
label counts only when it can make an email a candidate: INBOX (moved back to the Inbox) or the
save/thread labels of a manual save (SPEC §3.6). Gmail answers 404 for a historyId it no longer
keeps: the stream falls back to a full listing marked `reset`, which the session diffs against
what it already saved (no duplicates).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from rgsync.model import EmailItem, Folder, MarkLabel, Page, WriteResult
from rgsync.providers.base import ItemError, MailboxReadOptions, ProviderError
from rgsync.providers.google.api import BATCH_SIZE, GoogleApi, chunks
from rgsync.providers.google.mime import parse_email
from rgsync.providers.own_marks import OwnMarks

USER = "me"
# Gmail's own labels: never user-visible names, never created by rgsync.
SYSTEM_LABELS = frozenset(
    {
        "CHAT",
        "SENT",
        "INBOX",
        "IMPORTANT",
        "TRASH",
        "DRAFT",
        "SPAM",
        "STARRED",
        "UNREAD",
        "CATEGORY_FORUMS",
        "CATEGORY_UPDATES",
        "CATEGORY_PERSONAL",
        "CATEGORY_PROMOTIONS",
        "CATEGORY_SOCIAL",
    }
)
CANDIDATE_LABELS = frozenset({"INBOX", "SENT"})
LIST_PAGE = 500  # messages.list / history.list maximum
MODIFY_LIMIT = 1000  # messages.batchModify accepts at most 1,000 ids
NEW_MESSAGE = ""  # stands for "added to the mailbox" among the labels that made an email a candidate


def folder_of(label_ids: Iterable[str]) -> Folder:
    """The folder an email sits in, from its Gmail labels (Trash and Spam win over Inbox)."""
    labels = set(label_ids)
    if "TRASH" in labels:
        return Folder.TRASH
    if "SPAM" in labels:
        return Folder.JUNK
    if "DRAFT" in labels:
        return Folder.DRAFTS
    # A message to oneself carries both; the user sent it, so it counts as outbound.
    if "SENT" in labels:
        return Folder.SENT
    if "INBOX" in labels:
        return Folder.INBOX
    return Folder.OTHER


class GmailEmails:
    """The emails stream of one Gmail mailbox (see the module docstring for the algorithm)."""

    def __init__(self, api: GoogleApi, *, trigger_labels: Sequence[str], own_label: str = "") -> None:
        """`trigger_labels` are the label names whose addition makes an email a candidate again;
        `own_label` is the one rgsync sets on what it saved, whose echo is dropped unread."""
        self.api = api
        self.trigger_labels = tuple(trigger_labels)
        self.own_label = own_label
        self._labels: dict[str, str] | None = None  # id -> name, user labels only
        # (message id, label id) of each label this run added: the history records they leave are
        # our own. Compact (8 bytes each): a first session labels every email it saves.
        self._added = OwnMarks()

    # -- labels ---------------------------------------------------------------------------------
    def label_names(self) -> dict[str, str]:
        """User label id → name, read once per session (labels.list) and kept up to date by `mark`."""
        if self._labels is None:
            response = self.api.execute(
                self.api.resource("gmail", "users", "labels").list(userId=USER), "the Gmail label list"
            )
            self._labels = {
                str(label["id"]): str(label.get("name") or label["id"])
                for label in response.get("labels", [])
                if label.get("type") != "system" and str(label.get("id")) not in SYSTEM_LABELS
            }
        return self._labels

    def _label_id(self, name: str) -> str | None:
        wanted = name.strip().lower()
        for label_id, label_name in self.label_names().items():
            if label_name.strip().lower() == wanted:
                return label_id
        return None

    def _create_label(self, name: str) -> str:
        body = {"name": name, "labelListVisibility": "labelShow", "messageListVisibility": "show"}
        try:
            created = self.api.execute(
                self.api.resource("gmail", "users", "labels").create(userId=USER, body=body),
                f"creating the label '{name}'",
            )
        except ItemError as exc:
            if exc.code != "MAIL-DUPLICATE":
                raise
            # Created meanwhile (another device, a rerun): read the list again and use it.
            self._labels = None
            found = self._label_id(name)
            if found is None:
                raise
            return found
        label_id = str(created["id"])
        self.label_names()[label_id] = str(created.get("name") or name)
        return label_id

    def _user_label_names(self, label_ids: Iterable[str]) -> frozenset[str]:
        ids = [i for i in label_ids if i not in SYSTEM_LABELS and not i.startswith("CATEGORY_")]
        if not ids:
            return frozenset()
        names = self.label_names()
        return frozenset(names[i] for i in ids if i in names)

    # -- reading --------------------------------------------------------------------------------
    def changes(self, cursor: str | None, options: MailboxReadOptions) -> Iterator[Page]:
        """Pages of new candidate emails since `cursor` (a historyId), or a full listing."""
        if cursor and cursor.isdigit():
            try:
                found = self._history(cursor)
            except ItemError as exc:
                if exc.code != "MAIL-NOT-FOUND":
                    raise
                found = None  # Gmail no longer keeps that history: list everything again
            if found is not None:
                added, new_cursor = found
                wanted = self._without_echo(added, options)
                yield from self._pages(wanted, new_cursor, full=False, reset=False)
                return
        # The history position is taken before listing, so nothing arriving meanwhile is lost.
        profile = self.api.execute(
            self.api.resource("gmail", "users").getProfile(userId=USER), "the Gmail profile"
        )
        start = str(profile["historyId"])
        after = int(options.email_since.timestamp())
        ids: dict[str, None] = {}
        for label in ("INBOX", "SENT"):
            token: str | None = None
            while True:
                request = self.api.resource("gmail", "users", "messages").list(
                    userId=USER,
                    labelIds=[label],
                    q=f"after:{after}",
                    maxResults=LIST_PAGE,
                    pageToken=token,
                )
                response = self.api.execute(request, f"the {label} message list")
                for message in response.get("messages", []):
                    ids[str(message["id"])] = None
                token = response.get("nextPageToken")
                if not token:
                    break
        yield from self._pages(list(ids), start, full=True, reset=cursor is not None)

    def _without_echo(
        self, added: list[tuple[str, frozenset[str]]], options: MailboxReadOptions
    ) -> list[str]:
        """The ids worth fetching: a labelling whose only trigger is rgsync's own label on an email
        already saved is the echo of rgsync's own mark (or a no-op), dropped before any fetch."""
        if not self.own_label or all(labels == {NEW_MESSAGE} for _mid, labels in added):
            return [mid for mid, _labels in added]
        own = self._label_id(self.own_label)
        echoes = [mid for mid, labels in added if own is not None and labels == {own}]
        saved = set(options.saved(echoes)) if echoes else set()
        return [mid for mid, labels in added if not (mid in saved and labels == {own})]

    def _history_page(self, cursor: str, token: str | None) -> Any:
        """One page of the additions and labellings since `cursor` (both reads page the same way)."""
        return self.api.resource("gmail", "users", "history").list(
            userId=USER,
            startHistoryId=cursor,
            historyTypes=["messageAdded", "labelAdded"],
            maxResults=LIST_PAGE,
            pageToken=token,
        )

    def _history(self, cursor: str) -> tuple[list[tuple[str, frozenset[str]]], str]:
        """Messages added to Inbox/Sent or given a trigger label since `cursor`, each with the
        trigger labels it was given (none for a new message), and the new cursor."""
        added: dict[str, set[str]] = {}
        labelled: list[tuple[str, list[str]]] = []
        token: str | None = None
        while True:
            response = self.api.execute(self._history_page(cursor, token), "the Gmail history")
            for record in response.get("history", []):
                for entry in record.get("messagesAdded", []):
                    message = entry.get("message", {})
                    if CANDIDATE_LABELS & set(message.get("labelIds", [])):
                        added[str(message["id"])] = {NEW_MESSAGE}
                for entry in record.get("labelsAdded", []):
                    message = entry.get("message", {})
                    labelled.append((str(message.get("id")), list(entry.get("labelIds", []))))
            token = response.get("nextPageToken")
            if not token:
                new_cursor = str(response.get("historyId") or cursor)
                break
        if labelled:
            triggers = {"INBOX"}
            if any(not set(ids) <= SYSTEM_LABELS for _m, ids in labelled):
                triggers |= {i for i in (self._label_id(n) for n in self.trigger_labels) if i}
            for message_id, label_ids in labelled:
                if given := triggers & set(label_ids):
                    added.setdefault(message_id, set()).update(given)
        return [(mid, frozenset(labels)) for mid, labels in added.items()], new_cursor

    def past_own_marks(self, cursor: str, options: MailboxReadOptions) -> str | None:
        """The historyId past the labels this run added itself, read from `cursor` on (or None).

        Gmail keeps one history record per change, in order, each with its id. Records are
        skipped while each of their entries is either a label this run added to that very message
        (and nothing else) or a change the incremental read ignores anyway (no candidate label,
        no trigger label); the first other record — a new email, the user moving an email back to
        the Inbox or giving it a trigger label, even right after our own label — stops the walk,
        and the answer is the id of the last record before it, so history.list returns it and all
        after it next session (startHistoryId answers the records after that id).
        """
        if not self._added or not cursor.isdigit():
            return None
        try:
            return self._walk_past_own(cursor)
        finally:
            self._added.clear()  # marks are walked past once; later sessions set their own

    def _walk_past_own(self, cursor: str) -> str | None:
        triggers = {"INBOX"} | {i for i in (self._label_id(n) for n in self.trigger_labels) if i}
        position = cursor
        token: str | None = None
        while True:
            try:
                response = self.api.execute(
                    self._history_page(cursor, token), "the Gmail history after our labels"
                )
            except ItemError:
                return None  # history gone: the next session lists everything anyway
            for record in response.get("history", []):
                if not str(record.get("id", "")).isdigit() or not self._own_record(record, triggers):
                    return position if position != cursor else None
                position = str(record["id"])
            token = response.get("nextPageToken")
            if not token:
                end = str(response.get("historyId") or position)
                return end if end != cursor and end.isdigit() else None

    def _own_record(self, record: dict[str, Any], triggers: set[str]) -> bool:
        """Whether a history record holds nothing but our own labels and changes a read ignores."""
        for entry in record.get("messagesAdded", []):
            if CANDIDATE_LABELS & set(entry.get("message", {}).get("labelIds", [])):
                return False
        known = self.label_names()
        for entry in record.get("labelsAdded", []):
            message_id = str(entry.get("message", {}).get("id"))
            labels = set(entry.get("labelIds", []))
            if all((message_id, label) in self._added for label in labels):
                continue
            # A label created since this run read the label list may be a trigger: it stops us.
            if labels & triggers or not labels <= (SYSTEM_LABELS | known.keys()):
                return False
        return True

    def _pages(self, ids: Sequence[str], cursor: str, *, full: bool, reset: bool) -> Iterator[Page]:
        """Fetch `ids` in batches and yield one page per batch; the cursor rides on the last page."""
        groups = chunks(ids, BATCH_SIZE) or [[]]
        for n, group in enumerate(groups):
            last = n == len(groups) - 1
            items = []
            for item in self._fetch(group):
                if item.folder not in (Folder.INBOX, Folder.SENT):
                    continue  # moved to Trash/Spam since it arrived: not a candidate (SPEC §3.1)
                items.append(item)
            # Every id is listed before the first fetch: their number is the listing's exact size.
            yield Page(
                items=tuple(items),
                cursor=cursor if last else None,
                full=full,
                last=last,
                reset=reset,
                total=len(ids),
            )

    def _fetch(self, ids: Sequence[str]) -> list[EmailItem]:
        """Emails by id in one batch (format=raw); ids Gmail no longer has are left out."""
        if not ids:
            return []
        messages = self.api.resource("gmail", "users", "messages")
        requests = {mid: messages.get(userId=USER, id=mid, format="raw") for mid in ids}
        responses = self.api.batch("gmail", requests, "fetching emails")
        out = []
        for mid in ids:
            response = responses.get(mid)
            if isinstance(response, ProviderError):
                if isinstance(response, ItemError) and response.code == "MAIL-NOT-FOUND":
                    continue  # deleted since it was listed
                raise response
            if response is not None:
                out.append(self.to_email(response))
        return out

    def to_email(self, message: dict[str, Any]) -> EmailItem:
        """A Gmail message resource (format=raw) as an `EmailItem`."""
        label_ids = [str(i) for i in message.get("labelIds", [])]
        received = None
        if str(message.get("internalDate", "")).isdigit():
            received = datetime.fromtimestamp(int(message["internalDate"]) / 1000, tz=UTC)
        raw_text = str(message.get("raw") or "")
        try:
            raw = base64.urlsafe_b64decode(raw_text + "=" * (-len(raw_text) % 4))
        except (ValueError, TypeError):
            raw = b""
        return parse_email(
            raw,
            mailbox_id=str(message["id"]),
            thread_id=str(message.get("threadId") or message["id"]),
            folder=folder_of(label_ids),
            labels=self._user_label_names(label_ids),
            received_at=received,
        )

    def fetch_email(self, mailbox_id: str) -> Page:
        """One email by its Gmail id, whatever its folder (for `rgsync save`)."""
        request = self.api.resource("gmail", "users", "messages").get(
            userId=USER, id=mailbox_id, format="raw"
        )
        try:
            message = self.api.execute(request, f"the email {mailbox_id}")
        except ItemError as exc:
            if exc.code in ("MAIL-NOT-FOUND", "MAIL-REFUSED"):
                raise ItemError(
                    f"no email with id {mailbox_id!r} in the mailbox", code="MAIL-NOT-FOUND"
                ) from exc
            raise
        return Page(items=(self.to_email(message),))

    # -- labels on emails -----------------------------------------------------------------------
    def mark(self, marks: Sequence[MarkLabel]) -> list[WriteResult]:
        """Add or remove labels, creating missing ones; one batchModify per label and ≤ 1,000 ids."""
        results: list[WriteResult | None] = [None] * len(marks)
        groups: dict[tuple[str, bool], list[int]] = {}
        for n, mark in enumerate(marks):
            groups.setdefault((mark.label.strip().lower(), mark.remove), []).append(n)
        for (_name, remove), indexes in groups.items():
            name = marks[indexes[0]].label.strip()
            label_id = self._label_id(name)
            if label_id is None:
                if remove:
                    for n in indexes:  # nothing carries a label that does not exist
                        results[n] = WriteResult(ok=True, id=marks[n].mailbox_id)
                    continue
                label_id = self._create_label(name)
            by_message: dict[str, list[int]] = {}
            for n in indexes:
                by_message.setdefault(marks[n].mailbox_id, []).append(n)
            for group in chunks(list(by_message), MODIFY_LIMIT):
                outcome = self._modify(list(group), label_id, remove)
                for message_id, result in outcome.items():
                    for n in by_message[message_id]:
                        results[n] = result
        return [r or WriteResult(ok=False, error_code="MAIL-ERROR", message="not applied") for r in results]

    def _modify(self, ids: list[str], label_id: str, remove: bool) -> dict[str, WriteResult]:
        key = "removeLabelIds" if remove else "addLabelIds"
        request = self.api.resource("gmail", "users", "messages").batchModify(
            userId=USER, body={"ids": ids, key: [label_id]}
        )
        try:
            self.api.execute(request, "labelling emails")
            self._note_added(ids, label_id, remove)
            return {mid: WriteResult(ok=True, id=mid) for mid in ids}
        except ItemError as exc:
            if len(ids) == 1:
                return {
                    ids[0]: WriteResult(ok=False, error_code=exc.code or "MAIL-REFUSED", message=exc.message)
                }
        # One bad id spoils the whole call: label the emails one by one to find it.
        out: dict[str, WriteResult] = {}
        for mid in ids:
            modify = self.api.resource("gmail", "users", "messages").modify(
                userId=USER, id=mid, body={key: [label_id]}
            )
            try:
                self.api.execute(modify, f"labelling the email {mid}")
            except ItemError as exc:
                out[mid] = WriteResult(ok=False, error_code=exc.code or "MAIL-REFUSED", message=exc.message)
            else:
                self._note_added([mid], label_id, remove)
                out[mid] = WriteResult(ok=True, id=mid)
        return out

    def _note_added(self, ids: Sequence[str], label_id: str, remove: bool) -> None:
        """Remember a label this run added (see `past_own_marks`); a removal is never skipped."""
        if not remove:
            for mid in ids:
                self._added.add(mid, label_id)
