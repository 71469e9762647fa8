"""`rgsync demo --mailbox exchange` against the EWS emulator gives the same Salesforce result as the
demo with Gmail: the same scenario, the real adapters, real HTTP on both sides."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from rgsync.cli import main
from rgsync.demo import story as demo_module
from rgsync.demo.story import DemoRun, run_demo
from tests.paths import MINIMAL_SCENARIO as MINIMAL


@dataclass
class Runs:
    exchange: DemoRun
    gmail: DemoRun
    exchange_out: str
    exchange_code: int


@pytest.fixture(scope="module")
def runs() -> Iterator[Runs]:
    """The demo once with Exchange (through the CLI, as a user types it) and once with Gmail."""
    recorded: list[DemoRun] = []
    original = demo_module.run_demo

    def recording(*args: Any, **kwargs: Any) -> DemoRun:
        run = original(*args, **kwargs)
        recorded.append(run)
        return run

    patch = pytest.MonkeyPatch()
    patch.setattr(demo_module, "run_demo", recording)
    patch.setenv("RGSYNC_KEYRING", "file")  # never touch a developer's OS keyring
    patch.setenv("COLUMNS", "160")
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["demo", "--fast", "--mailbox", "exchange"])
                code = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
        assert recorded, err.getvalue()
        gmail = run_demo(Console(file=io.StringIO(), width=160), mailbox="gmail", fast=True)
    finally:
        patch.undo()
    yield Runs(recorded[0], gmail, out.getvalue(), code)


def salesforce_rows(run: DemoRun) -> dict[str, Counter[str]]:
    """What the org holds after the demo, per object, by subject (Ids differ between runs)."""
    org = run.sandbox.salesforce.org
    out: dict[str, Counter[str]] = {}
    for name in ("EmailMessage", "Task", "Event", "Contact", "Lead", "Account"):
        out[name] = Counter(
            str(r.get("Subject") or r.get("Name") or r.get("LastName")) for r in org.records(name)
        )
    return out


def test_the_exchange_demo_runs_from_the_command_line(runs: Runs) -> None:
    assert runs.exchange_code == 0, runs.exchange_out
    assert "emulated Exchange" in runs.exchange_out
    assert "Exchange: a new email from Bob arrived" in runs.exchange_out


def test_the_demo_scenario_gives_the_same_salesforce_result_with_exchange_as_with_gmail(runs: Runs) -> None:
    assert salesforce_rows(runs.exchange) == salesforce_rows(runs.gmail)
    for moment in ("before", "after"):
        exchange, gmail = getattr(runs.exchange, moment), getattr(runs.gmail, moment)
        assert exchange.categories() == gmail.categories(), moment


def test_both_sessions_write_the_same_with_either_mailbox(runs: Runs) -> None:
    for session in ("first", "second", "idle"):
        exchange, gmail = getattr(runs.exchange, session), getattr(runs.gmail, session)
        assert {s: (v.writes, v.linked) for s, v in exchange.streams.items()} == {
            s: (v.writes, v.linked) for s, v in gmail.streams.items()
        }, session
        # The Sync Error category rgsync put on the confidential email is its own change: the
        # session that set it moves the sync state past it, so no session meets that email again
        # and re-sends it (SPEC §7.7, §10).
        assert exchange.api_calls["salesforce"] == gmail.api_calls["salesforce"], session


def test_an_idle_exchange_session_costs_one_sync_call_per_folder(runs: Runs) -> None:
    # Inbox, Sent Items, Calendar, Salesforce Tasks, Salesforce Contacts (SPEC §10).
    assert runs.exchange.idle.api_calls["mailbox"] == 5


def _rgsync(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rgsync", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_sandbox_serve_with_an_exchange_mailbox_is_synced_by_rgsync_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("RGSYNC_CONFIG", "RGSYNC_STATE_DIR")}
    env["RGSYNC_KEYRING"] = "file"
    directory = tmp_path / "sbx"
    command = [
        "sandbox",
        "serve",
        "--scenario",
        str(MINIMAL),
        "--dir",
        str(directory),
        "--mailbox",
        "exchange",
    ]
    server = subprocess.Popen(
        [sys.executable, "-m", "rgsync", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
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
        assert endpoints["mailbox"]["url"].endswith("/EWS/Exchange.asmx")
        settings_text = (directory / "settings.toml").read_text(encoding="utf-8")
        assert (
            'provider = "exchange"' in settings_text and endpoints["mailbox"]["password"] not in settings_text
        )
        run = _rgsync("--config", str(directory / "settings.toml"), "run", "--json", env=env)
        assert run.returncode == 0, run.stdout + run.stderr
        summary = json.loads(run.stdout)
        assert summary["status"] == "completed"
        assert summary["streams"]["emails"]["created"]["salesforce"] == 1  # "Hello from Globex"
        assert summary["streams"]["events"]["created"]["salesforce"] == 1  # "Globex intro meeting"
    finally:
        server.send_signal(signal.SIGINT)
        _out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
