"""`rgsync sandbox serve --users N`: the team sandbox in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import threading
from pathlib import Path

from rgsync.cli.common import App
from rgsync.cli.sandbox_cmd import _stop_on_signals, wait_until_stopped
from rgsync.fleet.team_sandbox import start_team_sandbox


def serve_team(app: App, directory: Path, *, users: int, latency: float, mailbox: str) -> None:
    """Start the team sandbox, say where it is (or print endpoints.json with --json), serve until stopped."""
    stop = threading.Event()
    with (
        _stop_on_signals(stop),
        start_team_sandbox(directory, users=users, latency=latency, mailbox=mailbox) as team,
    ):
        if app.json:
            import json

            app.emit_json(json.loads(team.endpoints_file.read_text(encoding="utf-8")))
        else:
            app.say(f"[bold]Team sandbox with {users} mailboxes is running[/bold] (Ctrl-C stops it).")
            app.say(f"  Salesforce  {team.salesforce.url}")
            app.say(f"  Mailboxes   {team.mailbox_url}/u/NAME/  ({latency * 1000:.0f} ms per call)")
            app.say(f"  Roster      {team.roster_file}")
            app.say("Then: rgsync fleet init --state-url … && rgsync fleet import " + str(team.roster_file))
        wait_until_stopped(stop)
    app.say("Sandbox stopped.")
