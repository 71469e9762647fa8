"""What a session reports: options in, per-stream counts and the documented JSON out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rgsync.engine.types import (
    Action,
    Skip,
)
from rgsync.model import (
    Page,
    Side,
    Stream,
)

# Skips a normal (not dry) session keeps for display: enough for the demo's and `rgsync save`'s
# accounts of what was left alone, while memory stays flat however many emails are skipped.
SKIPS_KEPT = 200


@dataclass
class RunOptions:
    """Switches of `rgsync run` (and `rgsync save`)."""

    force: bool = False
    dry_run: bool = False
    allow_mass_delete: bool = False
    manual: tuple[str, ...] = ()  # mailbox ids saved by `rgsync save`
    manual_thread: bool = False
    # `rgsync run --since`: for this session only, read emails and meetings back to this time
    # (SPEC §1 history-days, §4.1 window) without moving the incremental cursors.
    since: datetime | None = None


@dataclass
class StreamSummary:
    """What one stream did in a session; `to_json` is part of the documented `--json` output."""

    stream: Stream
    status: str = "ok"  # ok | off | failed | guarded | budget
    created: Counter[str] = field(default_factory=Counter)  # by side
    updated: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    linked: int = 0
    unlinked: int = 0
    failed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    changes_read: Counter[str] = field(default_factory=Counter)
    error: str = ""
    # For the progress display only (not part of `to_json`): records received from each side so
    # far, and how many each side's listing holds when the service says so (None: no count).
    received: Counter[str] = field(default_factory=Counter)
    expected: dict[str, int | None] = field(default_factory=dict)

    def page_read(self, side: Side, page: Page) -> None:
        """Count `page` from `side` as it arrives, with the listing's size if the service gave it."""
        self.received[side.value] += len(page.items) + len(page.deleted)
        if page.total is not None or side.value not in self.expected:
            self.expected[side.value] = page.total

    @property
    def read_total(self) -> int | None:
        """How many records this stream's listings hold by the services' counts; None unless
        every side read so far gave one."""
        totals = list(self.expected.values())
        if not totals or any(t is None for t in totals):
            return None
        return sum(t for t in totals if t is not None)

    @property
    def writes(self) -> int:
        return sum(self.created.values()) + sum(self.updated.values()) + sum(self.deleted.values())

    def to_json(self) -> dict[str, Any]:
        sides = (Side.SALESFORCE.value, Side.MAILBOX.value)
        return {
            "status": self.status,
            "created": {s: self.created[s] for s in sides},
            "updated": {s: self.updated[s] for s in sides},
            "deleted": {s: self.deleted[s] for s in sides},
            "linked": self.linked,
            "unlinked": self.unlinked,
            "failed": self.failed,
            "changes_read": {s: self.changes_read[s] for s in sides},
            "skipped": dict(sorted(self.skipped.items())),
            "error": self.error,
        }


@dataclass
class SessionResult:
    """The outcome of `rgsync run`, rendered for humans or as the documented JSON object."""

    status: str  # completed | failed | paused | not-due | dry-run
    session_id: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    streams: dict[Stream, StreamSummary] = field(default_factory=dict)
    api_calls: dict[str, int] = field(default_factory=dict)
    open_issues: int = 0
    next_due_at: datetime | None = None
    planned: list[Action] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    # Emails written to Salesforce by this session: a count, so memory stays flat with the mailbox.
    emails_saved: int = 0
    message: str = ""
    # `--since` of this session: the time asked for, and whether it reached past the usual window.
    backfill_since: datetime | None = None
    backfill_widened: bool = False

    def note_skips(self, skips: Sequence[Skip], *, dry_run: bool) -> None:
        """Keep `skips` for display: every one in a dry run (its listing shows each), the first
        `SKIPS_KEPT` of the session otherwise. A normal session reports its skips by reason in the
        stream counts; one entry kept per skipped item would make its memory grow with the mailbox."""
        room = len(skips) if dry_run else max(0, SKIPS_KEPT - len(self.skips))
        self.skips += skips[:room]

    @property
    def exit_code(self) -> int:
        return 1 if self.status == "failed" else 0

    @property
    def changes(self) -> int:
        return sum(s.writes + s.linked + s.unlinked for s in self.streams.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "status": self.status,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "streams": {s.value: summary.to_json() for s, summary in self.streams.items()},
            "api_calls": dict(self.api_calls),
            "open_issues": self.open_issues,
            "next_due_at": self.next_due_at.isoformat() if self.next_due_at else None,
            "message": self.message,
            **(
                {
                    "backfill": {
                        "since": self.backfill_since.isoformat(),
                        "widened": self.backfill_widened,
                    }
                }
                if self.backfill_since
                else {}
            ),
        }


class StreamStopped(Exception):
    """A stream cannot go on this session; `status` says why (failed / budget)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
