"""`rgsync demo`: see rgsync do its job on an emulated mailbox and org, without any account."""

from __future__ import annotations

import io
import sys
import threading
from pathlib import Path

import click
from rich.console import Console

from rgsync.cli.common import App, pass_app
from rgsync.demo.kinds import MAILBOX_KINDS, check_mailbox_kind


@click.command("demo")
@click.option(
    "--mailbox",
    "mailbox_kind",
    type=click.Choice(MAILBOX_KINDS),
    default="gmail",
    show_default=True,
    help="Which mail service to emulate.",
)
@click.option(
    "--keep",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Leave the sandbox's files in DIR (new or empty); on a terminal the emulators keep running until Ctrl-C.",
)
@click.option("--fast", is_flag=True, help="Do not pause between the steps.")
@pass_app
def demo_command(app: App, mailbox_kind: str, keep: Path | None, fast: bool) -> None:
    """Sync an emulated mailbox and Salesforce org, change both, sync again, and show what happened.

    Everything runs on 127.0.0.1 in a few seconds; no account is needed.
    """
    from rgsync.demo.story import run_demo

    check_mailbox_kind(mailbox_kind)
    # With --keep on a terminal the emulators stay up after the story so the other commands can
    # be tried against them; in scripts the demo ends at once.
    interactive = keep is not None and sys.stdin.isatty() and app.out.is_terminal
    # --quiet: run it all, print nothing, let the exit code speak (a smoke test for scripts).
    console = Console(file=io.StringIO()) if app.quiet or app.json else app.out
    run = run_demo(
        console,
        mailbox=mailbox_kind,
        keep=keep,
        fast=fast or app.quiet or app.json,
        stay=threading.Event() if interactive else None,
    )
    if app.json:
        app.emit_json(
            {
                "sessions": [r.to_json() for r in (run.first, run.second, run.idle)],
                "edits": run.edits,
                "directory": str(run.directory) if run.kept else None,
            }
        )
    failed = [r for r in (run.first, run.second, run.idle) if r.status != "completed"]
    raise SystemExit(1 if failed else 0)
