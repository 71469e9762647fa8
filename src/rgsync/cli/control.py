"""`rgsync pause`, `rgsync resume`, `rgsync status`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from rgsync.cli.common import App, json_option, pass_app
from rgsync.cli.render import (
    api_calls_text,
    format_duration,
    format_time,
    key_value_table,
    session_to_json,
    stream_counts_table,
)
from rgsync.cli.session_log import log_file_path, log_level
from rgsync.errors import UsageError
from rgsync.state import SessionRecord, StateStore, lock_holder, state_location

NEXT_DUE_KEY = "next_due_at"


def _set_paused(app: App, paused: bool) -> None:
    with StateStore.open(state_location(app.paths)) as store:
        was = store.paused
        store.paused = paused
    if app.json:
        app.emit_json({"paused": paused, "changed": was != paused})
        return
    if paused:
        app.say(
            "Sync was already paused."
            if was
            else "Sync paused: `rgsync run` does nothing until `rgsync resume`."
        )
    else:
        app.say("Sync resumed: the next `rgsync run` syncs as usual." if was else "Sync was not paused.")


@click.command("pause")
@json_option
@pass_app
def pause_command(app: App) -> None:
    """Pause syncing: `rgsync run` does nothing until `rgsync resume`."""
    _set_paused(app, True)


@click.command("resume")
@json_option
@pass_app
def resume_command(app: App) -> None:
    """Resume syncing after `rgsync pause`."""
    _set_paused(app, False)


def _parse_due(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        due = datetime.fromisoformat(value)
    except ValueError:
        return None
    return due if due.tzinfo else due.replace(tzinfo=UTC)


def _session_line(session: SessionRecord, running_pid: int | None) -> str:
    started = format_time(session.started_at)
    kind = " (dry run)" if session.dry_run else ""
    if session.ended_at is not None:
        return f"{started}{kind}, took {format_duration(session.duration)}, {session.status}"
    if running_pid is not None:
        return f"{started}{kind}, still running"
    return f"{started}{kind}, did not finish (interrupted)"


def _history(app: App, days: int) -> None:
    from rgsync.cli.history import history_json, load_history, plain_lines, render_history

    store = StateStore.open_existing(state_location(app.paths))
    if store is None:
        points = []
    else:
        with store:
            points = load_history(store, datetime.now(UTC), days)
    if app.json:
        app.emit_json(history_json(points, days))
    elif app.quiet:
        return
    elif app.out.is_terminal:
        render_history(app.out, points, days)
    else:
        for line in plain_lines(points) if points else [f"No session in the last {days} days."]:
            click.echo(line)  # rich would expand the tabs that `cut -f` relies on


@click.command("status")
@click.option(
    "--history",
    is_flag=True,
    help="Chart the last sessions: items synced per stream, API calls, issues opened and resolved.",
)
@click.option(
    "--days",
    type=click.IntRange(1, 366),
    metavar="N",
    help="With --history: how many days back (default 7).",
)
@json_option
@pass_app
def status_command(app: App, history: bool, days: int | None) -> None:
    """Show whether sync is paused, the last session, when the next one is due, and open issues.

    With --history, chart the sessions of the last days instead (one column per session).
    """
    if history:
        _history(app, days or 7)
        return
    if days is not None:
        raise UsageError("--days goes with --history: `rgsync status --history --days N`")
    paths = app.paths
    running_pid = lock_holder(paths)
    store = StateStore.open_existing(state_location(paths))
    if store is None:
        paused, session, next_due_raw, open_issues = False, None, None, 0
    else:
        with store:
            paused = store.paused
            session = store.last_session()
            next_due_raw = store.get_meta(NEXT_DUE_KEY)
            open_issues = store.open_issue_count()
    next_due = _parse_due(next_due_raw)
    log_file, level = log_file_path(app), log_level(app)

    if app.json:
        payload: dict[str, Any] = {
            "profile": paths.profile,
            "paused": paused,
            "running_pid": running_pid,
            "last_session": None if session is None else session_to_json(session),
            "next_due_at": next_due.isoformat() if next_due else next_due_raw,
            "open_issues": open_issues,
            "log_file": None if level == "off" else str(log_file),
            "log_level": level,
        }
        app.emit_json(payload)
        return
    if app.quiet:
        return

    rows: list[tuple[str, str]] = [("Sync", "paused (`rgsync resume` to continue)" if paused else "active")]
    if running_pid is not None:
        rows.append(("Running now", f"pid {running_pid}" if running_pid else "yes"))
    if session is None:
        rows.append(("Last session", "no session has run yet"))
    else:
        rows.append(("Last session", _session_line(session, running_pid)))
        api_calls = session.summary.get("api_calls")
        if isinstance(api_calls, dict) and api_calls:
            rows.append(("API calls", api_calls_text(api_calls)))
        for key, value in session.summary.items():
            if key not in ("streams", "api_calls"):
                rows.append((key.replace("_", " ").capitalize(), str(value)))
    if next_due is not None:
        due_now = next_due <= datetime.now(UTC)
        rows.append(("Next due", "now" if due_now else format_time(next_due)))
    elif next_due_raw is not None:
        rows.append(("Next due", str(next_due_raw)))
    issues_hint = " (`rgsync issues list` shows them)" if open_issues else ""
    rows.append(("Open issues", f"{open_issues}{issues_hint}"))
    rows.append(("Log file", "off (log-level setting)" if level == "off" else f"{log_file} ({level})"))
    app.out.print(key_value_table(rows))
    streams = session.summary.get("streams") if session is not None else None
    if isinstance(streams, dict) and streams and all(isinstance(c, dict) for c in streams.values()):
        app.out.print(stream_counts_table(streams))


COMMANDS: list[click.Command] = [pause_command, resume_command, status_command]
