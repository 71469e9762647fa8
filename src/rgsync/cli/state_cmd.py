"""`rgsync state check`: say whether the state database can be trusted, and what to do when not.
`rgsync state password`: keep the password of a PostgreSQL state database in the credentials store."""

from __future__ import annotations

import sys

import click

from rgsync.cli.common import App, json_option, pass_app
from rgsync.errors import EXIT_FAILED
from rgsync.state import PostgresLocation, keep_password, state_location
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
    report = check_state(state_location(app.paths))
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


@state_group.command("password")
@click.option("--delete", is_flag=True, help="Forget the stored password.")
@pass_app
def password_command(app: App, delete: bool) -> None:
    """Keep the password of the PostgreSQL state database in the credentials store.

    It is asked for without echo (or read from standard input when that is not a terminal), so it
    never appears in a URL, a settings file, shell history or a process list. libpq's ~/.pgpass
    (PGPASSFILE) and service files work too and need no command.
    """
    paths = app.paths
    if delete:
        keep_password(paths, None)
        app.say("The state database's password is forgotten.")
        return
    if not isinstance(state_location(paths), PostgresLocation):
        raise click.UsageError(
            "the state is a SQLite file, which has no password; set state-url to a postgresql:// URL first"
        )
    stdin = sys.stdin
    if stdin.isatty():
        secret = click.prompt("PostgreSQL password", hide_input=True, confirmation_prompt=False)
    else:
        secret = stdin.readline().rstrip("\r\n")
    if not secret:
        raise click.UsageError("no password given; type it at the prompt or pipe it on standard input")
    where = keep_password(paths, secret)
    app.say(f"The state database's password is kept in the credentials store ({where}).")
