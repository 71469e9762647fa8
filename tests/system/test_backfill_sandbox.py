"""`rgsync run --since`: a one-off backfill past history-days (SPEC §1), through the real adapters.

Gmail and Microsoft 365 emulators over real HTTP: an email older than history-days is not saved by
a normal session, nor a meeting before the calendar window (SPEC §4.1); `run --since 90d` saves
both exactly once (a second backfill writes nothing),
and the normal session after the backfill makes the same calls as an idle one made before it —
the incremental cursors were not moved.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

import pytest

from rgsync.cli import main
from rgsync.demo.sandbox import Sandbox, start_sandbox
from rgsync.demo.scenarios import scenario_path
from rgsync.model import Side, Stream
from rgsync.sandbox.scenario import load_scenario
from rgsync.state import StateStore

OLD = "Renewal terms from last quarter"
RECENT = "Order question this week"
FRESH = "Delivery date for the order"
MEETING = "Globex kickoff in the autumn"


def _deliver(sandbox: Sandbox, subject: str, age: timedelta, key: str) -> None:
    message = EmailMessage(policy=SMTP)
    message["From"] = "Bob Baker <bob@globex.com>"
    message["To"] = sandbox.scenario.user.address
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC) - age)
    message["Message-ID"] = f"<{key}@globex.com>"
    message.set_content(f"{subject}.")
    folder = ["INBOX"] if sandbox.mailbox_kind == "gmail" else "inbox"
    sandbox.mailbox.state.add_message(message.as_bytes(), folder)  # type: ignore[attr-defined]


def _meeting(sandbox: Sandbox, subject: str, age: timedelta) -> None:
    start = (datetime.now(UTC) - age).replace(microsecond=0)
    end = start + timedelta(hours=1)
    if sandbox.mailbox_kind == "gmail":
        sandbox.mailbox.state.add_event(  # type: ignore[attr-defined]
            {
                "summary": subject,
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": end.isoformat()},
                "organizer": {"email": sandbox.scenario.user.address, "self": True},
                "attendees": [{"email": "bob@globex.com", "responseStatus": "accepted"}],
            }
        )
    else:
        sandbox.mailbox.state.add_event(  # type: ignore[attr-defined]
            {
                "subject": subject,
                "start": {"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
                "end": {"dateTime": end.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
                "attendees": [
                    {
                        "emailAddress": {"address": "bob@globex.com", "name": "Bob Baker"},
                        "type": "required",
                        "status": {"response": "accepted"},
                    }
                ],
            }
        )


@pytest.fixture(params=["gmail", "microsoft365"])
def sandbox(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Sandbox]:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    running = start_sandbox(load_scenario(scenario_path("minimal")), tmp_path / "sbx", mailbox=request.param)
    try:
        _deliver(running, OLD, timedelta(days=60), "old-1")
        _deliver(running, RECENT, timedelta(days=1), "recent-1")
        _meeting(running, MEETING, timedelta(days=40))  # calendar-past-days is 14
        yield running
    finally:
        running.stop()


def _cli(sandbox: Sandbox, *args: str) -> tuple[int, str]:
    return _cli_at(sandbox.settings_file, *args)


def _cli_at(settings_file: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            main(["--config", str(settings_file), *args])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue()


def _run(sandbox: Sandbox, *args: str) -> tuple[dict[str, object], Counter[str]]:
    """`rgsync run --force --json ARGS`: (the JSON result, calls made to both emulators by route)."""
    before = Counter(sandbox.salesforce.server.calls) + Counter(sandbox.mailbox.server.calls)  # type: ignore[attr-defined]
    code, out = _cli(sandbox, "run", "--force", "--json", *args)
    assert code == 0, out
    calls = Counter(sandbox.salesforce.server.calls) + Counter(sandbox.mailbox.server.calls)  # type: ignore[attr-defined]
    return json.loads(out), calls - before


def _saved(sandbox: Sandbox, subject: str) -> int:
    return len([r for r in sandbox.salesforce.org.records("EmailMessage") if r.get("Subject") == subject])


def _events(sandbox: Sandbox, subject: str) -> int:
    return len([r for r in sandbox.salesforce.org.records("Event") if r.get("Subject") == subject])


def _cursors(sandbox: Sandbox) -> dict[Stream, str | None]:
    store = StateStore.open(sandbox.paths.state_db)
    try:
        # Salesforce, tasks and contacts are read as in any session; only these reach further back.
        return {s: store.cursor(s, Side.MAILBOX) for s in (Stream.EMAILS, Stream.EVENTS)}
    finally:
        store.close()


def test_spec_3_1_and_7_since_backfills_older_emails_once_and_leaves_the_cursors(sandbox: Sandbox) -> None:
    """SPEC §1 history-days, §7 never duplicate: `run --since 90d` saves the 60-day-old email once."""
    code, out = _cli(sandbox, "settings", "set", "history-days", "30")
    assert code == 0, out

    first, _ = _run(sandbox)
    assert _saved(sandbox, RECENT) == 1
    assert _saved(sandbox, OLD) == 0, "older than history-days: a normal session leaves it"
    assert _events(sandbox, MEETING) == 0, "before the calendar window: a normal session leaves it"
    assert "backfill" not in first
    _run(sandbox)  # the echo of rgsync's own marks
    _idle, idle_calls = _run(sandbox)
    cursors = _cursors(sandbox)
    # Arrived since the last session: the backfill's listing shows it, and so will the next
    # normal session's, which must recognise it as saved.
    _deliver(sandbox, FRESH, timedelta(minutes=5), "fresh-1")

    backfill, _ = _run(sandbox, "--since", "90d")
    assert backfill["status"] == "completed", backfill
    assert backfill["backfill"]["widened"] is True  # type: ignore[index]
    assert _saved(sandbox, OLD) == 1
    assert _saved(sandbox, RECENT) == 1, "the email saved before is recognised, not saved again"
    assert _saved(sandbox, FRESH) == 1
    assert _events(sandbox, MEETING) == 1, "SPEC §4.1: the backfill reaches meetings too"
    assert _cursors(sandbox) == cursors, "a backfill leaves the mailbox cursors where they were"

    again, _ = _run(sandbox, "--since", "90d")
    assert again["streams"]["emails"]["created"]["salesforce"] == 0  # type: ignore[index]
    assert _saved(sandbox, OLD) == _saved(sandbox, RECENT) == _saved(sandbox, FRESH) == 1
    assert _events(sandbox, MEETING) == 1, "a linked meeting is not created again"

    # The next normal session continues from the old cursor: it meets the marks the backfill set
    # (one Salesforce call, nothing written), and the session after it is idle as before.
    echo, echo_calls = _run(sandbox)
    assert echo["streams"]["emails"]["created"]["salesforce"] == 0  # type: ignore[index]
    assert echo["api_calls"]["salesforce"] == 1, dict(echo_calls)  # type: ignore[index]
    assert _saved(sandbox, FRESH) == 1, "met again through the old cursor, recognised as saved"
    _after, after_calls = _run(sandbox)
    assert after_calls == idle_calls, (dict(after_calls), dict(idle_calls))


def test_spec_3_1_since_within_history_days_widens_nothing(sandbox: Sandbox) -> None:
    """SPEC §1: a --since shorter than history-days is a no-op widening, and says so."""
    _cli(sandbox, "settings", "set", "history-days", "30")
    result, _ = _run(sandbox, "--since", "7d")
    assert result["backfill"]["widened"] is False  # type: ignore[index]
    assert _saved(sandbox, OLD) == 0 and _saved(sandbox, RECENT) == 1
    code, out = _cli(sandbox, "run", "--force", "--since", "7d")
    assert code == 0, out
    assert "nothing further back to read" in out


@pytest.mark.parametrize("value", ["yesterday", "90x", "99999999d", "2024-13-45"])
def test_spec_8_bad_since_exits_2_with_one_line(tmp_path: Path, value: str) -> None:
    """SPEC §8: a bad --since is a usage error, one line naming the option and the fix."""
    code, out = _cli_at(tmp_path / "settings.toml", "run", "--force", "--since", value)
    assert code == 2
    lines = out.strip().splitlines()
    assert len(lines) == 1 and "--since" in lines[0], out
