"""The `rgsync` command line: global options, the command groups, and error handling.

Each command group lives in its own module and only parses arguments, calls one function of the
layers below and renders the result. Command modules are imported on demand (see
`rgsync.cli.commands`), so `rgsync --help` and `rgsync run` start fast. Errors the user can act on (`RgsyncError`) are printed as one
line and mapped to the exit codes of SPEC §8; a traceback is shown only with `-v`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import click

from rgsync import __version__
from rgsync.cli.commands import COMMANDS, CommandEntry
from rgsync.errors import EXIT_FAILED, EXIT_USAGE, RgsyncError, state_store_failure
from rgsync.logs import DEBUG_HTTP_WARNING, LOG_LEVELS, configure_logging, redact

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class LazyCommands(dict[str, click.Command]):
    """A group's commands by name, each imported from its module the first time it is looked up.

    The mapping is complete from the start: membership, length and names come from the table
    without importing anything, and reading a command (by key, `get`, `items`, `values`) imports
    what it needs. So code that walks `group.commands` (docs, completion, the man page, tests)
    sees every command without a registration step.
    """

    def __init__(self, entries: Mapping[str, CommandEntry]) -> None:
        super().__init__()
        self.entries = dict(entries)

    def __missing__(self, name: str) -> click.Command:
        if name not in self.entries:
            raise KeyError(name)
        module_name, _, attribute = self.entries[name].target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            # A wrong table entry is a programming error, found by the test that loads them all.
            raise TypeError(f"{self.entries[name].target} is not a click command")
        super().__setitem__(name, command)
        return command

    def loaded(self, name: str) -> click.Command | None:
        """The command if its module is imported already, without importing it."""
        return super().get(name)

    def get(self, name: str, default: Any = None) -> Any:
        if name not in self:
            return default
        return self[name]

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name) or name in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted({*super().keys(), *self.entries}))

    def __len__(self) -> int:
        return len({*super().keys(), *self.entries})

    def keys(self) -> Any:
        return list(self)

    def values(self) -> Any:
        return [self[name] for name in self]

    def items(self) -> Any:
        return [(name, self[name]) for name in self]


class LazyGroup(click.Group):
    """A command group that imports each command's module only when that command is used.

    `--help` lists every command from the summaries in the table, without importing any of them.
    Commands added with `add_command` behave as in a plain `click.Group`.
    """

    commands: LazyCommands

    def __init__(self, *args: Any, lazy_commands: Mapping[str, CommandEntry], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands(lazy_commands)

    @property
    def lazy_commands(self) -> dict[str, CommandEntry]:
        """The table of commands imported on demand (name → where it lives, its summary)."""
        return self.commands.entries

    def load(self, name: str) -> click.Command:
        """The command registered under `name`, imported from its module if need be."""
        return self.commands[name]

    def load_all(self) -> None:
        """Import every command (a test checks that each table entry is right)."""
        self.commands.values()

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.loaded(name)
            if command is not None:
                if command.hidden:
                    continue
                rows.append((name, command.get_short_help_str(limit)))
            else:
                # A bare command with the same help text shortens it exactly as the real one would.
                summary = click.Command(name, help=self.lazy_commands[name].summary)
                rows.append((name, summary.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="rgsync")
@click.option(
    "--config", metavar="PATH", help="Settings file (default: the user config dir; env RGSYNC_CONFIG)."
)
@click.option("--profile", metavar="NAME", help="Keep separate settings and state under this profile name.")
@click.option(
    "--org-policy", metavar="PATH", help="Admin policy file with [defaults]/[forced] (env RGSYNC_ORG_POLICY)."
)
@click.option(
    "--state-url",
    metavar="URL",
    help="Where the state lives: sqlite:///PATH or postgresql://USER@HOST:PORT/DB (env RGSYNC_STATE_URL).",
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Show rgsync's debug logging and full tracebacks (no secrets)."
)
@click.option(
    "--debug-http",
    is_flag=True,
    help="Also log the HTTP clients' requests and responses (implies -v). Prints secrets and mail: never share.",
)
@click.option(
    "--log-file",
    metavar="PATH",
    help="Where `rgsync run` writes its log (default: the profile's file in the user log dir).",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    help="What the log file gets (default: the log-level setting, info); off writes none.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success (for cron).")
@click.option(
    "--json", "json_output", is_flag=True, help="Print JSON for scripts, where a command has output."
)
@click.pass_context
def cli(
    ctx: click.Context,
    config: str | None,
    profile: str | None,
    org_policy: str | None,
    state_url: str | None,
    verbose: bool,
    debug_http: bool,
    log_file: str | None,
    log_level: str | None,
    quiet: bool,
    json_output: bool,
) -> None:
    """Keep your mailbox and your Salesforce org in step.

    Shell completion: see `rgsync completion --help`; man page: `rgsync manpage --help`.
    """
    # Imported here: the console library it brings is not needed to print `rgsync --help`.
    from rgsync.cli.common import App

    app = ctx.ensure_object(App)
    app.config, app.profile, app.org_policy = config, profile, org_policy
    app.state_url = state_url
    app.verbose, app.quiet = verbose or debug_http, quiet
    app.json = app.json or json_output
    app.log_file, app.log_level = log_file, log_level.lower() if log_level else None
    # Always our own handler, so even a plain warning goes through the redacting filter.
    configure_logging(verbose=verbose, debug_http=debug_http)
    if debug_http:
        click.echo(DEBUG_HTTP_WARNING, err=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `rgsync` console script."""
    verbose = any(
        a in ("-v", "--verbose", "--debug-http") for a in (argv if argv is not None else sys.argv[1:])
    )
    try:
        cli.main(args=argv, prog_name="rgsync", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_FAILED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except RgsyncError as exc:
        if verbose:
            _print_traceback()
        click.echo(f"rgsync: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("rgsync: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if _is_state_store_failure(exc):
            # The state store failed mid-run (full disk, I/O error): every create was journalled
            # before it was sent, so the next run adopts what this one made.
            if verbose:
                _print_traceback()
            click.echo(f"rgsync: {state_store_failure(exc)}", err=True)
            sys.exit(EXIT_FAILED)
        if verbose:
            _print_traceback()
        click.echo(
            # A client library's message may quote a URL or header with a token in it.
            redact(f"rgsync: unexpected error: {type(exc).__name__}: {exc} (rerun with -v for details)"),
            err=True,
        )
        sys.exit(EXIT_FAILED)


def _is_state_store_failure(exc: Exception) -> bool:
    """Whether `exc` is a database error; the drivers are only loaded once a command opened the store."""
    sqlite3 = sys.modules.get("sqlite3")
    psycopg = sys.modules.get("psycopg")
    return (sqlite3 is not None and isinstance(exc, sqlite3.Error)) or (
        psycopg is not None and isinstance(exc, psycopg.Error)
    )


def _print_traceback() -> None:
    """The current exception's traceback on stderr, scrubbed like every log line (`-v` output is shared)."""
    import traceback

    click.echo(redact(traceback.format_exc()).rstrip("\n"), err=True)
