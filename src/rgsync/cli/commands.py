"""The commands `rgsync` offers: where each one lives and the line `rgsync --help` shows for it.

Commands are imported only when they run (or when their own `--help` is asked for), so
`rgsync --help` and `rgsync run` do not pay for the sandbox, every client library and every
other command. Add a new command with one line here: its name, "module:attribute" of the
`click.Command`, and the first paragraph of its docstring (a test checks the two agree).
"""

from __future__ import annotations

from typing import NamedTuple


class CommandEntry(NamedTuple):
    """Where a command is defined and the summary `rgsync --help` lists for it."""

    target: str
    summary: str


# fmt: off
COMMANDS: dict[str, CommandEntry] = {
    "run": CommandEntry("rgsync.cli.run_cmd:run_command", "Run one sync session (what cron calls)."),
    "save": CommandEntry("rgsync.cli.run_cmd:save_command", "Save one email (by its mailbox id) to Salesforce now, whatever the auto-save settings."),
    "settings": CommandEntry("rgsync.cli.settings_cmd:settings_group", "Show and change sync settings (General / Linking / Blocklist / Sync)."),
    "blocklist": CommandEntry("rgsync.cli.blocklist_cmd:blocklist_group", "Addresses and domains that are never saved, linked or auto-resolved."),
    "issues": CommandEntry("rgsync.cli.issues_cmd:issues_group", "List, show and resolve sync issues."),
    "pause": CommandEntry("rgsync.cli.control:pause_command", "Pause syncing: `rgsync run` does nothing until `rgsync resume`."),
    "resume": CommandEntry("rgsync.cli.control:resume_command", "Resume syncing after `rgsync pause`."),
    "status": CommandEntry("rgsync.cli.control:status_command", "Show whether sync is paused, the last session, when the next one is due, and open issues."),
    "state": CommandEntry("rgsync.cli.state_cmd:state_group", "Look after the state database (links, cursors, sessions, issues)."),
    "demo": CommandEntry("rgsync.cli.demo_cmd:demo_command", "Sync an emulated mailbox and Salesforce org, change both, sync again, and show what happened."),
    "sandbox": CommandEntry("rgsync.cli.sandbox_cmd:sandbox_group", "Emulated Salesforce and mailbox services on 127.0.0.1, loaded from a scenario file."),
    "connect": CommandEntry("rgsync.cli.connect_cmd:connect_group", "Sign in to your mailbox or Salesforce and store the secrets safely."),
    "doctor": CommandEntry("rgsync.cli.doctor_cmd:doctor_command", "Check the Salesforce connection and org (and the settings) and say what to fix."),
    "fleet": CommandEntry("rgsync.cli.fleet_cmd:fleet_group", "Run rgsync for a team: users, workers and their schedule in one PostgreSQL database."),
    "completion": CommandEntry("rgsync.cli.completion_cmd:completion_command", "Print the shell completion script for SHELL (bash, zsh or fish)."),
    "manpage": CommandEntry("rgsync.cli.completion_cmd:manpage_command", "Print rgsync's man page (roff), written from every command's help."),
}
# fmt: on
