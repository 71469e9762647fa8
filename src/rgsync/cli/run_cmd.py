"""`rgsync run` (one sync session) and `rgsync save` (save one email now)."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any

import click

from rgsync.cli.common import App, json_option, pass_app, quiet_option
from rgsync.cli.session_log import log_session, start_session_log
from rgsync.cli.since import parse_since
from rgsync.errors import EXIT_OK, UsageError
from rgsync.logs import close_file_log
from rgsync.session import RunOptions, SessionResult
from rgsync.session.progress import NO_PROGRESS
from rgsync.sync import run_session


def _describe(action: Any) -> str:
    write = action.write
    where = action.side.value
    if write is None:
        verb = "unlink" if action.link and action.link.remove else "link to existing"
        target = action.link.salesforce_id if action.link else ""
        return f"{verb} {target}".strip()
    kind = getattr(write, "kind", "")
    name = type(write).__name__.lower()
    what = action.subject or getattr(write, "key", "") or getattr(write, "id", "")
    return f"{name} {kind} in {where}: {what}"


def render_result(app: App, result: SessionResult, *, dry_run: bool) -> None:
    """Print a session's outcome for a person: what changed per stream, skips by reason, issues."""
    # Imported here: a run from cron with --quiet or --json prints no table.
    from rgsync.cli.render import COUNTS_LEGEND, AdaptiveTable, Column, format_time

    if result.status in ("paused", "not-due"):
        if result.status == "paused":
            app.say(result.message)
        return
    out = app.out
    if dry_run:
        if result.status == "failed":
            out.print(f"[red]Dry run failed: {result.message}[/red] (nothing was changed)", highlight=False)
            return
        out.print(f"[bold]Dry run[/bold]: {len(result.planned)} planned actions; nothing was changed.")
        for action in result.planned:
            out.print(f"  • [{action.stream.value}] {_describe(action)}", highlight=False)
        if result.skips:
            out.print("Skipped items:")
            for skip in result.skips:
                out.print(
                    f"  • [{skip.stream.value}] {skip.subject or skip.item_id}: {skip.reason.value}",
                    highlight=False,
                )
        return
    duration = (
        (result.ended_at - result.started_at).total_seconds()
        if result.ended_at and result.started_at
        else 0.0
    )
    colour = "green" if result.status == "completed" else "red"
    # On a terminal, prose wraps at word boundaries; in a pipe or cron mail it stays one line.
    wrap = out.is_terminal
    out.print(
        f"Session {result.session_id} [{colour}]{result.status}[/{colour}] in {duration:.1f} s — "
        f"API calls: Salesforce {result.api_calls.get('salesforce', 0)}, mailbox {result.api_calls.get('mailbox', 0)}",
        highlight=False,
        soft_wrap=not wrap,
    )
    table = AdaptiveTable(
        [
            Column("stream"),
            Column("read", justify="right", optional=True),
            Column("Salesforce"),
            Column("mailbox"),
            Column("matched", justify="right", optional=True),
            Column("failed", justify="right"),
            Column("status"),
        ]
    )
    for stream, s in result.streams.items():
        table.add_row(
            stream.value,
            str(sum(s.changes_read.values())),
            f"+{s.created['salesforce']} ~{s.updated['salesforce']} -{s.deleted['salesforce']}",
            f"+{s.created['mailbox']} ~{s.updated['mailbox']} -{s.deleted['mailbox']}",
            str(s.linked),
            str(s.failed),
            s.status,
        )
    out.print(table)
    if result.backfill_since is not None:
        when = format_time(result.backfill_since)
        out.print(
            f"Backfill: read back to {when}."
            if result.backfill_widened
            else f"--since {when} is within history-days and the calendar window: nothing further back to read.",
            highlight=False,
        )
    if out.is_terminal:
        # "matched": paired with a record already on the other side, nothing written.
        out.print(
            f"({COUNTS_LEGEND}; matched: found already there, linked)",
            style="dim",
            highlight=False,
            soft_wrap=False,
        )
    for stream, s in result.streams.items():
        if s.skipped:
            reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(s.skipped.items()))
            out.print(f"Skipped {stream.value}: {reasons}", highlight=False)
        if s.error:
            out.print(f"[red]{stream.value}: {s.error}[/red]", highlight=False)
    if result.message and result.status != "completed":
        out.print(f"[red]{result.message}[/red]", highlight=False)
    if result.open_issues:
        out.print(f"{result.open_issues} open sync issue(s): `rgsync issues list` shows them.")


