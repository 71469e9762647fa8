"""The log file of `rgsync run` and `rgsync save`: where it is, and the lines a session leaves in it.

Cron mails only failures; the log keeps the rest: one INFO line per session (status, duration,
counts per stream, API calls per side) and one per issue the session opened or resolved.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rgsync.cli.common import App
from rgsync.errors import RgsyncError
from rgsync.logs import DEFAULT_LOG_LEVEL, FILE_ONLY, configure_file_log
from rgsync.session import SessionResult
from rgsync.settings import load_settings
from rgsync.state import StateStore, StoredIssue, state_location

log = logging.getLogger("rgsync.run")


def log_file_path(app: App) -> Path:
    """The log file of the profile: `--log-file`, else the profile's default (see `Paths.log_file`)."""
    if app.log_file:
        return Path(app.log_file).expanduser().absolute()
    return app.paths.log_file


def log_level(app: App) -> str:
    """`--log-level`, else the `log-level` setting, else info.

    A settings file that does not load leaves the default: the command itself reports the problem.
    """
    if app.log_level:
        return app.log_level
    paths = app.paths
    try:
        return str(load_settings(paths.settings_file, paths.org_policy_file).effective().schedule.log_level)
    except RgsyncError:
        return DEFAULT_LOG_LEVEL


def start_session_log(app: App) -> Path | None:
    """Open the profile's log file for this command; None when the level is `off`.

    A log path that is a folder, a pipe or a device stops the command (exit 2) before any sync.
    """
    return configure_file_log(log_file_path(app), log_level(app))


def _counts(name: str, counts: dict[str, object]) -> str:
    def n(key: str, side: str) -> int:
        value = counts.get(key)
        return int(value.get(side, 0)) if isinstance(value, dict) else 0

    read = counts.get("changes_read")
    read_total = sum(int(v) for v in read.values()) if isinstance(read, dict) else 0
    skipped = counts.get("skipped")
    skipped_total = sum(int(v) for v in skipped.values()) if isinstance(skipped, dict) else 0
    sides = " ".join(
        f"{side} +{n('created', side)} ~{n('updated', side)} -{n('deleted', side)}"
        for side in ("salesforce", "mailbox")
    )
    return (
        f"{name} {counts.get('status', '?')} read {read_total} {sides} "
        f"matched {counts.get('linked', 0)} skipped {skipped_total} failed {counts.get('failed', 0)}"
    )


def session_line(result: SessionResult) -> str:
    """One line for the log: session id, status, duration, per-stream counts, API calls per side."""
    payload = result.to_json()
    duration = (
        (result.ended_at - result.started_at).total_seconds()
        if result.ended_at and result.started_at
        else 0.0
    )
    streams = "; ".join(_counts(name, counts) for name, counts in payload["streams"].items())
    calls = result.api_calls
    text = (
        f"session {result.session_id} {result.status} in {duration:.1f} s: {streams or 'no stream ran'}; "
        f"API calls salesforce {calls.get('salesforce', 0)} mailbox {calls.get('mailbox', 0)}"
    )
    if result.message and result.status != "completed":
        text += f"; {result.message}"
    return text


def _issue_text(issue: StoredIssue) -> str:
    stream = issue.stream.value if issue.stream else "session"
    item = issue.item.subject or issue.item.mailbox_id or issue.item.salesforce_id or ""
    where = f" {item!r}" if item else ""
    return f"issue {issue.id} {issue.code} [{stream}]{where}: {issue.message}"


def log_session(app: App, result: SessionResult) -> None:
    """Write the session's line and one line per issue it opened or resolved to the log."""
    if result.status in ("paused", "not-due"):
        # Cron wakes rgsync every few minutes: a run with nothing due stays out of the INFO log.
        log.debug("run: %s", result.status, extra=FILE_ONLY)
        return
    log_method = log.info if result.status in ("completed", "dry-run") else log.warning
    log_method("%s", session_line(result), extra=FILE_ONLY)
    for stream, summary in result.streams.items():
        # The detail behind the counts, for a bug report: changes read per side, skips by reason.
        read = ", ".join(f"{side} {n}" for side, n in sorted(summary.changes_read.items())) or "nothing"
        skipped = ", ".join(f"{why} {n}" for why, n in sorted(summary.skipped.items())) or "none"
        log.debug(
            "session %s %s: read %s; skipped %s%s",
            result.session_id,
            stream.value,
            read,
            skipped,
            f"; {summary.error}" if summary.error else "",
            extra=FILE_ONLY,
        )
    if result.started_at is None or result.status == "dry-run":
        return
    store = StateStore.open_existing(state_location(app.paths))
    if store is None:
        return
    with store:
        opened, resolved = store.issue_changes(result.started_at)
    for issue in opened:
        (log.warning if issue.severity.value == "error" else log.info)(
            "opened %s", _issue_text(issue), extra=FILE_ONLY
        )
    for issue in resolved:
        log.info("resolved %s", _issue_text(issue), extra=FILE_ONLY)
