"""How a session tells its caller how far it has got, without knowing who listens.

The session calls a `ProgressReporter`: when a stream starts (handing over the stream's live
`StreamSummary`, whose read and written counts go up as the work is done), each time a batch of
actions has been planned, and when the stream ends. The command line draws a progress display from
these calls on a terminal; everywhere else `NO_PROGRESS` ignores them. The planner stays pure: only
the session reports.
"""

from __future__ import annotations

from typing import Protocol

from rgsync.model import Stream
from rgsync.session.outcome import StreamSummary


class ProgressReporter(Protocol):
    """What a session reports while it runs. Calls come from the session's own thread."""

    def stream_started(self, stream: Stream, summary: StreamSummary) -> None:
        """`stream` starts; `summary` is updated in place as changes are read and records written."""

    def planned(self, stream: Stream, actions: int) -> None:
        """`actions` more writes or links were planned for `stream` (emails are planned in chunks)."""

    def stream_finished(self, stream: Stream, summary: StreamSummary) -> None:
        """`stream` is done (whatever its status); `summary` holds its final counts."""


class _NoProgress:
    """The reporter of every session nobody watches (cron, pipes, `--quiet`, `--json`, tests)."""

    def stream_started(self, stream: Stream, summary: StreamSummary) -> None:
        pass

    def planned(self, stream: Stream, actions: int) -> None:
        pass

    def stream_finished(self, stream: Stream, summary: StreamSummary) -> None:
        pass


NO_PROGRESS: ProgressReporter = _NoProgress()
