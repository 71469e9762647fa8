"""`rgsync pause|resume|status` and `rgsync issues list|show|resolve` as a user runs them (SPEC §2, §8)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rgsync.cli.since import parse_since
from rgsync.errors import UsageError
from rgsync.model import IssueItem, IssueReport, IssueSource, Severity, Stream
from rgsync.state import StateStore
from tests.system.cli_support import CliResult as Result
from tests.system.cli_support import invoke


@dataclass
class Profile:
    """A profile whose settings file (never created) and state live under a temporary folder."""

    root: Path
    capsys: pytest.CaptureFixture[str]

    @property
    def settings(self) -> Path:
        return self.root / "settings.toml"

    @property
    def state_db(self) -> Path:
        return self.root / ".rgsync-state" / "default" / "state.sqlite3"

    def run(self, *args: str) -> Result:
        return invoke(self.capsys, "--config", str(self.settings), *args)

    def store(self) -> StateStore:
        return StateStore.open(self.state_db)


@pytest.fixture
def profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Profile]:
    for name in ("RGSYNC_STATE_DIR", "RGSYNC_PROFILE", "RGSYNC_CONFIG", "RGSYNC_ORG_POLICY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "250")  # wide enough that rich does not wrap the cells we look for
    yield Profile(tmp_path, capsys)


NOW = datetime.now(UTC)


def email_issue(
    mailbox_id: str = "m1", subject: str = "Quarterly review", message: str = "Subject is required"
) -> IssueReport:
    return IssueReport(
        code="SF-REQUIRED-FIELD",
        severity=Severity.ERROR,
        source=IssueSource.SALESFORCE,
        message=message,
        advice="Give the email a subject, or ask your admin to relax the rule.",
        item=IssueItem(kind="email", subject=subject, mailbox_id=mailbox_id),
        stream=Stream.EMAILS,
    )


# ---------------------------------------------------------------------- a fresh profile


def test_issues_list_on_a_fresh_profile_says_there_are_none(profile: Profile) -> None:
    result = profile.run("issues", "list")
    assert (result.code, result.out.strip(), result.err) == (0, "No open sync issues.", "")
    assert not profile.state_db.exists()  # looking does not create a state folder


def test_issues_list_as_a_separate_process(profile: Profile) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "rgsync", "--config", str(profile.settings), "issues", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("RGSYNC_")},
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "No open sync issues."
    assert "Traceback" not in completed.stderr


def test_status_on_a_fresh_profile(profile: Profile) -> None:
    result = profile.run("status")
    assert result.code == 0
    assert "active" in result.out and "no session has run yet" in result.out
    assert "Open issues" in result.out
    data = profile.run("status", "--json").json
    assert data == {
        "profile": "default",
        "paused": False,
        "running_pid": None,
        "last_session": None,
        "next_due_at": None,
        "open_issues": 0,
        "log_file": str(profile.state_db.parent / "rgsync.log"),
        "log_level": "info",
    }
    assert not profile.state_db.exists()


# ---------------------------------------------------------------------- pause / resume


def test_pause_and_resume(profile: Profile) -> None:
    """SPEC §2: pause is remembered until resume; status shows it."""
    assert "Sync paused" in profile.run("pause").out
    assert "already paused" in profile.run("pause").out
    assert profile.run("--json", "status").json["paused"] is True  # type: ignore[index]
    assert "paused" in profile.run("status").out
    with profile.store() as store:
        assert store.paused
    assert "Sync resumed" in profile.run("resume").out
    assert profile.run("status", "--json").json["paused"] is False  # type: ignore[index]
    assert "was not paused" in profile.run("resume").out
    assert profile.run("-q", "pause").out == ""


# ---------------------------------------------------------------------- status with history


def test_status_shows_last_session_next_due_and_open_issues(profile: Profile) -> None:
    started = NOW - timedelta(minutes=10)
    with profile.store() as store:
        session = store.start_session(started)
        store.finish_session(
            session,
            started + timedelta(seconds=75),
            "completed",
            {
                "streams": {"emails": {"created": 3, "skipped": 12}, "events": {"updated": 2}},
                "api_calls": {"mailbox": 4, "salesforce": 1},
            },
        )
        store.set_meta("next_due_at", (NOW + timedelta(minutes=20)).isoformat())
        store.record_issue(email_issue(), NOW)
    result = profile.run("status")
    assert result.code == 0
    out = result.out
    assert "took 1m 15s, completed" in out
    assert "mailbox 4, salesforce 1" in out
    assert "emails" in out and "events" in out and "Skipped" in out
    assert "Next due" in out and "1 (`rgsync issues list` shows them)" in out
    data = profile.run("status", "--json").json
    assert isinstance(data, dict)
    last = data["last_session"]
    assert last["status"] == "completed" and last["duration_seconds"] == 75.0
    assert last["summary"]["streams"]["emails"]["created"] == 3
    assert last["summary"]["api_calls"] == {"mailbox": 4, "salesforce": 1}
    assert datetime.fromisoformat(data["next_due_at"]) > NOW
    assert data["open_issues"] == 1


def test_status_tells_an_interrupted_session(profile: Profile) -> None:
    with profile.store() as store:
        store.start_session(NOW - timedelta(hours=1))  # never finished: the run was killed
    assert "did not finish (interrupted)" in profile.run("status").out


# ---------------------------------------------------------------------- issues


def test_issues_list_table_and_json(profile: Profile) -> None:
    with profile.store() as store:
        store.record_issue(email_issue(subject="Quarterly [review]"), NOW - timedelta(hours=2))
        store.record_issue(email_issue(subject="Quarterly [review]"), NOW - timedelta(hours=1))
        store.record_issue(
            IssueReport(
                "MASS-DELETE-GUARD",
                Severity.WARNING,
                IssueSource.RGSYNC,
                "120 contacts would be deleted in the mailbox",
                "Run `rgsync run --allow-mass-delete` if that is intended.",
                stream=Stream.CONTACTS,
            ),
            NOW,
        )
    result = profile.run("issues", "list")
    assert result.code == 0
    for text in (
        "SF-REQUIRED-FIELD",
        "Quarterly [review]",
        "mailbox m1",
        "error",
        "salesforce",
        "MASS-DELETE-GUARD",
    ):
        assert text in result.out
    assert "contacts stream" in result.out
    assert "2 open issues" in result.out
    # the newest first
    assert result.out.index("MASS-DELETE-GUARD") < result.out.index("SF-REQUIRED-FIELD")

    data = profile.run("issues", "list", "--json").json
    assert isinstance(data, list) and len(data) == 2
    email = next(row for row in data if row["code"] == "SF-REQUIRED-FIELD")
    assert email["count"] == 2
    assert email["item"] == {
        "kind": "email",
        "subject": "Quarterly [review]",
        "mailbox_id": "m1",
        "salesforce_id": "",
    }
    assert set(email) == {
        "id", "code", "severity", "source", "stream", "item", "message", "advice",
        "first_seen", "last_seen", "count", "resolved_at", "retry",
    }  # fmt: skip
    assert datetime.fromisoformat(email["first_seen"]) < datetime.fromisoformat(email["last_seen"])


def test_issues_json_holds_no_secrets(profile: Profile) -> None:
    with profile.store() as store:
        store.record_issue(email_issue(message="invalid_grant for refresh_token=1//0gTOPSECRET"), NOW)
    result = profile.run("issues", "list", "--json")
    assert "TOPSECRET" not in result.out and "invalid_grant" in result.out


def test_issues_since_and_all(profile: Profile) -> None:
    with profile.store() as store:
        store.record_issue(email_issue(mailbox_id="old"), NOW - timedelta(days=10))
        store.record_issue(email_issue(mailbox_id="recent"), NOW - timedelta(hours=3))
        done = store.record_issue(email_issue(mailbox_id="done"), NOW - timedelta(hours=1))
        store.resolve_issue(done, NOW)

    def ids(*args: str) -> list[str]:
        data = profile.run("issues", "list", "--json", *args).json
        assert isinstance(data, list)
        return [row["item"]["mailbox_id"] for row in data]

    assert ids() == ["recent", "old"]
    assert ids("--since", "7d") == ["recent"]
    assert ids("--since", "2h") == []
    assert ids("--all") == ["done", "recent", "old"]
    assert ids("--all", "--since", "12h") == ["done", "recent"]
    since_date = (NOW - timedelta(days=20)).date().isoformat()
    assert ids("--since", since_date) == ["recent", "old"]
    text = profile.run("issues", "list", "--all").out
    assert "Resolved" in text and "open" in text
    assert "No open sync issues since" in profile.run("issues", "list", "--since", "1h").out


def test_bad_since_is_one_line_and_exit_2(profile: Profile) -> None:
    result = profile.run("issues", "list", "--since", "last tuesday")
    assert result.code == 2
    assert result.err.strip() == (
        "rgsync: --since 'last tuesday' is neither a date nor a duration; "
        "use e.g. 2024-05-01, 2024-05-01T09:00, 7d or 12h"
    )


def test_issues_show_every_field(profile: Profile) -> None:
    with profile.store() as store:
        issue_id = store.record_issue(email_issue(), NOW)
    result = profile.run("issues", "show", str(issue_id))
    assert result.code == 0
    for text in ("SF-REQUIRED-FIELD", "Quarterly review", "m1", "Subject is required", "Give the email a subject",
                 "First seen", "Last seen", "Count", "open", "emails", "salesforce", "error"):  # fmt: skip
        assert text in result.out
    data = profile.run("issues", "show", str(issue_id), "--json").json
    assert isinstance(data, dict) and data["id"] == issue_id and data["resolved_at"] is None


@pytest.mark.parametrize("command", ["show", "resolve"])
def test_unknown_issue_id_is_exit_2_in_one_line(profile: Profile, command: str) -> None:
    result = profile.run("issues", command, "42")
    assert result.code == 2
    assert (
        result.err.strip() == "rgsync: there is no issue 42; `rgsync issues list --all` shows the issue ids"
    )
    assert not profile.state_db.exists()
    with profile.store() as store:
        store.record_issue(email_issue(), NOW)
    assert profile.run("issues", command, "42").code == 2
    not_a_number = profile.run("issues", command, "abc")
    assert not_a_number.code == 2 and "Traceback" not in not_a_number.err


def test_issues_resolve(profile: Profile) -> None:
    with profile.store() as store:
        issue_id = store.record_issue(email_issue(), NOW)
    result = profile.run("issues", "resolve", str(issue_id))
    assert result.code == 0 and f"Issue {issue_id} (SF-REQUIRED-FIELD) marked resolved." in result.out
    assert profile.run("issues", "list").out.strip() == "No open sync issues."
    assert "already resolved" in profile.run("issues", "resolve", str(issue_id)).out
    data = profile.run("issues", "show", str(issue_id), "--json").json
    assert isinstance(data, dict) and data["resolved_at"] is not None
    assert profile.run("status", "--json").json["open_issues"] == 0  # type: ignore[index]


# ---------------------------------------------------------------------- --since parsing


@pytest.mark.parametrize(
    ("text", "back"),
    [("7d", timedelta(days=7)), ("12h", timedelta(hours=12)), ("30m", timedelta(minutes=30)),
     ("2w", timedelta(weeks=2)), ("45s", timedelta(seconds=45)), ("3 days", timedelta(days=3))],
)  # fmt: skip
def test_since_durations(text: str, back: timedelta) -> None:
    assert parse_since(text, NOW) == NOW - back


def test_since_iso_with_and_without_offset() -> None:
    assert parse_since("2024-05-01T09:00:00+00:00", NOW) == datetime(2024, 5, 1, 9, tzinfo=UTC)
    local = parse_since("2024-05-01", NOW)
    assert local.tzinfo is not None and local.replace(tzinfo=None) == datetime(2024, 5, 1)
    with pytest.raises(UsageError):
        parse_since("yesterday", NOW)
