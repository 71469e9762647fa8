"""The progress display of `rgsync run` on a terminal: one line per stream, redrawn a few times a
second, with the records read (out of the listing's size while reading, when the service gives one:
`read 120/1450`), the actions planned, the records written out of those planned (a bar), the rate
and the time spent.

It listens to the session through `ProgressReporter`; the counts come from each stream's live
summary. It is drawn on stderr, only on a terminal, and never with `--quiet` or `--json`: cron
mail, pipes and scripts never see it. It disappears when the session ends, leaving the summary.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from types import TracebackType

from rich.console import Console, JustifyMethod, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from rgsync.model import Stream
from rgsync.session.outcome import StreamSummary

# Mark, stream, read, planned, written, the bar (None: it narrows when space runs short), rate, time.
_JUSTIFY: tuple[JustifyMethod | None, ...] = (
    "left",
    "left",
    "right",
    "right",
    "right",
    None,
    "right",
    "right",
)


@dataclass
class _Line:
    summary: StreamSummary
    started: float = field(default_factory=time.monotonic)
    planned: int = 0
    finished: float | None = None


def _total(counter: object) -> int:
    # The session's thread may be adding to the counter while the display reads it.
    try:
        return sum(dict(counter).values())  # type: ignore[call-overload]
    except RuntimeError:
        return 0


def _read_column(read: int, total: int | None, *, finished: bool) -> str:
    # The listing's size guides the eye while reading; once the stream is done, or when more came
    # than announced (a listing retried, records added meanwhile), only the count read is true.
    if total is None or finished or read > total:
        return f"read {read}"
    return f"read {read}/{total}"


def _rate(per_second: float) -> str:
    return f"{per_second / 1000:.1f}k/s" if per_second >= 999.5 else f"{per_second:.0f}/s"


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


class SessionProgress:
    """A `ProgressReporter` that draws the streams' progress on `console` while the session runs.

    Use it as a context manager around the session: the display starts on entry and is removed on
    exit.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self._lines: dict[Stream, _Line] = {}
        self._lock = threading.Lock()
        self._spinner = Spinner("dots", style="cyan")
        self._live = Live(console=console, get_renderable=self._render, refresh_per_second=4, transient=True)

    def __enter__(self) -> SessionProgress:
        self._live.start(refresh=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._live.stop()

    # -- ProgressReporter ------------------------------------------------------------------------
    def stream_started(self, stream: Stream, summary: StreamSummary) -> None:
        with self._lock:
            self._lines[stream] = _Line(summary)

    def planned(self, stream: Stream, actions: int) -> None:
        with self._lock:
            line = self._lines.get(stream)
            if line is not None:
                line.planned += actions

    def stream_finished(self, stream: Stream, summary: StreamSummary) -> None:
        with self._lock:
            line = self._lines.setdefault(stream, _Line(summary))
            line.finished = time.monotonic()
        self._live.refresh()

    # -- drawing ---------------------------------------------------------------------------------
    def __rich__(self) -> RenderableType:
        """The display as it stands, for printing it once (`console.print(progress)`)."""
        return self._render()

    def _render(self) -> RenderableType:
        table = Table.grid(padding=(0, 1))
        for justify in _JUSTIFY:
            if justify is None:
                # The bar gives way first when large counts leave 80 columns short: the numbers stay.
                table.add_column(min_width=4, max_width=12)
            else:
                table.add_column(justify=justify, no_wrap=True)
        with self._lock:
            lines = list(self._lines.items())
        now = time.monotonic()
        if not lines:
            table.add_row(self._spinner, Text("Syncing…"), *[""] * 6)
        for stream, line in lines:
            summary = line.summary
            read = _total(summary.received) or _total(summary.changes_read)
            written = _total(summary.created) + _total(summary.updated) + _total(summary.deleted)
            done = written + summary.linked + summary.failed
            end = line.finished or now
            seconds = max(end - line.started, 1e-6)
            # While writing, the rate of writes; before that, of changes read.
            rate = (done if line.planned else read) / seconds
            mark: RenderableType = Text("✓", style="green") if line.finished else self._spinner
            table.add_row(
                mark,
                Text(stream.value, style="bold"),
                _read_column(read, summary.read_total, finished=line.finished is not None),
                f"planned {line.planned}",
                f"written {done}/{line.planned}" if line.planned else "written 0",
                ProgressBar(total=max(line.planned, 1), completed=done if line.planned else 0),
                _rate(rate),
                _elapsed(end - line.started),
            )
        return table
