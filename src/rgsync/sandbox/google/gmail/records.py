"""What the Gmail emulator keeps: Gmail's system labels, its caps, a stored message (raw bytes and
Gmail's own attributes) and one history journal entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message

from rgsync.sandbox.google import mime
from rgsync.sandbox.google.gmail_search import Candidate

SYSTEM_LABELS: tuple[str, ...] = (
    "CHAT",
    "SENT",
    "INBOX",
    "IMPORTANT",
    "TRASH",
    "DRAFT",
    "SPAM",
    "CATEGORY_FORUMS",
    "CATEGORY_UPDATES",
    "CATEGORY_PERSONAL",
    "CATEGORY_PROMOTIONS",
    "CATEGORY_SOCIAL",
    "STARRED",
    "UNREAD",
)
# System labels a client may put on or take off a message; SENT, DRAFT and CHAT are Gmail's own.
ASSIGNABLE_SYSTEM_LABELS = frozenset(SYSTEM_LABELS) - {"SENT", "DRAFT", "CHAT"}
HIDDEN_IN_MESSAGE_LIST = frozenset({"INBOX", "SENT", "DRAFT", "SPAM", "TRASH", "CHAT", "IMPORTANT"})

MAX_LIST_RESULTS = 500
DEFAULT_LIST_RESULTS = 100
MAX_BATCH_MODIFY_IDS = 1000
FIRST_HISTORY_ID = 10_000

NOT_FOUND_MESSAGE = "Requested entity was not found."

HISTORY_TYPES = ("messageAdded", "messageDeleted", "labelAdded", "labelRemoved")


@dataclass
class StoredMessage:
    """One message as Gmail keeps it: the raw bytes and Gmail's own attributes."""

    id: str
    thread_id: str
    raw: bytes
    label_ids: list[str]
    internal_date_ms: int
    history_id: int
    _parsed: Message | None = field(default=None, repr=False)
    # What searches and every message resource read of the (immutable) raw bytes, worked out once
    # when the message is stored: the first listing or get would otherwise pay for the whole
    # mailbox, and whichever client came first would look slower than the next.
    _content: Candidate | None = field(default=None, repr=False, compare=False)
    _snippet: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        content = self.content
        self._snippet = mime.snippet_of(content.text)

    @property
    def parsed(self) -> Message:
        """The parsed MIME tree (parsed once, on first use)."""
        if self._parsed is None:
            self._parsed = mime.parse(self.raw)
        return self._parsed

    @property
    def content(self) -> Candidate:
        """The searchable parts of the message (labels and date left empty: they change)."""
        if self._content is None:
            parsed = self.parsed
            self._content = Candidate(
                label_ids=frozenset(),
                label_names=frozenset(),
                internal_date_ms=0,
                subject=mime.header(parsed, "Subject"),
                senders=(*mime.addresses(parsed, "From"), mime.header(parsed, "From").lower()),
                recipients=(*mime.addresses(parsed, "To", "Cc", "Bcc"), mime.header(parsed, "To").lower()),
                copied=tuple(mime.addresses(parsed, "Cc")),
                message_id=mime.header(parsed, "Message-ID"),
                text=mime.body_text(parsed),
                has_attachment=any(mime.is_attachment(p) for p in parsed.walk() if not p.is_multipart()),
            )
        return self._content

    @property
    def snippet(self) -> str:
        """Gmail's `snippet` of the message."""
        if self._snippet is None:
            self._snippet = mime.snippet_of(self.content.text)
        return self._snippet


@dataclass(frozen=True)
class HistoryRecord:
    """One journal entry: what happened to which message, and its labels afterwards."""

    id: int
    kind: str
    message_id: str
    thread_id: str
    label_ids: tuple[str, ...]
    changed_labels: tuple[str, ...] = ()
