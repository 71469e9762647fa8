"""`rgsync demo`: see rgsync do its job on an emulated mailbox and org, without any account."""

from __future__ import annotations

from pathlib import Path

import click

from rgsync.cli.common import App, pass_app
from rgsync.sandbox.serve import MAILBOX_KINDS, check_mailbox_kind


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
    help="Leave the sandbox's settings, state and issues in DIR (new or empty) to explore afterwards.",
)
@click.option("--fast", is_flag=True, help="Do not pause between the steps.")
@pass_app
def demo_command(app: App, mailbox_kind: str, keep: Path | None, fast: bool) -> None:
    """Sync an emulated mailbox and Salesforce org twice, and show what happened (about 10 seconds)."""
    from rgsync.sandbox.demo import run_demo

    check_mailbox_kind(mailbox_kind)
    run = run_demo(app.out, mailbox=mailbox_kind, keep=keep, fast=fast or app.quiet)
    failed = [r for r in (run.first, run.second) if r.status != "completed"]
    raise SystemExit(1 if failed else 0)
