"""Rich tables and JSON shapes shared by the commands (issues, status, doctor, the end-of-run summary).

Cell values are passed as `Text`, never as markup strings: subjects and service messages may
contain square brackets that rich would otherwise take for styles.

Every table is an `AdaptiveTable`, which lays itself out for where it is printed: on a terminal
wide enough, a table whose long cells fold onto several lines; on a narrower one, the same table
without its optional columns, or else one block of "column: value" lines per row; and when stdout
is not a terminal (a pipe, a file, cron's mail), plain tab-separated lines a script can cut.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from rich import box
from rich.box import Box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from rgsync.model import IssueItem, Severity
from rgsync.state.records import SessionRecord, StoredIssue

SEVERITY_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.NOTICE: "cyan"}
NONE_SHOWN = "—"


@dataclass(frozen=True)
class Column:
    """A column of an `AdaptiveTable`.

    `fold`: long text, folded onto several lines and never narrower than `min_width`;
    `optional`: left out first when the terminal is too narrow for every column.
    """

    header: str
    fold: bool = False
    optional: bool = False
    justify: Literal["left", "right"] = "left"
    style: str = ""
    min_width: int = 14


def _cell_width(text: Text) -> int:
    return max((Text(line).cell_len for line in text.plain.split("\n")), default=0)


def plain_cell(text: Text) -> str:
    """A cell on one line for tab-separated output: lines joined by a space, tabs made spaces."""
    return " ".join(part.strip() for part in text.plain.replace("\t", " ").split("\n") if part.strip())


class AdaptiveTable:
    """A table that fits where it is printed (see the module docstring).

    Build it like a rich `Table` (`add_row`), print it with `console.print`; the layout is chosen
    at print time from the console: its width, and whether it is a terminal at all.
    """

    def __init__(
        self,
        columns: Iterable[Column],
        *,
        title: str | None = None,
        show_header: bool = True,
        table_box: Box | None = box.SIMPLE_HEAD,
        show_lines: bool = False,
    ) -> None:
        self.columns = list(columns)
        self.title = title
        self.show_header = show_header
        self.table_box = table_box
        self.show_lines = show_lines
        self.rows: list[list[Text]] = []

    def add_row(self, *cells: str | Text) -> None:
        """Add a row: one value per column, as text (never markup)."""
        self.rows.append([cell if isinstance(cell, Text) else Text(cell) for cell in cells])

    # -- layout ----------------------------------------------------------------------------------
    def _needed(self, indexes: list[int]) -> int:
        """Columns wide enough for their longest unfolded cell, folded ones at their minimum."""
        total = 0
        for i in indexes:
            column = self.columns[i]
            cells = [row[i] for row in self.rows]
            natural = max(
                [_cell_width(c) for c in cells] + [Text(column.header).cell_len if self.show_header else 0]
            )
            total += min(natural, column.min_width) if column.fold else natural
        # One space of padding each side of a cell, a separator between columns when boxed.
        n = len(indexes)
        return total + 2 * n + (n - 1 if self.table_box is not None else 0)

    def layout(self, width: int) -> list[int] | None:
        """The columns shown on a terminal `width` cells wide; None when rows must be stacked."""
        shown = list(range(len(self.columns)))
        while self._needed(shown) > width:
            optional = [i for i in shown if self.columns[i].optional]
            if not optional:
                return None
            shown.remove(optional[-1])
        return shown

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not console.is_terminal:
            yield from self._tab_separated()
            return
        shown = self.layout(options.max_width)
        if shown is None:
            yield from self._stacked()
        else:
            yield self._table(shown)

    def _tab_separated(self) -> Iterator[Segment]:
        # Segments, not Text: rich would expand the tabs into spaces.
        if self.show_header:
            yield Segment("\t".join(c.header for c in self.columns) + "\n")
        for row in self.rows:
            yield Segment("\t".join(plain_cell(cell) for cell in row) + "\n")

    def _table(self, shown: list[int]) -> Table:
        table = Table(
            title=self.title,
            box=self.table_box,
            show_header=self.show_header,
            show_lines=self.show_lines,
            show_edge=False,
            header_style="bold",
            padding=(0, 1),
        )
        for i in shown:
            column = self.columns[i]
            table.add_column(
                column.header,
                justify=column.justify,
                style=column.style,
                no_wrap=not column.fold,
                overflow="fold",
                min_width=column.min_width if column.fold else None,
                ratio=1 if column.fold else None,
            )
        for row in self.rows:
            table.add_row(*(row[i] for i in shown))
        return table

    def _stacked(self) -> Iterator[Table | Text]:
        """One block per row, a line per column: fits any terminal, hides nothing."""
        if self.title:
            yield Text(self.title, style="bold")
        for n, row in enumerate(self.rows):
            if n:
                yield Text("")
            block = Table(box=None, show_header=False, padding=(0, 1, 0, 0))
            block.add_column("key", style="bold", no_wrap=True)
            block.add_column("value", overflow="fold")
            for column, cell in zip(self.columns, row, strict=False):
                if cell.plain.strip():
                    block.add_row(Text(column.header) if self.show_header else Text(""), cell)
            yield block


def format_time(dt: datetime | None) -> str:
    """A timestamp for people: local time to the minute ('—' when there is none)."""
    if dt is None:
        return NONE_SHOWN
    return dt.astimezone().strftime("%Y-%m-%d %H:%M")


def format_duration(duration: timedelta | None) -> str:
    """A duration for people: '850ms', '12s', '3m 05s', '2h 03m'."""
    if duration is None:
        return NONE_SHOWN
    seconds = duration.total_seconds()
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def iso(dt: datetime | None) -> str | None:
    """A timestamp for scripts: ISO-8601 in UTC, or None."""
    return None if dt is None else dt.isoformat()


def item_label(item: IssueItem) -> str:
    """What an issue is about, in one or two lines: kind and subject, then the ids it is known by."""
    head = " ".join(part for part in (item.kind, f"“{item.subject}”" if item.subject else "") if part)
    ids = ", ".join(
        part
        for part in (
            f"mailbox {item.mailbox_id}" if item.mailbox_id else "",
            f"Salesforce {item.salesforce_id}" if item.salesforce_id else "",
        )
        if part
    )
    if head and ids:
        return f"{head}\n{ids}"
    return head or ids or NONE_SHOWN


def _issue_subject(issue: StoredIssue) -> str:
    # An issue about a whole stream (mass-delete guard, cursor reset) has no item: name the stream.
    label = item_label(issue.item)
    if label == NONE_SHOWN and issue.stream is not None:
        return f"{issue.stream.value} stream"
    return label


def issue_to_json(issue: StoredIssue) -> dict[str, Any]:
    """An issue for `--json`: every field, times in ISO-8601 UTC (issues never hold secrets)."""
    return {
        "id": issue.id,
        "code": issue.code,
        "severity": issue.severity.value,
        "source": issue.source.value,
        "stream": issue.stream.value if issue.stream else None,
        "item": {
            "kind": issue.item.kind,
            "subject": issue.item.subject,
            "mailbox_id": issue.item.mailbox_id,
            "salesforce_id": issue.item.salesforce_id,
        },
        "message": issue.message,
        "advice": issue.advice,
        "first_seen": iso(issue.first_seen),
        "last_seen": iso(issue.last_seen),
        "count": issue.count,
        "resolved_at": iso(issue.resolved_at),
    }


def severity_text(severity: Severity) -> Text:
    """A severity word in its colour."""
    return Text(severity.value, style=SEVERITY_STYLES.get(severity, ""))


def issues_table(
    issues: Iterable[StoredIssue], include_resolved: bool = False, title: str | None = None
) -> AdaptiveTable:
    """The issues table of SPEC §8: id, when last seen, severity, code, source, item, message, advice, count.

    The code heads the "Issue" cell with severity and source under it, so the user's words (item,
    message, advice) keep a readable width; on an 80-column terminal the time and count columns
    make way for them, on a narrower one each issue is a block of lines. With `include_resolved`
    a column says when each issue was resolved.
    """
    columns = [
        Column("ID", justify="right"),
        Column("When", optional=True),
        Column("Issue"),
        Column("Item", fold=True, min_width=12),
        Column("Message", fold=True, min_width=14),
        Column("Advice", fold=True, min_width=14),
        Column("×", justify="right", optional=True),
    ]
    if include_resolved:
        columns.append(Column("Resolved", optional=True))
    table = AdaptiveTable(columns, title=title, show_lines=True)
    for issue in issues:
        when = format_time(issue.last_seen)
        heading = Text(issue.code, style="bold")
        heading.append("\n")
        heading.append_text(severity_text(issue.severity))
        heading.append(f" · {issue.source.value}")
        row: list[Text] = [
            Text(str(issue.id)),
            Text(when.replace(" ", "\n", 1)),
            heading,
            Text(_issue_subject(issue)),
            Text(issue.message),
            Text(issue.advice or NONE_SHOWN),
            Text(str(issue.count)),
        ]
        if include_resolved:
            row.append(Text(format_time(issue.resolved_at) if issue.resolved_at else "open"))
        table.add_row(*row)
    return table


def key_value_table(rows: Iterable[tuple[str, str | Text]], title: str | None = None) -> AdaptiveTable:
    """Two columns, a label and its value, without borders: for `status`, `issues show` and the like.

    The value folds, so the table fits any terminal; without one it prints `label<TAB>value` lines.
    """
    table = AdaptiveTable(
        [Column("key", style="bold"), Column("value", fold=True, min_width=10)],
        title=title,
        show_header=False,
        table_box=None,
    )
    for key, value in rows:
        table.add_row(Text(key), value if isinstance(value, Text) else Text(value))
    return table


def issue_details(issue: StoredIssue) -> AdaptiveTable:
    """Every field of one issue, as `rgsync issues show` prints it."""
    status = f"resolved {format_time(issue.resolved_at)}" if issue.resolved_at else "open"
    rows: list[tuple[str, str | Text]] = [
        ("ID", str(issue.id)),
        ("Status", status),
        ("Code", issue.code),
        ("Severity", severity_text(issue.severity)),
        ("Source", issue.source.value),
        ("Stream", issue.stream.value if issue.stream else NONE_SHOWN),
        ("Item", issue.item.kind or NONE_SHOWN),
        ("Subject", issue.item.subject or NONE_SHOWN),
        ("Mailbox id", issue.item.mailbox_id or NONE_SHOWN),
        ("Salesforce id", issue.item.salesforce_id or NONE_SHOWN),
        ("Message", issue.message),
        ("Advice", issue.advice or NONE_SHOWN),
        ("First seen", format_time(issue.first_seen)),
        ("Last seen", format_time(issue.last_seen)),
        ("Count", str(issue.count)),
    ]
    return key_value_table(rows)


def _side_counts(counts: Mapping[str, Any], side: str) -> str:
    def n(kind: str) -> Any:
        value = counts.get(kind, {})
        return value.get(side, 0) if isinstance(value, Mapping) else 0

    return f"+{n('created')} ~{n('updated')} -{n('deleted')}"


# How a side's counts read in the tables: +created ~updated -deleted.
COUNTS_LEGEND = "Salesforce and mailbox: +created ~updated -deleted"


def stream_counts_table(streams: Mapping[str, Mapping[str, Any]]) -> AdaptiveTable:
    """Counts per stream (rows) and kind of count (columns, in first-seen order) from a session summary.

    A summary written by `rgsync run` (created/updated/deleted per side) is shown compactly:
    +created ~updated -deleted for each side, then matches, failures and skips. "Matched" counts
    the items paired with a record already on the other side, with nothing written (the summary's
    `linked` key).
    """
    if any(isinstance(counts.get("created"), Mapping) for counts in streams.values()):
        table = AdaptiveTable(
            [
                Column("Stream"),
                Column("Status"),
                Column("Salesforce"),
                Column("Mailbox"),
                Column("Matched", justify="right", optional=True),
                Column("Failed", justify="right"),
                Column("Skipped", justify="right", optional=True),
            ]
        )
        for stream, counts in streams.items():
            skipped = counts.get("skipped", {})
            table.add_row(
                Text(stream),
                Text(str(counts.get("status", ""))),
                Text(_side_counts(counts, "salesforce")),
                Text(_side_counts(counts, "mailbox")),
                Text(str(counts.get("linked", 0))),
                Text(str(counts.get("failed", 0))),
                Text(str(sum(skipped.values()) if isinstance(skipped, Mapping) else skipped)),
            )
        return table
    columns: list[str] = []
    for counts in streams.values():
        for name in counts:
            if name not in columns:
                columns.append(name)
    table = AdaptiveTable(
        [Column("Stream")]
        + [Column(name.replace("_", " ").capitalize(), justify="right") for name in columns]
    )
    for stream, counts in streams.items():
        table.add_row(Text(stream), *(Text(str(counts.get(name, 0))) for name in columns))
    return table


def api_calls_text(api_calls: Mapping[str, Any]) -> str:
    """'mailbox 3, salesforce 1' from a session summary's API call counts."""
    return ", ".join(f"{side} {count}" for side, count in api_calls.items()) or "0"


def session_to_json(session: SessionRecord) -> dict[str, Any]:
    """A session record for `--json`."""
    duration = session.duration
    return {
        "id": session.id,
        "started_at": iso(session.started_at),
        "ended_at": iso(session.ended_at),
        "duration_seconds": None if duration is None else round(duration.total_seconds(), 3),
        "status": session.status,
        "dry_run": session.dry_run,
        "summary": session.summary,
    }
