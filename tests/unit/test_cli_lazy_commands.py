"""`rgsync --help` and `rgsync run` load only what they use (SPEC §8: a quick CLI from cron).

The command table in `rgsync.cli.commands` lets the CLI list commands without importing them;
these tests check the table agrees with the commands and that the heavy parts stay unloaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from rgsync.cli import LazyGroup, cli
from rgsync.cli.commands import COMMANDS

HEAVY = (
    "rgsync.sandbox",
    "rgsync.session",
    "rgsync.sync",
    "simple_salesforce",
    "exchangelib",
    "googleapiclient",
    "msal",
)

PROBE = """
import json, sys
from rgsync.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
"""


def _loaded_after(*argv: str) -> tuple[str, list[str]]:
    """Run the CLI in a fresh interpreter; return its stdout and the heavy modules it imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout, json.loads(done.stderr.strip().splitlines()[-1])


def test_help_lists_every_command_without_importing_the_sandbox_clients_or_session() -> None:
    """SPEC §8: `rgsync --help` shows every command and loads no client library, sandbox or session."""
    out, loaded = _loaded_after("--help")
    assert loaded == []
    listed = out.split("Commands:", 1)[1]
    for name in COMMANDS:
        assert f"\n  {name} " in listed


def test_importing_the_cli_loads_no_command_module() -> None:
    """SPEC §8: `import rgsync.cli` alone imports none of the heavy parts."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, rgsync.cli; "
            f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(done.stdout) == []


def test_run_help_does_not_load_the_sandbox_or_other_adapters() -> None:
    """SPEC §8: `rgsync run` needs the session, not the emulators nor the mailbox client libraries."""
    out, loaded = _loaded_after("run", "--help")
    assert "Run one sync session" in out
    assert "rgsync.sandbox" not in loaded
    assert not {"exchangelib", "googleapiclient", "msal", "simple_salesforce"} & set(loaded)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_table_summary_matches_the_command(name: str) -> None:
    """The summary `--help` lists is the one the command itself would give."""
    assert isinstance(cli, LazyGroup)
    command = cli.load(name)
    assert command.name == name
    for limit in (45, 80, 85, 200):
        summary = click.Command(name, help=COMMANDS[name].summary).get_short_help_str(limit)
        assert summary == command.get_short_help_str(limit)


def test_help_is_the_same_before_and_after_every_command_is_loaded() -> None:
    """Listing from the table gives exactly the text click gives from the loaded commands."""
    fresh = LazyGroup("rgsync", lazy_commands=COMMANDS)
    before = CliRunner().invoke(fresh, ["--help"]).output
    fresh.load_all()
    assert set(fresh.commands) == set(COMMANDS)
    after = CliRunner().invoke(fresh, ["--help"]).output
    assert before == after
    assert "Commands:" in before


def test_unknown_command_is_a_usage_error() -> None:
    """SPEC §8: a mistyped command name is reported as usage, not as a failed import."""
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command 'no-such-command'" in result.output


def test_a_command_added_at_runtime_is_listed_and_run() -> None:
    """Commands added with `add_command` still work alongside the lazy table."""
    group = LazyGroup("g", lazy_commands={})

    @click.command("hello")
    def hello() -> None:
        """Say hello."""
        click.echo("hello")

    group.add_command(hello)
    assert "hello  Say hello." in CliRunner().invoke(group, ["--help"]).output
    assert CliRunner().invoke(group, ["hello"]).output == "hello\n"
