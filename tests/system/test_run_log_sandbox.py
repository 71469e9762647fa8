"""The log file of `rgsync run` (SPEC §8 issues, §9 secrets never in logs), through the real command
line against the sandbox emulators: one line per session with counts and API calls per side, one per
issue opened and resolved, no secret and no mail body; rotated by size; `--log-level debug` adds
rgsync's detail but never the HTTP clients'; a folder or a pipe as log path stops the run (exit 2)
before anything is synced; `rgsync status` names the file."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rgsync.logs import LOG_MAX_BYTES
from tests.system.rule_cases_sandbox import REFUSED_SUBJECT, Box, open_box, refused_email_items, scenario_text

REFUSED = REFUSED_SUBJECT
BODY = "Our counter-proposal, confidential."
ITEMS = refused_email_items(BODY)
SESSION_LINE = re.compile(
    r"^\S+ \S+ INFO rgsync\.run: session (\d+) completed in [\d.]+ s: emails ok read (\d+) "
    r"salesforce \+(\d+) .*; API calls salesforce (\d+) mailbox (\d+)$"
)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    text = scenario_text("log", settings={"general.emails": {"save-as": "task"}}, items=ITEMS)
    with open_box(tmp_path / "sandbox", text) as started:
        yield started


def log_of(box: Box) -> Path:
    return box.sandbox.paths.state_dir / "rgsync.log"


def stored_secrets(box: Box) -> list[str]:
    document = json.loads(box.sandbox.paths.credentials_file.read_text(encoding="utf-8"))
    values = [v for v in document["secrets"].values() if not v.startswith("https://")]
    assert values, "the sandbox stored no secrets to look for"
    return values


def test_spec_8_9_run_logs_one_session_line_and_each_issue_opened_and_resolved_without_secrets(
    box: Box,
) -> None:
    code, out = box.cli("run", "--force")
    assert code == 0, out
    # The log's lines stay in the file: cron mails whatever reaches stderr.
    assert "INFO" not in out and "opened issue" not in out
    lines = log_of(box).read_text(encoding="utf-8").splitlines()
    [session] = [m for m in map(SESSION_LINE.match, lines) if m]
    assert session.group(1) == "1"
    assert int(session.group(2)) >= 2 and session.group(3) == "1"  # one saved, one refused
    assert int(session.group(4)) >= 1 and int(session.group(5)) >= 1
    [opened] = [line for line in lines if " opened issue " in line]
    assert "SF-VALIDATION" in opened and REFUSED in opened and " WARNING " in opened
    assert os.stat(log_of(box)).st_mode & 0o077 == 0  # it names emails: owner only

    box.org.validation_rules.clear()  # the admin relaxes the rule; the user retries
    assert box.cli("issues", "retry", "--all")[0] == 0
    code, out = box.cli("run", "--force")
    assert code == 0, out
    text = log_of(box).read_text(encoding="utf-8")
    [resolved] = [line for line in text.splitlines() if " resolved issue " in line]
    assert "SF-VALIDATION" in resolved and REFUSED in resolved
    assert len([m for m in map(SESSION_LINE.match, text.splitlines()) if m]) == 2
    assert [s for s in stored_secrets(box) if s in text] == []
    assert BODY not in text


def test_log_rotates_by_size_keeping_the_old_lines(box: Box) -> None:
    log = log_of(box)
    log.parent.mkdir(parents=True, exist_ok=True)
    old = "2026-01-01 00:00:00,000 INFO rgsync.run: an old line\n"
    log.write_text(old * (LOG_MAX_BYTES // len(old)), encoding="utf-8")
    code, out = box.cli("run", "--force")
    assert code == 0, out
    rotated = log.with_name("rgsync.log.1")
    assert rotated.read_text(encoding="utf-8").startswith(old)
    assert log.stat().st_size < 10_000 and "session 1 completed" in log.read_text(encoding="utf-8")


def test_log_level_debug_adds_rgsync_detail_but_never_the_http_clients(box: Box, tmp_path: Path) -> None:
    info_log, debug_log = tmp_path / "info.log", tmp_path / "logs" / "debug.log"
    assert box.cli("--log-file", str(info_log), "run", "--force", "--dry-run")[0] == 0
    assert box.cli("--log-file", str(debug_log), "--log-level", "DEBUG", "run", "--force")[0] == 0
    debug = debug_log.read_text(encoding="utf-8")
    assert re.search(r" DEBUG rgsync\.run: session 1 emails: read mailbox 2; skipped ", debug)
    assert " DEBUG " not in info_log.read_text(encoding="utf-8")
    assert not re.search(r" (urllib3|googleapiclient|simple_salesforce|requests|httplib2)", debug)
    assert not log_of(box).exists()  # --log-file moved it


def test_log_level_off_writes_no_log_and_status_names_the_file(box: Box) -> None:
    code, out = box.cli("status")
    assert code == 0 and f"Log file\t{log_of(box)} (info)" in out.splitlines()
    code, out = box.cli("status", "--json")
    assert json.loads(out)["log_file"] == str(log_of(box))
    box.set("log-level", "off")
    assert box.cli("run", "--force")[0] == 0
    assert not log_of(box).exists()
    assert json.loads(box.cli("status", "--json")[1])["log_file"] is None


@pytest.mark.parametrize("kind", ["fifo", "folder", "rotated-fifo"])
def test_spec_7_11_a_pipe_or_folder_as_log_path_exits_2_in_one_line_before_any_sync(
    box: Box, tmp_path: Path, kind: str
) -> None:
    target = tmp_path / "odd.log"
    if kind == "folder":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        os.mkfifo(tmp_path / "odd.log.1")
    code, out = box.cli("--log-file", str(target), "run", "--force")
    assert code == 2
    [line] = out.splitlines()
    assert line.startswith("rgsync: ") and "odd.log" in line and "--log-file" in line
    with box.state() as store:
        assert store.last_session() is None
