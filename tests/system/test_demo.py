"""`rgsync demo` and `rgsync sandbox serve` as a newcomer uses them (issue 6), checked on what they
print and on both emulators' data: the real adapters against the Salesforce and Google emulators."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from rgsync.cli import main
from rgsync.demo import story as demo_module
from rgsync.demo.story import DemoRun, run_demo

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "scenarios" / "demo.toml"
MINIMAL = REPO / "examples" / "scenarios" / "minimal.toml"


@dataclass
class DemoOutcome:
    code: int
    out: str
    err: str
    run: DemoRun


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoOutcome]:
    """`rgsync demo --fast` once for the module, keeping the `DemoRun` it produced for inspection."""
    runs: list[DemoRun] = []
    original = demo_module.run_demo

    def recording(*args: Any, **kwargs: Any) -> DemoRun:
        run = original(*args, **kwargs)
        runs.append(run)
        return run

    out, err = io.StringIO(), io.StringIO()
    patch = pytest.MonkeyPatch()
    patch.setattr(demo_module, "run_demo", recording)
    patch.setenv("RGSYNC_KEYRING", "file")  # never touch a developer's OS keyring
    patch.setenv("COLUMNS", "160")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["demo", "--fast"])
                code = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
    finally:
        patch.undo()
    assert runs, err.getvalue()
    yield DemoOutcome(code, out.getvalue(), err.getvalue(), runs[0])


def cli(*args: str) -> int:
    """Run `rgsync ARGS` in this process; the exit code."""
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def rows(run: DemoRun, object_name: str) -> list[dict[str, Any]]:
    return list(run.sandbox.salesforce.org.records(object_name))


def by_subject(run: DemoRun, object_name: str, subject: str) -> list[dict[str, Any]]:
    return [r for r in rows(run, object_name) if r.get("Subject") == subject]


def related(run: DemoRun, email: dict[str, Any]) -> set[str]:
    return {
        r["RelationId"]
        for r in rows(run, "EmailMessageRelation")
        if r["EmailMessageId"] == email["Id"] and r.get("RelationId")
    }


# --- what the user sees ------------------------------------------------------------------------


def test_demo_exits_0_and_tells_both_sessions(demo: DemoOutcome) -> None:
    assert demo.code == 0, demo.out + demo.err
    out = demo.out
    assert "Session 1: the first sync" in out and "Session 2: only what changed" in out
    assert out.count("completed in") >= 2
    assert "“Globex renewal: pricing question” → Bob Baker · Globex – Expansion (Opportunity)" in out
    assert "“Initech pilot: kickoff agenda” → Carol Cole · Initech (Account)" in out
    assert "“Hooli: intro call?” → Erin Ellis" in out
    assert "Salesforce Events in the mailbox calendar" in out and "“Globex QBR prep”" in out
    assert "Bob Baker <bob@globex.com>" in out  # a down-synced contact


def test_demo_groups_skipped_items_by_reason(demo: DemoOutcome) -> None:
    out = demo.out
    for reason, subject in [
        ("blocklisted", "Weekend plans"),  # free mail (SPEC §3.2)
        ("internal: only colleagues", "Team lunch on Friday"),
        ("no Opportunity or Account to link to", "Trial feedback"),  # SPEC §3.5's "not saved" case
        ("no Contact or Lead in Salesforce", "Quick question"),
        ("service message", "Undelivered Mail Returned to Sender"),
        ("invitation not answered", "Globex roadmap preview"),
        ("invitation declined", "Globex summer party"),
        ("private", "Farewell planning"),
        ("appointment", "Dentist"),
    ]:
        assert any(reason in line and subject in line for line in out.splitlines()), (reason, subject)


def test_demo_shows_the_issues_table(demo: DemoOutcome) -> None:
    assert "Sync issues" in demo.out
    assert "SF-VALIDATION" in demo.out and "EVENT-TOO-LONG" in demo.out


def test_demo_second_session_is_incremental(demo: DemoOutcome) -> None:
    run = demo.run
    emails = run.second.streams[next(s for s in run.second.streams if s.value == "emails")]
    assert emails.created["salesforce"] == 1  # only the newly delivered email
    writes = sum(s.writes for s in run.second.streams.values())
    assert writes == 4  # new email, moved meeting, renamed event, new task: nothing else
    assert sum(s.writes for s in run.idle.streams.values()) == 0
    assert run.idle.api_calls["salesforce"] == 1  # SPEC §10: an idle session costs one Salesforce call
    assert "What the second session changed" in demo.out
    assert "+ “Globex QBR prep (moved online)”" in demo.out
    assert "+ “Prepare the Globex contract draft”" in demo.out
    assert "API calls per session" in demo.out


# --- what Salesforce holds ---------------------------------------------------------------------


def test_salesforce_holds_the_saved_emails_with_their_links(demo: DemoOutcome) -> None:
    run = demo.run
    keys = run.sandbox.keys
    pricing = by_subject(run, "EmailMessage", "Globex renewal: pricing question")
    assert len(pricing) == 1
    assert pricing[0]["RelatedToId"] == keys["o2"]  # the newest of Ann's Globex opportunities
    assert keys["bob"] in related(run, pricing[0])
    kickoff = by_subject(run, "EmailMessage", "Initech pilot: kickoff agenda")[0]
    assert kickoff["RelatedToId"] == keys["initech"]  # O3 is Frank's: the Account instead
    hooli = by_subject(run, "EmailMessage", "Hooli: intro call?")[0]
    assert hooli["RelatedToId"] is None and keys["erin"] in related(run, hooli)
    security = by_subject(run, "EmailMessage", "Globex security review")[0]
    assert keys["xena"] not in related(run, security)  # blocklisted participant left out
    booth = by_subject(run, "EmailMessage", "Conference booth invoice")[0]
    assert booth["RelatedToId"] is None  # manual save by label: no links by rule
    thread_reply = by_subject(run, "EmailMessage", "Re: Globex rollout plan")[0]
    assert thread_reply["RelatedToId"] == keys["o2"]  # tracked thread: the first email's links
    new = by_subject(run, "EmailMessage", "Re: Globex renewal: signed order form")
    assert len(new) == 1  # delivered between the sessions, saved once


def test_salesforce_holds_nothing_that_must_not_be_saved(demo: DemoOutcome) -> None:
    saved = {r.get("Subject") for r in rows(demo.run, "EmailMessage")}
    for subject in (
        "Trial feedback",
        "Weekend plans",
        "Team lunch on Friday",
        "Partnership offer",
        "Quick question",
        "Automatic reply: Initech pilot",
        "You have won a prize",
        "Onboarding notes",
        "Undelivered Mail Returned to Sender",
        "CONFIDENTIAL: Globex board minutes",  # refused by the validation rule
    ):
        assert subject not in saved, subject


def test_salesforce_holds_the_saved_meetings(demo: DemoOutcome) -> None:
    run = demo.run
    keys = run.sandbox.keys
    review = by_subject(run, "Event", "Globex renewal review")
    assert len(review) == 1
    assert review[0]["WhoId"] == keys["bob"] and review[0]["WhatId"] == keys["o2"]
    assert len(by_subject(run, "Event", "Globex weekly stand-up")) == 3  # one Event per occurrence
    workshop = by_subject(run, "Event", "Initech on-site workshop")[0]
    assert workshop["IsAllDayEvent"] is True
    for subject in (
        "Globex roadmap preview",
        "Globex summer party",
        "1:1 Ann / Frank",
        "Vendor pitch",
        "Dentist",
        "Farewell planning",
        "Globex annual kick-off",
        "Globex trade fair",
    ):
        assert not by_subject(run, "Event", subject), subject


def test_meeting_moved_in_the_mailbox_moved_in_salesforce(demo: DemoOutcome) -> None:
    run = demo.run
    event = by_subject(run, "Event", "Globex renewal review")[0]
    mailbox = next(
        stored.resource
        for stored in run.sandbox.mailbox.state.calendar.events.values()
        if stored.resource.get("summary") == "Globex renewal review"
    )
    assert event["StartDateTime"] == datetime.fromisoformat(mailbox["start"]["dateTime"])
    assert mailbox["location"] == "Globex HQ, room 4.12"
    assert event["Location"] == "Globex HQ, room 4.12"


def test_mailbox_task_created_in_salesforce(demo: DemoOutcome) -> None:
    task = by_subject(demo.run, "Task", "Book travel to Globex HQ")
    assert len(task) == 1 and task[0]["OwnerId"] == demo.run.sandbox.salesforce.user_id


# --- what the mailbox holds --------------------------------------------------------------------


def test_mailbox_calendar_holds_the_down_synced_event_without_invitations(demo: DemoOutcome) -> None:
    state = demo.run.sandbox.mailbox.state
    events = {e.resource.get("summary"): (eid, e.resource) for eid, e in state.calendar.events.items()}
    assert "Globex QBR prep (moved online)" in events  # renamed in Salesforce, followed in the mailbox
    assert "Globex QBR prep" not in events
    assert "Initech board review" not in events  # Frank's Event
    event_id, _ = events["Globex QBR prep (moved online)"]
    sends = [choice for method, eid, choice in state.calendar.send_updates_log if eid == event_id]
    assert sends and all(choice == "none" for choice in sends)


def test_mailbox_task_list_holds_the_users_salesforce_tasks(demo: DemoOutcome) -> None:
    titles = {line.split("”")[0].lstrip("“") for line in demo.run.after.mailbox_tasks}
    assert {
        "Send Globex the revised quote",
        "Call Gus about the trial",
        "Prepare the Globex contract draft",
    } <= titles
    for absent in ("Q3 check-in with Dave", "Initech security questionnaire", "Email: Globex intro"):
        assert absent not in titles


def test_mailbox_contacts_hold_the_users_salesforce_contacts(demo: DemoOutcome) -> None:
    names = {line.split(" <")[0] for line in demo.run.after.mailbox_contacts}
    assert names == {"Bob Baker", "Dave Dunn", "Gus Grant"}  # contacts-scope mine


def test_demo_leaves_nothing_behind(demo: DemoOutcome) -> None:
    assert not demo.run.directory.exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", demo.run.sandbox.salesforce.server.port), timeout=1)


# --- options -----------------------------------------------------------------------------------


def test_demo_refuses_mailboxes_not_built_yet(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from rgsync.demo import kinds

    # Every kind has an emulator now: take one away to see how a missing one is refused.
    missing = dataclasses.replace(kinds.KINDS["exchange"], emulator="rgsync.sandbox.not_installed")
    monkeypatch.setitem(kinds.KINDS, "exchange", missing)
    for kind, name in (("exchange", "Exchange"),):
        assert cli("demo", "--mailbox", kind) == 2
        err = capsys.readouterr().err
        assert err.strip().count("\n") == 0 and f"no {name} mailbox" in err and "--mailbox gmail" in err


def test_demo_keep_leaves_a_usable_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    keep = tmp_path / "demo"
    stay = threading.Event()
    stay.set()  # serve after the story, but stop at once
    console = Console(file=io.StringIO(), width=160)
    run = run_demo(console, keep=keep, fast=True, stay=stay, scenario_file=MINIMAL)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert run.first.status == "completed"
    assert (keep / "settings.toml").is_file() and (keep / "endpoints.json").is_file()
    assert f"rgsync --config {keep / 'settings.toml'} run --dry-run" in text
    assert "Sandbox stopped." in text
    capsys.readouterr()
    assert cli("--config", str(keep / "settings.toml"), "status", "--json") == 0
    assert json.loads(capsys.readouterr().out)["paused"] is False


def test_demo_keep_refuses_a_directory_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    assert cli("demo", "--fast", "--keep", str(tmp_path)) == 2
    assert "is not empty" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


# --- rgsync sandbox serve ----------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["RGSYNC_KEYRING"] = "file"
    env.pop("RGSYNC_CONFIG", None)
    return env


def _rgsync(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rgsync", *args], capture_output=True, text=True, env=_env(), timeout=120
    )


def test_sandbox_serve_writes_settings_that_rgsync_run_uses(tmp_path: Path) -> None:
    directory = tmp_path / "sbx"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rgsync",
            "sandbox",
            "serve",
            "--scenario",
            str(MINIMAL),
            "--dir",
            str(directory),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        endpoints_file = directory / "endpoints.json"
        deadline = time.monotonic() + 60
        while not endpoints_file.exists() and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert endpoints_file.exists(), (
            server.stderr.read() if server.poll() is not None else "no endpoints.json"
        )
        endpoints = json.loads(endpoints_file.read_text(encoding="utf-8"))
        assert endpoints["salesforce"]["url"].startswith("https://127.0.0.1:")
        assert endpoints["mailbox"]["url"].startswith("http://127.0.0.1:")
        assert endpoints["user"]["address"] == "sam@example.com"
        assert endpoints["user"]["salesforce_user_id"].startswith("005")
        assert Path(endpoints["salesforce"]["ca_file"]).is_file()
        assert (endpoints_file.stat().st_mode & 0o077) == 0  # it holds tokens
        settings_text = (directory / "settings.toml").read_text(encoding="utf-8")
        assert endpoints["salesforce"]["access_token"] not in settings_text  # tokens never in settings
        assert endpoints["mailbox"]["access_token"] not in settings_text

        config = str(directory / "settings.toml")
        first = _rgsync("--config", config, "run", "--json")
        assert first.returncode == 0, first.stdout + first.stderr
        summary = json.loads(first.stdout)
        assert summary["status"] == "completed"
        assert summary["streams"]["emails"]["created"]["salesforce"] == 1  # "Hello from Globex"
        assert summary["streams"]["events"]["created"]["salesforce"] == 1  # "Globex intro meeting"
        issues = _rgsync("--config", config, "issues", "list")
        assert issues.returncode == 0, issues.stderr
        again = _rgsync("--config", config, "run", "--json")  # every run is due in a sandbox
        assert again.returncode == 0 and json.loads(again.stdout)["status"] == "completed"
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert "Sandbox stopped." in out
    assert f"rgsync --config {directory / 'settings.toml'} run" in out


def test_sandbox_serve_stops_on_sigterm(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rgsync",
            "sandbox",
            "serve",
            "--scenario",
            str(MINIMAL),
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        deadline = time.monotonic() + 60
        while (
            not (tmp_path / "endpoints.json").exists()
            and server.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert "Sandbox stopped." in out


def test_sandbox_serve_reports_a_bad_scenario_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL.read_text(encoding="utf-8").replace('when = "-1d 09:00"', 'when = "last tuesday"'))
    result = _rgsync("sandbox", "serve", "--scenario", str(bad), "--dir", str(tmp_path / "sbx"))
    assert result.returncode == 2
    line = next(n for n, text in enumerate(bad.read_text().splitlines(), 1) if "last tuesday" in text)
    assert f"{bad} line {line}: 'when' of the 1st [[mailbox.emails]]" in result.stderr
    assert "Traceback" not in result.stderr


def test_sandbox_serve_reports_refused_settings_against_the_scenario(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    text = MINIMAL.read_text(encoding="utf-8").replace(
        "[[org.users]]", "[settings.general.emails]\nhistory-days = 99\n\n[[org.users]]", 1
    )
    bad.write_text(text, encoding="utf-8")
    result = _rgsync("sandbox", "serve", "--scenario", str(bad), "--dir", str(tmp_path / "sbx"))
    assert result.returncode == 2
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "history-days = 99" in row)
    assert f"{bad} line {line}: 'history-days' in [settings.general.emails]" in result.stderr
    assert "0 to 60" in result.stderr


def test_sandbox_serve_refuses_a_real_profiles_directory(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_text('[mailbox]\nprovider = "gmail"\n', encoding="utf-8")
    result = _rgsync("sandbox", "serve", "--scenario", str(MINIMAL), "--dir", str(tmp_path))
    assert result.returncode == 2
    assert "was not written by the sandbox" in result.stderr
    assert (tmp_path / "settings.toml").read_text(encoding="utf-8") == '[mailbox]\nprovider = "gmail"\n'


def test_sandbox_serve_keeps_clear_of_a_real_state_dir(tmp_path: Path) -> None:
    env = _env()
    env["RGSYNC_STATE_DIR"] = str(tmp_path / "real-state")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rgsync",
            "sandbox",
            "serve",
            "--scenario",
            str(MINIMAL),
            "--dir",
            str(tmp_path / "sbx"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2 and "unset it for the sandbox" in result.stderr
    assert not (tmp_path / "real-state").exists()
