"""README.md stays true to the code: generated parts up to date, every command documented."""

from __future__ import annotations

from pathlib import Path

import click

from rgsync.cli import cli
from rgsync.docs import render

README = Path(__file__).resolve().parents[2] / "README.md"


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[str]:
    paths = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        if isinstance(command, click.Group):
            paths += command_paths(command, path)
        else:
            paths.append(" ".join(path))
    return paths


def test_generated_settings_table_matches_the_schema() -> None:
    text = README.read_text(encoding="utf-8")
    assert render(text) == text, "README is out of date: run `python -m rgsync.docs`"


def test_every_command_is_documented_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [path for path in command_paths(cli) if f"rgsync {path}" not in text]
    assert missing == []


def test_the_first_lines_give_the_demo_and_the_test_commands() -> None:
    head = "\n".join(README.read_text(encoding="utf-8").splitlines()[:8])
    assert "rgsync demo" in head
    assert "python -m pytest" in head
