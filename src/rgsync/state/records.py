"""What the state store hands back: journal intents, session records, stored issues."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from rgsync.errors import RgsyncError
from rgsync.model import IssueItem, IssueSource, Severity, Side, Stream


class StateStoreError(RgsyncError):
    """The state database cannot be used (unreadable, not a database, or from a newer rgsync): exit 1."""


class StateUnavailableError(StateStoreError):
    """The state database could not be reached, or the connection to it was lost mid-way (a
    PostgreSQL server restarting, a network cut): exit 1, and trying again later is the fix.

    Every create is journalled before it is sent and a transaction cut off half-way is rolled back
    by the server, so the next session carries on from what was committed (SPEC §7.1).
    """

    retriable = True


class StateDamagedError(StateStoreError):
    """The state database is damaged: a session must not trust it (exit 1, SPEC §8: the session failed).

    The message names what is wrong and points at `rgsync state check`, which names the fix
    (restore the copy kept before the last upgrade, or start a fresh state). `what` says what is
    wrong; `path` is the database when known.
    """

    def __init__(self, what: str, path: Path | str | None = None) -> None:
        where = f"the state database {path}" if path is not None else "the state database"
        super().__init__(
            f"{where} is damaged: {what}; run `rgsync state check`, "
            "which says whether to restore a backup or move it aside"
        )
        self.what = what
        self.path = path

    def at(self, path: Path | str) -> StateDamagedError:
        """The same error naming the database file (when it did not already)."""
        return self if self.path is not None else StateDamagedError(self.what, path)


@dataclass(frozen=True)
class Intent:
    """A create announced before it was sent (SPEC §7.1).

    A pending intent found at the start of a session means the previous run may have created the
    record without recording it: recovery searches for it by `natural_key` before creating again.
    """

    id: int
    stream: Stream
    side: Side
    kind: str
    natural_key: str
    payload: dict[str, Any]
    created_at: datetime


class NewIntent(NamedTuple):
    """An intent to record (`StateStore.add_intents`): what `Intent` holds before it has an id."""

    stream: Stream
    side: Side
    kind: str
    natural_key: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class SessionRecord:
    """One `rgsync run` as recorded. `ended_at` is None while it runs or when it was interrupted."""

    id: int
    started_at: datetime
    ended_at: datetime | None
    status: str
    summary: dict[str, Any] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def duration(self) -> timedelta | None:
        """How long the session took; None when it has not ended."""
        return None if self.ended_at is None else self.ended_at - self.started_at


@dataclass(frozen=True)
class StoredIssue:
    """An issue as kept in the store (SPEC §8): one row per problem and item, with a count."""

    id: int
    code: str
    severity: Severity
    source: IssueSource
    stream: Stream | None
    item: IssueItem
    message: str
    advice: str
    first_seen: datetime
    last_seen: datetime
    count: int
    resolved_at: datetime | None = None
    # `rgsync issues retry`: when the user asked for the issue's items to be tried again at the
    # next session (None once a session has taken them up).
    retry_requested_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """True until the issue is resolved (automatically or by the user)."""
        return self.resolved_at is None
