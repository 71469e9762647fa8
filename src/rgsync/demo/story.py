"""The demo's story: start the sandbox on the scenario, run the first session and show it, change
both sides, run the second session and show that only the changes travelled and what they cost."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from rgsync.demo.edits import make_edits
from rgsync.demo.render import (
    session_line,
    show_calls,
    show_changes,
    show_counts,
    show_issues,
    show_skips,
    show_snapshot,
)
from rgsync.demo.sandbox import Sandbox, environment, start_sandbox
from rgsync.demo.scenarios import demo_scenario_file, load_scenario
from rgsync.demo.snapshots import Snapshot, snapshot
from rgsync.errors import UsageError
from rgsync.session import RunOptions, SessionResult


@dataclass
class DemoRun:
    """Everything the demo did: the sandbox (stopped at the end), the sessions, the edits made.

    `idle` is a third session run right after the second, with nothing new on either side.
    """

    directory: Path
    sandbox: Sandbox
    first: SessionResult
    second: SessionResult
    idle: SessionResult
    edits: list[str]
    before: Snapshot
    after: Snapshot
    kept: bool


def run_demo(
    console: Console,
    *,
    mailbox: str = "gmail",
    keep: Path | None = None,
    fast: bool = False,
    scenario_file: Path | None = None,
    stay: threading.Event | None = None,
) -> DemoRun:
    """Run the demo, printing to `console`; returns what happened (for tests and scripts).

    `keep` leaves the sandbox's files in that directory (which must be empty or new); with `stay`
    too, the emulators keep serving after the story until `stay` is set or Ctrl-C is pressed, so the
    other commands can be tried against them. `fast` skips the pauses that let a person read along.
    """
    if keep is not None:
        keep = keep.expanduser().absolute()
        if keep.exists() and any(keep.iterdir()):
            raise UsageError(f"{keep} is not empty; give `--keep` a new or empty directory")
    scenario = load_scenario(scenario_file or demo_scenario_file())
    pause = _pauser(console, fast)
    directory = keep or Path(tempfile.mkdtemp(prefix="rgsync-demo-"))
    # Sandbox tokens live in the sandbox's own credentials file, never in the OS keyring, and its
    # state stays in its own directory whatever RGSYNC_STATE_DIR says for real profiles.
    with environment(RGSYNC_KEYRING="file", RGSYNC_STATE_DIR=None):
        try:
            sandbox = start_sandbox(scenario, directory, mailbox=mailbox)
            with sandbox:
                run = _story(console, sandbox, pause, kept=keep is not None)
                if keep is not None:
                    _explore_hint(console, sandbox, serving=stay is not None)
                    if stay is not None:
                        with contextlib.suppress(KeyboardInterrupt):
                            while not stay.wait(0.5):
                                pass
                        console.print("Sandbox stopped.")
        finally:
            if keep is None:
                shutil.rmtree(directory, ignore_errors=True)
    return run


def _pauser(console: Console, fast: bool) -> Any:
    def pause(seconds: float = 1.0) -> None:
        if not fast and console.is_terminal:
            time.sleep(seconds)

    return pause


def _story(console: Console, sandbox: Sandbox, pause: Any, *, kept: bool) -> DemoRun:
    from rgsync.sync import run_session

    scenario = sandbox.scenario
    user = scenario.user
    console.rule("[bold]rgsync demo")
    console.print(
        f"{user.name}'s mailbox ({user.address}, emulated {sandbox.kind.name}) and her Salesforce org "
        f"(emulated), both on 127.0.0.1 — nothing leaves this machine.",
        highlight=False,
    )
    console.print(
        f"Scenario: {scenario.description or scenario.name}: {len(scenario.emails)} emails, "
        f"{len(scenario.calendar)} calendar items, {sum(len(v) for v in scenario.records.values())} Salesforce records.",
        highlight=False,
    )
    pause()
    console.rule("Session 1: the first sync")
    first = run_session(sandbox.paths, RunOptions(force=True))
    session_line(console, first)
    before = snapshot(sandbox)
    show_snapshot(console, before)
    show_skips(console, first)
    show_issues(console, sandbox)
    pause(1.5)
    console.rule("Meanwhile, on both sides")
    edits = make_edits(sandbox)
    for edit in edits:
        console.print(f"  • {edit}", highlight=False)
    pause()
    console.rule("Session 2: only what changed")
    second = run_session(sandbox.paths, RunOptions(force=True))
    session_line(console, second)
    show_counts(console, second)
    after = snapshot(sandbox)
    console.print()
    show_changes(console, before, after)
    # A session right after one that wrote still reads those writes back once; the one after that
    # is what a quiet cron run costs.
    run_session(sandbox.paths, RunOptions(force=True))
    idle = run_session(sandbox.paths, RunOptions(force=True))
    show_calls(console, first, second, idle, sandbox.kind.change_feed)
    return DemoRun(sandbox.directory, sandbox, first, second, idle, edits, before, after, kept)


def _explore_hint(console: Console, sandbox: Sandbox, *, serving: bool) -> None:
    config = f"rgsync --config {sandbox.settings_file}"
    console.print()
    if serving:
        console.print(
            f"The sandbox keeps running, its files are in {sandbox.directory}. In another terminal try:",
            highlight=False,
        )
        commands: tuple[str, ...] = ("issues list", "status", "run --dry-run", "run")
    else:
        console.print(f"The sandbox's files are in {sandbox.directory}. Try:", highlight=False)
        commands = ("issues list", "status", "settings list")
    for command in commands:
        console.print(f"  {config} {command}", highlight=False)
    if serving:
        console.print(
            "Change data through the services' APIs (see endpoints.json) and run again. Ctrl-C stops."
        )
    else:
        console.print(
            "The emulators stopped with the demo; `run` needs them. Serve the scenario again (it starts\n"
            "over from the scenario's data), then run:\n"
            f"  rgsync sandbox serve --scenario {sandbox.scenario.file} --dir {sandbox.directory}",
            highlight=False,
        )
