"""Rich tables and JSON shapes shared by the commands (issues, status, the end-of-run summary).

Cell values are passed as `Text`, never as markup strings: subjects and service messages may
contain square brackets that rich would otherwise take for styles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from rgsync.model import IssueItem, Severity
from rgsync.state.records import SessionRecord, StoredIssue

SEVERITY_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.NOTICE: "cyan"}
NONE_SHOWN = "—"


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
) -> Table:
    """The issues table of SPEC §8: id, when last seen, severity, code, source, item, message, advice, count.

    The code heads the "Issue" cell with severity and source under it, so the user's words (item,
    message, advice) keep a readable width on an 80-column terminal. With `include_resolved` a
    column says when each issue was resolved.
    """
    table = Table(title=title, box=box.SIMPLE_HEAD, show_lines=True, expand=False)
    table.add_column("ID", justify="right", no_wrap=True)
    table.add_column("When", no_wrap=True)
    table.add_column("Issue", no_wrap=True)
    table.add_column("Item", overflow="fold", ratio=2)
    table.add_column("Message", overflow="fold", ratio=3)
    table.add_column("Advice", overflow="fold", ratio=3)
    table.add_column("×", justify="right", no_wrap=True)
    if include_resolved:
        table.add_column("Resolved", no_wrap=True)
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


def key_value_table(rows: Iterable[tuple[str, str | Text]], title: str | None = None) -> Table:
    """Two columns, a label and its value, without borders: for `status`, `issues show` and the like."""
    table = Table(title=title, box=None, show_header=False, padding=(0, 2, 0, 0))
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in rows:
        table.add_row(Text(key), value if isinstance(value, Text) else Text(value))
    return table


def issue_details(issue: StoredIssue) -> Table:
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


def stream_counts_table(streams: Mapping[str, Mapping[str, Any]]) -> Table:
    """Counts per stream (rows) and kind of count (columns, in first-seen order) from a session summary.

    A summary written by `rgsync run` (created/updated/deleted per side) is shown compactly:
    +created ~updated -deleted for each side, then links, failures and skips.
    """
    if any(isinstance(counts.get("created"), Mapping) for counts in streams.values()):
        table = Table(box=box.SIMPLE_HEAD)
        for column in ("Stream", "Status", "Salesforce", "Mailbox", "Linked", "Failed", "Skipped"):
            table.add_column(column, no_wrap=True)
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
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("Stream", no_wrap=True)
    for name in columns:
        table.add_column(name.replace("_", " ").capitalize(), justify="right", no_wrap=True)
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
