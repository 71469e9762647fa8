"""The list of commands the `rgsync` command offers, in the order `--help` shows them.

Each module owns its commands; add a new command here so `--help` and the README test see it.
"""

from __future__ import annotations

import click

from rgsync.cli import (
    blocklist_cmd,
    completion_cmd,
    connect_cmd,
    control,
    demo_cmd,
    doctor_cmd,
    issues_cmd,
    run_cmd,
    sandbox_cmd,
    settings_cmd,
    state_cmd,
)

ALL: list[click.Command] = [
    run_cmd.run_command,
    run_cmd.save_command,
    settings_cmd.settings_group,
    blocklist_cmd.blocklist_group,
    issues_cmd.issues_group,
    *control.COMMANDS,
    state_cmd.state_group,
    demo_cmd.demo_command,
    sandbox_cmd.sandbox_group,
    connect_cmd.connect_group,
    doctor_cmd.doctor_command,
    completion_cmd.completion_command,
    completion_cmd.manpage_command,
]
