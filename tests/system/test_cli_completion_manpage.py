"""`rgsync completion SHELL` and `rgsync manpage` (README "Install"): the scripts a shell needs and a
man page covering every command and option, all generated from the command tree itself."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from rgsync.cli import cli
from rgsync.cli.manpage import walk

ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}


def rgsync(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real entry point in its own process, as a shell would start it."""
    return subprocess.run(
        [sys.executable, "-m", "rgsync", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env or ENV,
        cwd=cwd,
    )


def command_tree() -> list[tuple[click.Command, click.Context]]:
    return list(walk(cli, click.Context(cli, info_name="rgsync")))


def test_completion_scripts_are_generated_for_each_shell_and_name_rgsync(tmp_path: Path) -> None:
    markers = {
        "bash": "complete -o nosort -F",
        "zsh": "compdef",
        "fish": "complete --no-files --command rgsync",
    }
    for shell, marker in markers.items():
        done = rgsync("completion", shell, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert marker in done.stdout and "_RGSYNC_COMPLETE" in done.stdout
        assert f"{shell}_complete" in done.stdout
    refused = rgsync("completion", "powershell", cwd=tmp_path)
    assert refused.returncode == 2 and "powershell" in refused.stderr


def test_completion_help_says_how_to_install_it() -> None:
    result = CliRunner().invoke(cli, ["completion", "--help"])
    assert result.exit_code == 0
    for place in (
        "~/.local/share/bash-completion/completions/rgsync",
        "~/.zshrc",
        "~/.config/fish/completions",
    ):
        assert place in result.output


def _complete(words: str, cword: int, tmp_path: Path) -> list[str]:
    done = rgsync(
        env={**ENV, "_RGSYNC_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    return [line.split(",", 1)[1] for line in done.stdout.splitlines()]


def test_bash_completion_completes_commands_subcommands_options_and_choices(tmp_path: Path) -> None:
    assert _complete("rgsync bl", 1, tmp_path) == ["blocklist"]
    assert _complete("rgsync blocklist ", 2, tmp_path) == ["add", "list", "remove"]
    assert "--dry-run" in _complete("rgsync run --", 2, tmp_path)
    assert _complete("rgsync completion ", 2, tmp_path) == ["bash", "zsh", "fish"]


@pytest.mark.parametrize(("shell", "cword"), [("zsh", "1"), ("fish", "iss")])
def test_zsh_and_fish_completion_complete_commands_with_their_help(
    shell: str, cword: str, tmp_path: Path
) -> None:
    """zsh and fish show each candidate's short help beside it; both go through the entry point."""
    done = rgsync(
        env={**ENV, "_RGSYNC_COMPLETE": f"{shell}_complete", "COMP_WORDS": "rgsync iss", "COMP_CWORD": cword},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    help_text = cli.commands["issues"].get_short_help_str()
    expected = ["plain", "issues", help_text] if shell == "zsh" else [f"plain,issues\t{help_text}"]
    assert done.stdout.splitlines() == expected


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_bash_script_itself_completes_in_bash(tmp_path: Path) -> None:
    script = tmp_path / "rgsync-completion.bash"
    script.write_text(rgsync("completion", "bash", cwd=tmp_path).stdout)
    # A tiny `rgsync` on PATH that is the real entry point of this interpreter.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    launcher = bin_dir / "rgsync"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m rgsync "$@"\n')
    launcher.chmod(0o755)
    program = (
        f"source {script}\n"
        "COMP_WORDS=(rgsync iss)\nCOMP_CWORD=1\n_rgsync_completion rgsync\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        capture_output=True,
        text=True,
        timeout=60,
        env={**ENV, "PATH": f"{bin_dir}{os.pathsep}{ENV.get('PATH', '')}"},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["issues"]


def test_the_man_page_names_every_command_and_option(tmp_path: Path) -> None:
    done = rgsync("manpage", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = done.stdout
    assert page.startswith(".TH RGSYNC 1")
    # roff writes "-" as "\-"; compare in the page's own spelling.
    missing = []
    tree = command_tree()
    assert len(tree) > 20
    for command, ctx in tree:
        if command is not cli and f".SS {ctx.command_path}" not in page:
            missing.append(ctx.command_path)
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                for name in param.opts + param.secondary_opts:
                    if name.replace("-", "\\-") not in page:
                        missing.append(f"{ctx.command_path} {name}")
    assert missing == []
    assert ".SS rgsync manpage" in page and ".SS rgsync completion" in page


@pytest.mark.skipif(shutil.which("groff") is None, reason="needs groff")
def test_groff_reads_the_man_page_without_warnings(tmp_path: Path) -> None:
    page = tmp_path / "rgsync.1"
    page.write_text(rgsync("manpage", cwd=tmp_path).stdout)
    done = subprocess.run(
        ["groff", "-man", "-Tutf8", "-ww", str(page)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stderr == ""
    text = re.sub(".\x08", "", done.stdout)  # the terminal's bold overstrikes
    assert "rgsync issues resolve" in text.replace("\u2010", "-") and "EXIT STATUS" in text
