"""`rgsync sandbox serve`: the loopback emulators loaded with a scenario, in the foreground."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from rgsync.cli.common import App, pass_app
from rgsync.demo.kinds import MAILBOX_KINDS, check_mailbox_kind

if TYPE_CHECKING:
    from rgsync.demo.sandbox import Sandbox


@click.group("sandbox")
def sandbox_group() -> None:
    """Emulated Salesforce and mailbox services on 127.0.0.1, loaded from a scenario file."""


@sandbox_group.command("serve")
@click.option(
    "--scenario",
    "scenario_file",
    default=None,
    metavar="FILE",
    help="Scenario TOML file (format: see examples/scenarios/demo.toml), or the built-in 'demo' or 'minimal'.",
)
@click.option(
    "--dir",
    "directory",
    required=True,
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write settings.toml, endpoints.json and the sandbox's state.",
)
@click.option(
    "--mailbox",
    "mailbox_kind",
    type=click.Choice([*MAILBOX_KINDS, "mixed"]),
    default="gmail",
    show_default=True,
    help="Which mail service to emulate; with --users also mixed (the three kinds in turn).",
)
@click.option(
    "--users",
    type=int,
    default=None,
    metavar="N",
    help="Serve a team instead: one org, N mailboxes, and DIR/roster.csv for `rgsync fleet import`.",
)
@click.option(
    "--latency-ms",
    type=float,
    default=0.0,
    show_default=True,
    help="With --users: wait this long on every call.",
)
@click.option(
    "--shared-items",
    is_flag=True,
    help="With --users: reps in threes share a customer meeting and a customer email (same UID, Message-ID).",
)
@pass_app
def serve_command(
    app: App,
    scenario_file: str | None,
    directory: Path,
    mailbox_kind: str,
    users: int | None,
    latency_ms: float,
    shared_items: bool,
) -> None:
    """Serve the emulators for a scenario until Ctrl-C; point rgsync at them with DIR/settings.toml."""
    from rgsync.demo.sandbox import start_sandbox
    from rgsync.demo.scenarios import load_scenario, scenario_path

    if users is not None:
        serve_team(
            app,
            directory,
            users=users,
            latency=latency_ms / 1000,
            mailbox=mailbox_kind,
            shared_items=shared_items,
        )
        return
    if mailbox_kind == "mixed":
        raise click.UsageError("--mailbox mixed needs --users N (a team of mixed mailboxes).")
    if scenario_file is None:
        raise click.UsageError("Missing option '--scenario' (or --users N for a team sandbox).")
    check_mailbox_kind(mailbox_kind)
    scenario = load_scenario(scenario_path(scenario_file))
    stop = threading.Event()
    # Listen for SIGTERM before anything starts, so a stop request during start-up is not lost.
    with _stop_on_signals(stop), start_sandbox(scenario, directory, mailbox=mailbox_kind) as sandbox:
        if app.json:
            app.emit_json(sandbox.endpoints)
        else:
            describe_sandbox(app, sandbox)
        wait_until_stopped(stop)
    app.say("Sandbox stopped.")


def describe_sandbox(app: App, sandbox: Sandbox) -> None:
    """Print where the emulators are and what to run against them."""
    settings = sandbox.settings_file
    config = f"rgsync --config {settings}"
    mailbox_name = sandbox.kind.served_as
    lines = [
        f"[bold]Sandbox for the scenario '{sandbox.scenario.name}' is running[/bold] (Ctrl-C stops it).",
        f"  Salesforce  {sandbox.salesforce.url}  (CA certificate: {sandbox.salesforce.ca_file})",
        f"  Mailbox     {mailbox_name} {sandbox.mailbox.url}/  for {sandbox.scenario.user.address}",
        f"  Settings    {settings}",
        f"  Endpoints   {sandbox.endpoints_file}  (URLs, access tokens, record Ids)",
        "",
        "In another terminal:",
        f"  {config} run",
        f"  {config} issues list",
        f"  {config} status",
        f"  {config} run --dry-run",
        "Change data through the services' own APIs (endpoints.json has what you need), then run again",
        "to watch an incremental sync.",
    ]
    for line in lines:
        app.say(line)


def wait_until_stopped(stop: threading.Event) -> None:
    """Block until `stop` is set or Ctrl-C is pressed (both end the sandbox cleanly)."""
    with contextlib.suppress(KeyboardInterrupt):
        while not stop.wait(0.5):
            pass


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM (systemd, `kill`) stops the sandbox like Ctrl-C does; only possible in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve_team(
    app: App, directory: Path, *, users: int, latency: float, mailbox: str, shared_items: bool = False
) -> None:
    """Start the team sandbox, say where it is (or print endpoints.json with --json), serve until stopped."""
    from rgsync.demo.team import start_team_sandbox

    if shared_items and mailbox != "gmail":
        # The colleagues' shared items are written into the emulated Gmail mailboxes.
        raise click.UsageError("--shared-items needs --mailbox gmail.")
    stop = threading.Event()
    with (
        _stop_on_signals(stop),
        start_team_sandbox(directory, users=users, latency=latency, mailbox=mailbox) as team,
    ):
        if shared_items:
            from rgsync.demo.team_shared import add_colleague_items

            add_colleague_items(team)
        from rgsync.demo.team_admin import add_admin_sign_in

        flows = add_admin_sign_in(team)  # the org's admin sign-in, for a fleet without per-user sign-in
        if app.json:
            import json

            document = json.loads(team.endpoints_file.read_text(encoding="utf-8"))
            document["admin_sign_in"] = {"policy": str(flows.policy_file), "roster": str(flows.roster_file)}
            app.emit_json(document)
        else:
            app.say(f"[bold]Team sandbox with {users} mailboxes is running[/bold] (Ctrl-C stops it).")
            app.say(f"  {'Salesforce':<14}{team.salesforce.url}")
            for kind, url in team.mailbox_urls().items():
                app.say(f"  {kind:<14}{url}/u/NAME/  ({latency * 1000:.0f} ms per call)")
            app.say(f"  {'Roster':<14}{team.roster_file}")
            app.say("Then: rgsync fleet init --state-url … && rgsync fleet import " + str(team.roster_file))
            for line in flows.lines():
                app.say(line)
            app.say(
                f"Or, with the admin sign-in only: rgsync fleet init --org-policy {flows.policy_file} "
                f"&& rgsync fleet import {flows.roster_file}"
            )
        wait_until_stopped(stop)
    app.say("Sandbox stopped.")
