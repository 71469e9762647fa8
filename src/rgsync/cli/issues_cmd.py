"""`rgsync issues …`: the log of sync issues (SPEC §8)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import click

from rgsync.cli.common import App, json_option, pass_app
from rgsync.cli.render import format_time, issue_details, issue_to_json, issues_table
from rgsync.cli.since import parse_since
from rgsync.errors import UsageError
from rgsync.model import Stream
from rgsync.state import StateStore, StoredIssue, state_location


@click.group("issues")
def issues_group() -> None:
    """List, show and resolve sync issues."""


@issues_group.command("list")
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved issues.")
@click.option(
    "--since", metavar="WHEN", help="Only issues seen since a date (2024-05-01) or for a duration (7d, 12h)."
)
@json_option
@pass_app
def list_command(app: App, include_resolved: bool, since: str | None) -> None:
    """List open sync issues, most recent first."""
    since_at = parse_since(since, datetime.now(UTC)) if since else None
    store = StateStore.open_existing(state_location(app.paths))
    issues: list[StoredIssue] = []
    timing = RetryTiming()
    if store is not None:
        with store:
            issues = store.issues(include_resolved=include_resolved, since=since_at)
            timing = RetryTiming.of(store)
    if app.json:
        app.emit_json([{**issue_to_json(issue), "retry": timing.note(issue)} for issue in issues])
        return
    if not issues:
        what = "No sync issues" if include_resolved else "No open sync issues"
        app.say(f"{what} since {format_time(since_at)}." if since_at else f"{what}.")
        return
    if app.quiet:
        return
    app.out.print(issues_table(issues, include_resolved=include_resolved))
    queued = [str(issue.id) for issue in issues if issue.is_open and issue.retry_requested_at]
    if queued:
        noun = "Issue" if len(queued) == 1 else "Issues"
        app.say(f"{noun} {', '.join(queued)}: retried {timing.next_session()}.")
    open_count = sum(1 for issue in issues if issue.is_open)
    noun = "issue" if open_count == 1 else "issues"
    app.say(
        f"{open_count} open {noun}. `rgsync issues show ID` for details, `rgsync issues resolve ID` once fixed."
    )


def _find(app: App, issue_id: int) -> tuple[StateStore, StoredIssue]:
    store = StateStore.open_existing(state_location(app.paths))
    issue = store.issue(issue_id) if store is not None else None
    if store is None or issue is None:
        if store is not None:
            store.close()
        raise UsageError(f"there is no issue {issue_id}; `rgsync issues list --all` shows the issue ids")
    return store, issue


@issues_group.command("show")
@click.argument("issue_id", metavar="ID", type=int)
@json_option
@pass_app
def show_command(app: App, issue_id: int) -> None:
    """Show every detail of one issue."""
    store, issue = _find(app, issue_id)
    with store:
        timing = RetryTiming.of(store)
    if app.json:
        app.emit_json({**issue_to_json(issue), "retry": timing.note(issue)})
    elif not app.quiet:
        app.out.print(issue_details(issue))
        if issue.is_open:
            app.say(f"Retry: {timing.note(issue)}")


@issues_group.command("resolve")
@click.argument("issue_id", metavar="ID", type=int)
@json_option
@pass_app
def resolve_command(app: App, issue_id: int) -> None:
    """Mark an issue resolved (it comes back if the problem happens again)."""
    store, issue = _find(app, issue_id)
    with store:
        changed = store.resolve_issue(issue_id, datetime.now(UTC))
        issue = store.issue(issue_id) or issue
    if app.json:
        app.emit_json({"resolved": True, "changed": changed, "issue": issue_to_json(issue)})
        return
    app.say(
        f"Issue {issue_id} ({issue.code}) marked resolved."
        if changed
        else f"Issue {issue_id} was already resolved."
    )


@issues_group.command("retry")
@click.argument("issue_id", metavar="ID", type=int, required=False)
@click.option("--all", "retry_all", is_flag=True, help="Retry the items of every open issue.")
@json_option
@pass_app
def retry_command(app: App, issue_id: int | None, retry_all: bool) -> None:
    """Queue the items behind an issue (or every open issue) for the next session.

    Use it once the cause is fixed (a validation rule relaxed, a required field filled in): the
    next `rgsync run` reads the items again and saves them; the issue resolves when they sync.
    """
    if (issue_id is None) == (not retry_all):
        raise UsageError("give one issue ID or --all; `rgsync issues list` shows the issue ids")
    now = datetime.now(UTC)
    if retry_all:
        store = StateStore.open_existing(state_location(app.paths))
        if store is None:
            app.say("No open sync issues.")
            return
    else:
        assert issue_id is not None
        store, issue = _find(app, issue_id)
        if not issue.is_open:
            store.close()
            raise UsageError(
                f"issue {issue_id} is resolved; nothing to retry (`rgsync issues list` shows the open ones)"
            )
    with store:
        queued = store.request_retry(None if retry_all else [issue_id or 0], now)
        if queued:
            # The next cron run is due at once, whatever the interval or a budget back-off said.
            store.set_meta("next_due_at", now.isoformat())
            store.set_meta("budget_backoff_until", None)
        timing = RetryTiming.of(store)
    ids = [i.id for i in queued if retry_all or i.id == issue_id]
    if app.json:
        app.emit_json({"queued": ids, "retry": timing.next_session()})
        return
    if not ids:
        app.say("No open sync issues.")
        return
    noun = "Issue" if len(ids) == 1 else "Issues"
    app.say(
        f"{noun} {', '.join(str(i) for i in ids)} queued: retried {timing.next_session()} "
        "(`rgsync run` to retry now)."
    )


@dataclass(frozen=True)
class RetryTiming:
    """When issues are tried again, from the state store's schedule (SPEC §7.2, §7.4)."""

    next_due_at: datetime | None = None
    budget_backoff_until: datetime | None = None

    @classmethod
    def of(cls, store: StateStore) -> RetryTiming:
        """The schedule as the last session (or `issues retry`) left it."""
        return cls(_meta_time(store, "next_due_at"), _meta_time(store, "budget_backoff_until"))

    def next_session(self) -> str:
        """ "at the next session (due …)" in the user's words."""
        if self.next_due_at is None:
            return "at the next session"
        if self.next_due_at <= datetime.now(UTC):
            return "at the next session (due now)"
        return f"at the next session (due {format_time(self.next_due_at)})"

    def note(self, issue: StoredIssue) -> str:
        """When this issue will be retried, in a sentence."""
        if not issue.is_open:
            return "resolved; not retried"
        if issue.retry_requested_at is not None:
            return self.next_session()
        if issue.code == "SF-API-BUDGET" and self.budget_backoff_until is not None:
            return (
                f"after the API budget back-off, at the session due {format_time(self.budget_backoff_until)}"
            )
        if issue.stream is Stream.EMAILS and issue.item.mailbox_id:
            # An email does not change once received: it is read again when asked.
            return f"after `rgsync issues retry {issue.id}`, once the cause is fixed"
        if issue.item.mailbox_id or issue.item.salesforce_id:
            return f"when the item changes again, or after `rgsync issues retry {issue.id}`"
        return self.next_session()


def _meta_time(store: StateStore, key: str) -> datetime | None:
    value = store.get_meta(key)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
