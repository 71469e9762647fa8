"""`rgsync state check`: say whether the state database can be trusted, and what to do when not."""

from __future__ import annotations

import click

from rgsync.cli.common import App, json_option, pass_app
from rgsync.errors import EXIT_FAILED
from rgsync.state.check import check_state


@click.group("state")
def state_group() -> None:
    """Look after the state database (links, cursors, sessions, issues)."""


@state_group.command("check")
@json_option
@pass_app
def check_command(app: App) -> None:
    """Check the state database without changing it; name the fix when it is damaged.

    Exits 0 when it is sound (or there is none yet), 1 when a run would refuse it.
    """
    report = check_state(app.paths.state_db)
    if app.json:
        app.emit_json(
            {
                "state_db": str(report.path),
                "exists": report.exists,
                "sound": report.sound,
                "schema_version": report.schema_version,
                "problems": [finding.what for finding in report.findings],
                "fix": report.fix or None,
                "backups": [str(path) for path in report.backups],
                "rows": report.counts,
            }
        )
    elif not report.exists:
        app.say(f"No state database at {report.path} yet: the first `rgsync run` creates it.")
    elif report.sound:
        rows = sum(report.counts.values())
        kept = f"; {len(report.backups)} backup(s) kept before upgrades" if report.backups else ""
        app.say(
            f"The state database {report.path} is sound (schema {report.schema_version}, {rows} rows{kept})."
        )
    else:
        # Problems go to stderr even with --quiet: cron mails them, and the run refuses this state.
        app.err.print(f"The state database {report.path} is damaged:", highlight=False)
        for finding in report.findings:
            app.err.print(f"  - {finding.what}", highlight=False)
        app.err.print(f"To fix it, {report.fix}.", highlight=False)
    if not report.sound:
        raise SystemExit(EXIT_FAILED)
