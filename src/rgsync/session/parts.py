"""What every part of a session shares, written down: the settings, the state store, the two sides,
the retry policy, the clock and the progress display.

The session builds one `SessionParts` and hands it to its readers, its writer and its stream
runners (`EmailRunner`, `TwoWayRunner`); none of them reaches into another's attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from rgsync.model import IssueReport
from rgsync.providers.base import Crm, Mailbox
from rgsync.session.outcome import RunOptions
from rgsync.session.progress import ProgressReporter
from rgsync.session.retry import Retrier
from rgsync.settings import EffectiveSettings
from rgsync.state import StateStore

if TYPE_CHECKING:
    from rgsync.session.shared import SharedRecords


@dataclass
class SessionParts:
    """The two sides, the state and the retry policy of one session (`retrier` is renewed per run:
    its deadline is per session)."""

    settings: EffectiveSettings
    state: StateStore
    mailbox: Mailbox
    crm: Crm
    retrier: Retrier
    clock: Callable[[], datetime]
    progress: ProgressReporter
    # Claims on records colleagues share (a fleet); None for a single user (`session.shared`).
    shared: SharedRecords | None = None

    def issue(self, report: IssueReport, now: datetime, options: RunOptions) -> None:
        """Record an issue (deduplicated by the store); a dry run records nothing."""
        if not options.dry_run:
            self.state.record_issue(report, now)


class UsesParts:
    """A session part: reads the shared `SessionParts` through these names."""

    def __init__(self, parts: SessionParts) -> None:
        self.parts = parts

    @property
    def settings(self) -> EffectiveSettings:
        return self.parts.settings

    @property
    def state(self) -> StateStore:
        return self.parts.state

    @property
    def mailbox(self) -> Mailbox:
        return self.parts.mailbox

    @property
    def crm(self) -> Crm:
        return self.parts.crm

    @property
    def retrier(self) -> Retrier:
        return self.parts.retrier

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.parts.clock

    @property
    def progress(self) -> ProgressReporter:
        return self.parts.progress

    @property
    def shared(self) -> SharedRecords | None:
        return self.parts.shared
