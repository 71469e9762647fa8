"""Every `rgsync …` command the documentation shows is one the CLI accepts (SPEC §8).

The README, `examples/crontab` and the systemd unit are what users copy into their shell, crontab
and unit files; a line the parser refuses means a cron job that never syncs. Each line is parsed by
the real click command tree (options, arguments and their types), without running the command.
"""

from __future__ import annotations

import re
import shlex
import warnings
from pathlib import Path

import click
import pytest

from rgsync.cli import cli

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CRONTAB = ROOT / "examples" / "crontab"
SYSTEMD = ROOT / "examples" / "systemd"

# The README's command table writes arguments as placeholders; give each a value of its type.
PLACEHOLDERS = {"ID": "12", "KEY": "history-days", "VALUE": "on", "VALUE…": "example.com", "…": ""}
PLACEHOLDERS["SHELL"] = "bash"  # `rgsync completion SHELL`
# A command starts with `rgsync` or a path to it (`%h/.local/bin/rgsync`).
_COMMAND = re.compile(r"^(?:\S*/)?(rgsync(?:\s.*)?)$")
# A crontab line: five schedule fields, then the command.
_CRON_SCHEDULE = re.compile(r"^(?:\S+\s+){5}")


def _command_in(line: str) -> str | None:
    """The `rgsync …` command a shell, crontab or ExecStart line runs, without a trailing comment."""
    line = line.split(" #", 1)[0].strip()
    if line.startswith(("*", "@")) or line[:1].isdigit():
        line = _CRON_SCHEDULE.sub("", line, count=1)
    for part in re.split(r"&&|;|\|", line):
        found = _COMMAND.match(part.split(" > ", 1)[0].strip())  # without an output redirection
        if found:
            return found.group(1).strip()
    return None


def readme_commands() -> list[tuple[str, bool]]:
    """(command, complete) for each `rgsync` command of README.md.

    Lines of code blocks are complete commands users paste; a command quoted in prose may name
    just the command (`rgsync settings set`), so its arguments may be missing.
    """
    found: list[tuple[str, bool]] = []
    in_code = False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            command = _command_in(line)
            if command:
                found.append((command, True))
            continue
        spans = [_command_in(span) for span in re.findall(r"`(rgsync\s[^`]*)`", line)]
        found += [(span, False) for span in spans if span]
    return list(dict.fromkeys(found))


def example_commands() -> list[str]:
    """The commands of examples/crontab (uncommented lines) and of every ExecStart= in the units."""
    found = []
    for line in CRONTAB.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            command = _command_in(line)
            assert command, f"crontab line without an rgsync command: {line!r}"
            found.append(command)
    for unit in sorted(SYSTEMD.iterdir()):
        for line in unit.read_text(encoding="utf-8").splitlines():
            if line.startswith("ExecStart="):
                command = _command_in(line.removeprefix("ExecStart="))
                assert command, f"{unit.name}: ExecStart= without an rgsync command"
                found.append(command)
    return found


def parse(command: str, *, complete: bool = True) -> None:
    """Parse an `rgsync …` line down to its leaf command, as `rgsync` would, running nothing."""
    args = [PLACEHOLDERS.get(word, word) for word in shlex.split(command)[1:]]
    args = [word for word in args if word]
    ctx = cli.make_context("rgsync", args)
    command_obj: click.Command = cli
    while isinstance(command_obj, click.Group):
        with warnings.catch_warnings():  # click 8.2 deprecates the name, not what it holds
            warnings.simplefilter("ignore", DeprecationWarning)
            rest = [*ctx.protected_args, *ctx.args]
        if not rest:
            break
        name, sub, rest = command_obj.resolve_command(ctx, rest)
        assert sub is not None and name is not None
        try:
            ctx = sub.make_context(name, rest, parent=ctx)
        except (click.MissingParameter, click.exceptions.NoArgsIsHelpError):
            # Prose may name a command without its arguments (`rgsync connect …`).
            if complete:
                raise
            return
        except click.BadParameter as exc:
            # A file the user supplies (`--client-secrets client.json`) cannot exist here; any
            # other bad value is a documentation error.
            if exc.param is None or not isinstance(exc.param.type, click.Path):
                raise
            return
        command_obj = sub


def test_spec_8_the_documentation_shows_commands_at_all() -> None:
    """The extraction finds what the test below checks (a broken regex must not pass silently)."""
    readme = readme_commands()
    assert ("rgsync run --quiet", True) in readme_commands()  # the crontab line in a code block
    assert len(readme) > 40
    assert example_commands().count("rgsync run --quiet") == 2


@pytest.mark.parametrize("command", example_commands())
def test_spec_8_cron_and_systemd_command_lines_parse(command: str) -> None:
    try:
        parse(command)
    except click.exceptions.Exit as done:  # --help / --version print and stop: accepted
        assert done.exit_code == 0


@pytest.mark.parametrize(("command", "complete"), readme_commands())
def test_spec_8_readme_command_lines_parse(command: str, complete: bool) -> None:
    try:
        parse(command, complete=complete)
    except click.exceptions.Exit as done:
        assert done.exit_code == 0


@pytest.mark.parametrize(
    "command",
    ["rgsync run --quiet", "rgsync run -q --json", "rgsync -q run", "rgsync save 18c2f0a9 --quiet"],
)
def test_spec_8_quiet_is_accepted_before_and_after_the_command(command: str) -> None:
    parse(command)


def test_spec_8_an_unknown_option_is_refused() -> None:
    """The parse is strict: an option the CLI does not have fails as it would for the user."""
    with pytest.raises(click.NoSuchOption):
        parse("rgsync run --silent")
