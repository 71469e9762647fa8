"""What the demo prints about a session, in the user's words: the session line, a snapshot's
categories, what was left alone and why, the issues table, the counts per stream, what the second
session changed, and the API calls each session cost."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rgsync.demo.sandbox import Sandbox
from rgsync.demo.snapshots import Snapshot
from rgsync.model import Severity
from rgsync.session import SessionResult

# What a skip reason means, in the words of the person whose mailbox it is.
REASON_WORDS: dict[str, str] = {
    "not-inbox-or-sent": "not in Inbox or Sent",
    "direction": "outside the email direction setting",
    "outside-history-window": "older than history-days",
    "service-message": "service message (bounce, auto-reply, receipt)",
    "auto-save-off": "auto-save is off",
    "internal": "internal: only colleagues",
    "blocklisted": "blocklisted (free mail, blocked domain)",
    "no-related-record": "no Contact or Lead in Salesforce",
    "no-opportunity-or-account": "no Opportunity or Account to link to",
    "already-saved": "already saved",
    "unreadable": "unreadable",
    "meetings-off": "meeting saving is off",
    "appointments-off": "appointment (not saved by default)",
    "unanswered": "invitation not answered",
    "declined": "invitation declined",
    "private": "private",
    "outside-window": "outside the calendar window",
    "cannot-sync": "cannot be synced (see issues)",
    "not-owner": "owned by someone else",
    "email-activity": "an email activity",
    "completed-long-ago": "completed too long ago",
    "cancelled": "cancelled",
}
STREAM_WORDS = {"emails": "Emails", "events": "Calendar", "tasks": "Tasks", "contacts": "Contacts"}
# The colours `rgsync issues list` gives the severities, so the demo's table reads the same.
SEVERITY_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.NOTICE: "cyan"}


def session_line(console: Console, result: SessionResult) -> None:
    """One line for a session: its status, how long it took and the API calls it cost."""
    duration = (
        (result.ended_at - result.started_at).total_seconds()
        if result.ended_at and result.started_at
        else 0.0
    )
    colour = "green" if result.status == "completed" else "red"
    console.print(
        f"Session {result.session_id}: [{colour}]{result.status}[/{colour}] in {duration:.1f} s — API calls: "
        f"Salesforce {result.api_calls.get('salesforce', 0)}, mailbox {result.api_calls.get('mailbox', 0)}",
        highlight=False,
    )
    if result.message and result.status != "completed":
        console.print(Text(result.message, style="red"))
    for stream, summary in result.streams.items():
        if summary.error:
            console.print(
                Text(f"{STREAM_WORDS.get(stream.value, stream.value)}: {summary.error}", style="red")
            )


def show_snapshot(console: Console, view: Snapshot) -> None:
    """A snapshot's categories, one bullet per item."""
    for title, lines in view.categories():
        if not lines:
            continue
        console.print(f"\n[bold]{title}[/bold] ({len(lines)})")
        for line in lines:
            console.print(f"  • {line}", highlight=False)


def show_skips(console: Console, result: SessionResult) -> None:
    """What the session left alone, grouped by stream and reason."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for skip in result.skips:
        grouped.setdefault((skip.stream.value, skip.reason.value), []).append(skip.subject or skip.item_id)
    if not grouped:
        return
    console.print("\n[bold]Left alone, by reason[/bold]")
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("What")
    table.add_column("Why")
    table.add_column("Items", overflow="fold")
    for (stream, reason), subjects in sorted(grouped.items()):
        unique = list(dict.fromkeys(subjects))
        table.add_row(
            Text(STREAM_WORDS.get(stream, stream)),
            Text(REASON_WORDS.get(reason, reason)),
            Text(", ".join(f"“{s}”" for s in unique)),
        )
    console.print(table)


def show_issues(console: Console, sandbox: Sandbox) -> None:
    """The profile's open sync issues, as `rgsync issues list` would list them."""
    from rgsync.state import StateStore

    store = StateStore.open(sandbox.paths.state_db)
    try:
        issues = store.issues()
    finally:
        store.close()
    if not issues:
        console.print("\nNo sync issues.")
        return
    console.print(
        f"\n[bold]Sync issues[/bold] ({len(issues)}) — `rgsync issues list` shows them with advice:"
    )
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for column in ("ID", "Severity", "Code", "Item", "Message"):
        table.add_column(column, overflow="fold")
    for issue in issues:
        item = " ".join(
            p for p in (issue.item.kind, f"“{issue.item.subject}”" if issue.item.subject else "") if p
        )
        table.add_row(
            Text(str(issue.id)),
            Text(issue.severity.value, style=SEVERITY_STYLES.get(issue.severity, "")),
            Text(issue.code),
            Text(item),
            Text(issue.message),
        )
    console.print(table)


def show_counts(console: Console, result: SessionResult) -> None:
    """What the session created, updated and deleted per stream and side."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for column in ("Stream", "Salesforce: new, updated, deleted", "Mailbox: new, updated, deleted"):
        table.add_column(column)
    for stream, s in result.streams.items():
        table.add_row(
            Text(STREAM_WORDS.get(stream.value, stream.value)),
            Text(f"{s.created['salesforce']}, {s.updated['salesforce']}, {s.deleted['salesforce']}"),
            Text(f"{s.created['mailbox']}, {s.updated['mailbox']}, {s.deleted['mailbox']}"),
        )
    console.print(table)


def show_changes(console: Console, before: Snapshot, after: Snapshot) -> None:
    """What differs between two snapshots, removed lines first."""
    shown = False
    for (title, old), (_, new) in zip(before.categories(), after.categories(), strict=True):
        added = [line for line in new if line not in old]
        gone = [line for line in old if line not in new]
        if not added and not gone:
            continue
        if not shown:
            console.print("[bold]What the second session changed[/bold]")
            shown = True
        console.print(f"  {title}:")
        for line in gone:
            console.print(Text(f"    − {line}", style="red"))
        for line in added:
            console.print(Text(f"    + {line}", style="green"))
    if not shown:
        console.print("The second session found nothing to change.")


def show_calls(
    console: Console, first: SessionResult, second: SessionResult, idle: SessionResult, change_feed: str
) -> None:
    """The API calls of the first, second and an idle session, and how the mailbox reads changes."""
    table = Table(title="API calls per session", box=box.SIMPLE_HEAD, show_edge=False, title_justify="left")
    for column in ("Session", "Salesforce", "Mailbox", "Written"):
        table.add_column(column)
    for label, result in (
        ("1: first sync (full listing)", first),
        ("2: after the edits", second),
        ("a later run, nothing new", idle),
    ):
        table.add_row(
            Text(label),
            Text(str(result.api_calls.get("salesforce", 0))),
            Text(str(result.api_calls.get("mailbox", 0))),
            Text(str(sum(s.writes for s in result.streams.values()))),
        )
    console.print()
    console.print(table)
    console.print(
        f"Each run reads only what changed since the last one ({change_feed}, "
        "one Salesforce Composite call for every delta query).",
        highlight=False,
    )