@click.command("run")
@click.option(
    "--dry-run", is_flag=True, help="Print what would be done and why items are skipped; change nothing."
)
@click.option("--force", is_flag=True, help="Run now even if the interval or a back-off says it is not due.")
@click.option(
    "--allow-mass-delete", is_flag=True, help="Carry out deletions the mass-deletion guard held back."
)
@click.option(
    "--since",
    metavar="WHEN",
    help="For this run only, also read emails and meetings back to a date (2024-05-01) or for a "
    "duration (90d, 2w), past history-days; cursors are left as they were.",
)
@quiet_option
@json_option
@pass_app
def run_command(app: App, dry_run: bool, force: bool, allow_mass_delete: bool, since: str | None) -> None:
    """Run one sync session (what cron calls)."""
    since_at = parse_since(since, datetime.now(UTC)) if since is not None else None
    options = RunOptions(force=force, dry_run=dry_run, allow_mass_delete=allow_mass_delete, since=since_at)
    # Progress only for a person at a terminal: never in cron mail, a pipe, --quiet or --json.
    progress = None
    if not app.quiet and not app.json and app.err.is_terminal:
        from rgsync.cli.progress import SessionProgress

        progress = SessionProgress(app.err)
    start_session_log(app)
    try:
        with progress or nullcontext():
            result = run_session(app.paths, options, progress or NO_PROGRESS)
        log_session(app, result)
    finally:
        close_file_log()
    if app.json:
        payload = result.to_json()
        if dry_run:
            payload["planned"] = [
                {"stream": a.stream.value, "side": a.side.value, "action": _describe(a)}
                for a in result.planned
            ]
            payload["skipped_items"] = [
                {"stream": s.stream.value, "item": s.item_id, "subject": s.subject, "reason": s.reason.value}
                for s in result.skips
            ]
        app.emit_json(payload)
    elif not app.quiet or result.exit_code != EXIT_OK:
        render_result(app, result, dry_run=dry_run)
    raise SystemExit(result.exit_code)


@click.command("save")
@click.argument("item")
@click.option("--thread", is_flag=True, help="Also track the thread: later emails of it are saved too.")
@quiet_option
@json_option
@pass_app
def save_command(app: App, item: str, thread: bool) -> None:
    """Save one email (by its mailbox id) to Salesforce now, whatever the auto-save settings.

    The id is the one rgsync shows for an email: `rgsync run --dry-run --json` (`item`) and
    `rgsync issues list` (`mailbox …`) give it. Without an id, label the email `Salesforce`.
    """
    from rgsync.session import ProviderError

    start_session_log(app)
    try:
        result = run_session(app.paths, RunOptions(force=True, manual=(item,), manual_thread=thread))
        log_session(app, result)
    except ProviderError as exc:
        if exc.code != "MAIL-NOT-FOUND":
            raise
        raise UsageError(
            f"no email with id {item!r} in the mailbox; an email's id is the `item` of "
            "`rgsync run --dry-run --json` or the `mailbox …` id of `rgsync issues list`, "
            "or label the email `Salesforce` to save it at the next run"
        ) from exc
    finally:
        close_file_log()
    if app.json:
        app.emit_json(result.to_json())
    else:
        emails = result.streams.get(next(iter(result.streams))) if result.streams else None
        if emails and (emails.created["salesforce"] or emails.linked):
            app.say(f"Saved {item} to Salesforce.")
        elif result.skips:
            app.say(f"Not saved: {result.skips[0].reason.value}.")
        else:
            app.say(f"Not saved: {result.message or 'the email was already saved'}.")
    raise SystemExit(result.exit_code)
