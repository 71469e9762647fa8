"""`rgsync status --history`: the last sessions at a glance.

A compact chart, one row per stream (items synced per session), one for the API calls and one each
for the issues opened and resolved; each column of the chart is one session, oldest on the left.
Without a terminal each session is one tab-separated line; `--json` gives the same numbers.

"Items synced" counts what a session changed or matched for a stream: records created, updated
and deleted on either side plus items matched to a record already there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from rgsync.cli.render import format_time, iso
from rgsync.model import Stream
from rgsync.state import SessionRecord, StateStore

SIDES = ("salesforce", "mailbox")
BLOCKS = "▁▂▃▄▅▆▇█"
NOTHING = "·"  # a session that did nothing still shows as a column
LABEL_WIDTH = 16
TOTAL_WIDTH = 22


@dataclass
class SessionPoint:
    """One finished (or interrupted) session, reduced to what the history shows."""

    id: int
    started_at: datetime
    ended_at: datetime | None
    status: str
    items: dict[str, int] = field(default_factory=dict)  # by stream
    read: dict[str, int] = field(default_factory=dict)  # changes read, by stream
    api_calls: dict[str, int] = field(default_factory=dict)  # by side
    issues_opened: int = 0
    issues_resolved: int = 0

    @property
    def calls(self) -> int:
        return sum(self.api_calls.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.id,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "status": self.status,
            "items": self.items,
            "read": self.read,
            "api_calls": self.api_calls,
            "issues_opened": self.issues_opened,
            "issues_resolved": self.issues_resolved,
        }


def _number(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _side_total(counts: dict[str, Any], key: str) -> int:
    value = counts.get(key)
    return sum(_number(v) for v in value.values()) if isinstance(value, dict) else 0


def _point(session: SessionRecord) -> SessionPoint:
    point = SessionPoint(session.id, session.started_at, session.ended_at, session.status)
    streams = session.summary.get("streams")
    if isinstance(streams, dict):
        for name, counts in streams.items():
            if not isinstance(counts, dict):
                continue
            point.items[name] = sum(
                _side_total(counts, key) for key in ("created", "updated", "deleted")
            ) + _number(counts.get("linked"))
            point.read[name] = _side_total(counts, "changes_read")
    calls = session.summary.get("api_calls")
    point.api_calls = {side: _number(calls.get(side)) if isinstance(calls, dict) else 0 for side in SIDES}
    if session.ended_at is None and session.status == "running":
        point.status = "interrupted"
    return point


def load_history(store: StateStore, now: datetime, days: int) -> list[SessionPoint]:
    """The sessions of the last `days` days (dry runs left out), oldest first, with their issues.

    An issue counts for the session during which it was first seen or resolved; one changed
    between sessions (`rgsync issues resolve`) counts for the next session.
    """
    since = now - timedelta(days=days)
    points = [_point(s) for s in store.sessions_since(since)]
    if not points:
        return points
    opened, resolved = store.issue_changes(points[0].started_at)
    starts = [p.started_at for p in points]

    def owner(when: datetime) -> SessionPoint | None:
        # The last session that started at or before `when`.
        index = max((i for i, start in enumerate(starts) if start <= when), default=None)
        return None if index is None else points[index]

    for issue in opened:
        found = owner(issue.first_seen)
        if found is not None:
            found.issues_opened += 1
    for issue in resolved:
        found = owner(issue.resolved_at) if issue.resolved_at else None
        if found is not None:
            found.issues_resolved += 1
    return points


def history_json(points: list[SessionPoint], days: int) -> dict[str, Any]:
    """The `rgsync status --history --json` document: the sessions and their totals."""
    streams = sorted({name for p in points for name in p.items}, key=_stream_order)
    return {
        "days": days,
        "sessions": [p.to_json() for p in points],
        "totals": {
            "sessions": len(points),
            "failed": sum(1 for p in points if p.status not in ("completed",)),
            "items": {name: sum(p.items.get(name, 0) for p in points) for name in streams},
            "api_calls": {side: sum(p.api_calls.get(side, 0) for p in points) for side in SIDES},
            "issues_opened": sum(p.issues_opened for p in points),
            "issues_resolved": sum(p.issues_resolved for p in points),
        },
    }


def _stream_order(name: str) -> int:
    order = [s.value for s in Stream]
    return order.index(name) if name in order else len(order)


def sparkline(values: list[int], failed: list[bool]) -> Text:
    """One character per value, scaled to the largest; failed sessions in red."""
    top = max(values, default=0)
    text = Text()
    for value, bad in zip(values, failed, strict=True):
        if value <= 0:
            char = NOTHING
        else:
            char = BLOCKS[min(len(BLOCKS) - 1, (value * len(BLOCKS) - 1) // top)]
        text.append(char, style="red" if bad else "cyan")
    return text


def render_history(console: Console, points: list[SessionPoint], days: int) -> None:
    """Print the chart: per stream items synced, API calls, issues opened and resolved per session."""
    if not points:
        console.print(f"No session in the last {days} days.", highlight=False)
        return
    room = max(8, console.width - LABEL_WIDTH - TOTAL_WIDTH - 4)
    shown = points[-room:]
    failed = [p.status != "completed" for p in shown]
    bad = sum(failed)
    head = f"Last {days} days: {len(points)} sessions"
    if bad:
        head += f", {bad} not completed (red)"
    if len(shown) < len(points):
        head += f"; the chart shows the last {len(shown)}"
    console.print(head, highlight=False)
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
    table.add_column(width=LABEL_WIDTH, no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    streams = sorted({name for p in points for name in p.items}, key=_stream_order)
    for name in streams:
        values = [p.items.get(name, 0) for p in shown]
        table.add_row(name, sparkline(values, failed), f"{sum(values)} items")
    calls = [p.calls for p in shown]
    sf = sum(p.api_calls.get("salesforce", 0) for p in shown)
    mailbox = sum(p.api_calls.get("mailbox", 0) for p in shown)
    table.add_row("API calls", sparkline(calls, failed), f"SF {sf} · mailbox {mailbox}")
    opened = [p.issues_opened for p in shown]
    resolved = [p.issues_resolved for p in shown]
    table.add_row("issues opened", sparkline(opened, failed), f"{sum(opened)} opened")
    table.add_row("issues resolved", sparkline(resolved, failed), f"{sum(resolved)} resolved")
    console.print(table)
    console.print(
        f"{format_time(shown[0].started_at)} → {format_time(shown[-1].started_at)}"
        f"  (one column per session; {NOTHING} = none)",
        style="dim",
        highlight=False,
    )


def plain_lines(points: list[SessionPoint]) -> list[str]:
    """One tab-separated line per session under a header line (for pipes, files and cron mail)."""
    streams = sorted({name for p in points for name in p.items}, key=_stream_order)
    header = ["started", "status", *streams, "salesforce calls", "mailbox calls", "opened", "resolved"]
    lines = ["\t".join(header)]
    for p in points:
        row = [
            format_time(p.started_at),
            p.status,
            *(str(p.items.get(name, 0)) for name in streams),
            str(p.api_calls.get("salesforce", 0)),
            str(p.api_calls.get("mailbox", 0)),
            str(p.issues_opened),
            str(p.issues_resolved),
        ]
        lines.append("\t".join(row))
    return lines
